"""Memorization in bits (Morris et al. 2025, §1 and §3 of shared/REFERENCE.md).

Convention: a sequence of S tokens is coded with a BOS token in front, so all S tokens are
predicted and its code length is sum_t -log2 p(x_t | x_<t). A uniform random sequence carries
exactly S*log2(V) bits; what a model saves below that is what it has memorized about it.
"""
from __future__ import annotations

import math

import torch

LN2 = math.log(2)


def to_bits(nats):
    return nats / LN2


def memorized_bits(code_bits, seq_len: int, vocab_size: int):
    """Per-sequence memorized bits of uniform random data: max(0, S*log2(V) - code length)."""
    return (seq_len * math.log2(vocab_size) - code_bits).clamp_min(0)


def unintended_bits(code_bits, ref_code_bits):
    """Per-sequence unintended memorization: max(0, code length under a reference - under the model)."""
    return (ref_code_bits - code_bits).clamp_min(0)


def total_memorized(stack) -> torch.Tensor:
    """Each model's total memorized bits on its own (random-token) training set, (K,)."""
    c = stack.cfg
    return torch.stack([memorized_bits(to_bits(n), c.seq_len, c.vocab_size).sum() for n in stack.own_nats()])


def capacity_monitor(stack) -> dict:
    """Engine monitor for random-token runs: the plateau is judged on total memorized bits."""
    mem = total_memorized(stack)
    return {"score": mem, "memorized_bits": mem}

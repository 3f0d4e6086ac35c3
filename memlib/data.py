"""Data specs: what each model trains on, as indices into a shared pool of examples.

A spec is a small config (so it is part of a run's hash) with `source()` (runs with equal
sources share one pool), `indices()` (this run's examples in that pool) and `load_pool(n)`
(the first n examples of the source as model inputs and targets).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from memlib.config import Config, check, check_number

BLOCK = 1024  # random data is generated in blocks of rows, so a dataset of N rows is a prefix of one of M > N


def random_tokens(vocab_size: int, seq_len: int, n: int, seed: int) -> torch.Tensor:
    """n sequences of seq_len uniform tokens in [0, vocab_size), (n, seq_len) int64.

    Row i depends only on (seed, i): smaller datasets are prefixes of larger ones, and the
    stream is the same on every platform (numpy's Philox bit generator).
    """
    blocks = [np.random.Generator(np.random.Philox(key=[seed, b])).integers(0, vocab_size, (BLOCK, seq_len))
              for b in range(-(-n // BLOCK))]
    return torch.from_numpy(np.concatenate(blocks)[:n] if blocks else np.zeros((0, seq_len), np.int64)).long()


def lm_pair(seqs: torch.Tensor, bos: int):
    """Inputs and targets for next-token training with a BOS token, so all S tokens are coded."""
    x = torch.cat([torch.full_like(seqs[:, :1], bos), seqs[:, :-1]], dim=1)
    return x, seqs


@dataclass(frozen=True)
class RandomTokens(Config):
    """N sequences of S uniform random tokens: every bit a model stores about them is memorized."""

    vocab_size: int = 2048
    seq_len: int = 64
    n_seqs: int = 1024
    seed: int = 0  # data seed: datasets with equal (V, S, seed) are nested prefixes

    def validate(self):
        check_number(self.vocab_size, "vocab_size", 2, integer=True)
        check_number(self.seq_len, "seq_len", 1, integer=True)
        check_number(self.n_seqs, "n_seqs", 1, integer=True)
        check_number(self.seed, "seed", 0, integer=True)

    def check_model(self, model):
        check(getattr(model, "vocab_size", None) == self.vocab_size, "vocab_size",
              getattr(model, "vocab_size", None), f"the data's vocab_size {self.vocab_size}")
        check(self.seq_len <= getattr(model, "seq_len", 0), "seq_len", self.seq_len,
              f"<= the model's context length {getattr(model, 'seq_len', None)}")

    def source(self):
        return ("random_tokens", self.vocab_size, self.seq_len, self.seed)

    def indices(self):
        return torch.arange(self.n_seqs)

    def load_pool(self, n: int):
        return lm_pair(random_tokens(self.vocab_size, self.seq_len, n, self.seed), bos=self.vocab_size)

"""Greedy decoding, for extraction (Carlini et al.: a suffix is extractable when greedy decoding
from its prefix reproduces it exactly).

Decoding recomputes the whole (short) context at each new token instead of keeping a KV cache:
memlib's contexts are at most a few dozen tokens, so this costs at most `n_new` forwards of the
full context, and it reuses the training forward unchanged (no second code path to keep equal).
"""
from __future__ import annotations

import torch

from memlib import models


def _logits_fn(model):
    """x -> logits (..., T, V) for a Stack (x: (K, N, T)) or a GPT module (x: (N, T)), and its vocab size."""
    from memlib.engine import Stack

    if isinstance(model, Stack):
        if not isinstance(model.cfg, models.GPTConfig):
            raise TypeError(f"generate_greedy needs a stack of GPTs, got {type(model.cfg).__name__}")
        p = {k: v.detach().float() for k, v in model.p.items()}  # what the stored parameters encode
        return (lambda x: model.forward(p, x)), model.cfg
    if isinstance(model, models.GPT):
        return model, model.c
    raise TypeError(f"generate_greedy needs a memlib Stack of GPTs or a models.GPT, got {type(model).__name__}")


@torch.no_grad()
def generate_greedy(model, prefixes: torch.Tensor, n_new: int, bos: bool = True, chunk: int = 4096) -> torch.Tensor:
    """The `n_new` tokens greedy decoding appends to each prefix.

    model: a `memlib.engine.Stack` of GPTs (prefixes (K, N, P): N prefixes per model) or a
    `models.GPT` (prefixes (N, P)). Prefixes hold data tokens; with `bos=True` the BOS token
    (id vocab_size) is put in front, as in training (`memlib.data.lm_pair`). Ties go to the lowest
    token id (torch.argmax). Returns int64 tokens of shape prefixes.shape[:-1] + (n_new,).
    """
    fn, cfg = _logits_fn(model)
    if not isinstance(n_new, int) or n_new < 0:
        raise ValueError(f"n_new = {n_new!r}: use an integer >= 0")
    stacked = not isinstance(model, models.GPT)
    if prefixes.dim() != (3 if stacked else 2):
        raise ValueError(f"prefixes has shape {tuple(prefixes.shape)}: use (K, N, P) for a Stack, (N, P) for a GPT")
    length = prefixes.shape[-1] + int(bos) + n_new - 1  # the last new token is never fed back in
    if length > cfg.seq_len:
        raise ValueError(f"prefix length {prefixes.shape[-1]} + n_new {n_new} (+1 BOS) exceeds the model's context "
                         f"seq_len = {cfg.seq_len}: shorten the prefix or n_new")
    if prefixes.numel() and (prefixes.min() < 0 or prefixes.max() >= cfg.vocab_size):
        raise ValueError(f"prefixes hold ids outside [0, {cfg.vocab_size}): use data tokens (BOS is added by bos=True)")
    device = next(iter(model.p.values())).device if stacked else next(model.parameters()).device
    x = prefixes.to(device).long()
    if bos:
        x = torch.cat([torch.full_like(x[..., :1], cfg.vocab_size), x], dim=-1)
    outs = []
    for xc in x.split(chunk, dim=-2):  # bound memory: chunks of prefixes
        new = []
        for _ in range(n_new):
            nxt = fn(xc)[..., -1, :].argmax(-1)  # (..., N)
            new.append(nxt)
            xc = torch.cat([xc, nxt.unsqueeze(-1)], dim=-1)
        outs.append(torch.stack(new, -1) if new else xc[..., :0])
    return torch.cat(outs, dim=-2)

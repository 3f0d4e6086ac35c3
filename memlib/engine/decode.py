"""Decoding for stacked GPTs: batched greedy and sampled generation with a KV cache, for extraction
(Carlini et al.: a suffix is extractable when greedy decoding from its prefix reproduces it exactly)
and generate-and-rank attacks.

`generate` runs the prompt through the model once, keeping every layer's keys and values, then
feeds one new token per step (`models.gpt_stacked` with a cache). `generate_greedy` recomputes the
whole context for every new token; it is kept as the reference that `generate` is tested against
token for token, and as the baseline of `benchmarks/decode_throughput.py`.
"""
from __future__ import annotations

import torch

from memlib import models
from memlib.engine.stack import Stack


def _stacked(model):
    """(fp32 stacked parameters, config, stacked?) of a Stack of GPTs or a single models.GPT module."""
    if isinstance(model, Stack):
        if not isinstance(model.cfg, models.GPTConfig):
            raise TypeError(f"decoding needs a stack of GPTs, got {type(model.cfg).__name__}")
        return {k: v.detach().float() for k, v in model.p.items()}, model.cfg, True  # what the stored parameters encode
    if isinstance(model, models.GPT):
        return {k: v.detach().float().unsqueeze(0) for k, v in model.state_dict().items()}, model.c, False
    raise TypeError(f"decoding needs a memlib Stack of GPTs or a models.GPT, got {type(model).__name__}")


def _prepare(model, prefixes, n_new, bos):
    """Checked prompts (K, N, P') with BOS in front if asked, parameters and config."""
    p, cfg, stacked = _stacked(model)
    if not isinstance(n_new, int) or n_new < 0:
        raise ValueError(f"n_new = {n_new!r}: use an integer >= 0")
    if prefixes.dim() != (3 if stacked else 2):
        raise ValueError(f"prefixes has shape {tuple(prefixes.shape)}: use (K, N, P) for a Stack, (N, P) for a GPT")
    length = prefixes.shape[-1] + int(bos) + n_new - 1  # the last new token is never fed back in
    if length > cfg.seq_len:
        raise ValueError(f"prefix length {prefixes.shape[-1]} + n_new {n_new} (+1 BOS) exceeds the model's context "
                         f"seq_len = {cfg.seq_len}: shorten the prefix or n_new")
    if prefixes.numel() and (prefixes.min() < 0 or prefixes.max() >= cfg.vocab_size):
        raise ValueError(f"prefixes hold ids outside [0, {cfg.vocab_size}): use data tokens (BOS is added by bos=True)")
    if prefixes.shape[-1] + int(bos) == 0:
        raise ValueError("an empty prompt: give prefix tokens or bos=True")
    x = prefixes.to(next(iter(p.values())).device).long()
    if not stacked:
        x = x.unsqueeze(0)
    if bos:
        x = torch.cat([x.new_full(x.shape[:-1] + (1,), cfg.vocab_size), x], dim=-1)
    return x, p, cfg, stacked


def _pick(logits, temperature, top_k, generator):
    """Next tokens from last-position logits (..., V): argmax (ties to the lowest id) or a sample."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k:
        kth = logits.topk(min(top_k, logits.shape[-1]), -1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, -1)
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat.cpu(), 1, generator=generator).view(probs.shape[:-1]).to(logits.device)


@torch.no_grad()
def generate(model, prefixes: torch.Tensor, n_new: int, bos: bool = True, temperature: float = 0.0, top_k: int = 0,
             generator: torch.Generator | None = None, chunk: int = 4096) -> torch.Tensor:
    """The `n_new` tokens each model appends to each prefix, decoding with a KV cache.

    model: a `memlib.engine.Stack` of GPTs (prefixes (K, N, P): N prefixes per model) or a
    `models.GPT` (prefixes (N, P)). Prefixes hold data tokens; with `bos=True` the BOS token
    (id vocab_size) is put in front, as in training. temperature 0: greedy (ties to the lowest id);
    else sampling from softmax(logits / temperature), restricted to the top_k tokens if top_k > 0,
    drawn from `generator` (a CPU torch.Generator; reproducible). Returns int64 tokens of shape
    prefixes.shape[:-1] + (n_new,).
    """
    if temperature < 0 or top_k < 0:
        raise ValueError(f"temperature = {temperature}, top_k = {top_k}: use temperature >= 0 (0: greedy), top_k >= 0")
    x, p, cfg, stacked = _prepare(model, prefixes, n_new, bos)
    outs = []
    for xc in x.split(chunk, dim=1):  # bound memory: chunks of prefixes
        cache, new = [], []
        logits = models.gpt_stacked(cfg, p, xc, cache, 0)[..., -1, :]  # the prompt, once
        pos = xc.shape[-1]
        for t in range(n_new):
            nxt = _pick(logits, temperature, top_k, generator)  # (K, N)
            new.append(nxt)
            if t + 1 < n_new:
                logits = models.gpt_stacked(cfg, p, nxt.unsqueeze(-1), cache, pos)[..., -1, :]
                pos += 1
        outs.append(torch.stack(new, -1) if new else xc[..., :0])
    out = torch.cat(outs, dim=1)
    return out if stacked else out[0]


@torch.no_grad()
def generate_greedy(model, prefixes: torch.Tensor, n_new: int, bos: bool = True, chunk: int = 4096) -> torch.Tensor:
    """Greedy decoding without a cache: the whole context is run again for every new token (the reference
    for `generate`; same arguments and result)."""
    x, p, cfg, stacked = _prepare(model, prefixes, n_new, bos)
    outs = []
    for xc in x.split(chunk, dim=1):
        new = []
        for _ in range(n_new):
            nxt = models.gpt_stacked(cfg, p, xc)[..., -1, :].argmax(-1)  # (K, N)
            new.append(nxt)
            xc = torch.cat([xc, nxt.unsqueeze(-1)], dim=-1)
        outs.append(torch.stack(new, -1) if new else xc[..., :0])
    out = torch.cat(outs, dim=1)
    return out if stacked else out[0]

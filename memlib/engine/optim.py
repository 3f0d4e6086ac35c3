"""The optimizer step: AdamW on stacked (K, ...) parameters with per-model learning rates, gradient
clipping, bf16 rounding, weight masks, and the torch.compile'd whole step.

torch.compile of the whole training step (forward, backward, AdamW) for models with a hand-written
stacked forward: "auto" compiles on CUDA only (1.2-2.5x faster steps on an H100). On the 2-core CPU
a compile costs 23-57 s per shape and stack size and saved 46% of a step at 1x8 but nothing at 1x16
or larger (benchmarks/RESULTS.md), so it is off there: MEMLIB_COMPILE=on|off|auto, or
Stack(..., compile=True/False). Compiled steps equal eager ones up to float rounding; eager (the
CPU default) keeps runs bit-reproducible across resumes. Runs with another objective than nll, or
with a mask, train eagerly.
"""
from __future__ import annotations

import functools
import os

import torch

from memlib import models
from memlib.config import check
from memlib.engine.runs import TrainConfig

COMPILE = os.environ.get("MEMLIB_COMPILE", "auto")


def clip_scale(grads, tc: TrainConfig, K: int):
    """Per-model factor (K,) that clips each model's global gradient norm to tc.grad_clip, or None."""
    if not tc.grad_clip:
        return None
    # each model's squares summed on their own (a (1, N) row-sum of a lone model may be split across threads
    # where the rows of a (K, N) one are not)
    norm = sum(torch.stack([gk.float().pow(2).sum() for gk in g]) for g in grads).sqrt()
    return (tc.grad_clip / (norm + 1e-6)).clamp(max=1.0)


def round_bf16(p, rounded):
    """p (K, ...) with the models marked in `rounded` (K,) rounded to bf16 values (None: unchanged)."""
    if rounded is None:
        return p
    return torch.where(rounded.view((p.shape[0],) + (1,) * (p.dim() - 1)), p.to(torch.bfloat16).to(p.dtype), p)


def bias_corrections(betas, steps: list[int]):
    """AdamW's (1 - b1^t, 1 - b2^t) for each model's optimizer step t: floats when all models are at the
    same step (the common case, and the arithmetic of every stored run), else (K,) tensors."""
    b1, b2 = betas
    if len(set(steps)) == 1:
        return 1 - b1 ** steps[0], 1 - b2 ** steps[0]
    return (torch.tensor([1 - b1**t for t in steps]), torch.tensor([1 - b2**t for t in steps]))


def adamw_update(p, g, m, v, lr, scale, bc1, bc2, decay: bool, tc: TrainConfig, rounded, mask=None):
    """AdamW for one stacked parameter (K, ...) with per-model lr (K,): returns new (p, m, v).

    The one update both the eager step and the compiled step use; bc1, bc2 are the bias corrections
    (numbers, or (K,) tensors). The result is stored in p's dtype (bf16 on CUDA rounds here);
    `rounded` (K,) marks the models whose bf16 values are emulated inside fp32 tensors (on CPU), or
    is None; `mask` (K, ...) zeroes pruned weights after the update.
    """
    (b1, b2), shape = tc.betas, (p.shape[0],) + (1,) * (p.dim() - 1)
    if isinstance(bc1, torch.Tensor) and bc1.dim() == 1:
        bc1, bc2 = bc1.to(p.device).view(shape), bc2.to(p.device).view(shape)
    g = g.float() if scale is None else g.float() * scale.view(shape)
    # plain multiplies and adds, each rounded once: lerp and addcmul round differently in their vectorized and
    # scalar (tail) loops, so a model's update would depend on where its values fall in the stacked tensor
    m = m * b1 + g * (1 - b1)
    v = v * b2 + (g * g) * (1 - b2)
    upd = (m / bc1) / ((v / bc2).sqrt() + tc.eps)
    lr_k, p32 = lr.view(shape), p.float()
    if decay and tc.weight_decay:
        p32 = p32 * (1 - lr_k * tc.weight_decay)
    new = p32 - lr_k * upd
    if mask is not None:
        new = new * mask
    return round_bf16(new, rounded).to(p.dtype), m, v


def step_math(forward, example_nats, tokens, tc, decay, p, m, v, x, y, w, lr, bc1, bc2, rounded):
    """One nll training step as a pure function (the one torch.compile fuses): the loss of
    `Stack.train_step`, its gradient, and `adamw_update`; returns new (p, m, v) and the loss."""
    def total(p):
        ex = example_nats(forward(p, x), y)  # (K, B)
        loss = (ex * w).sum(1) / (w.abs().sum(1).clamp_min(1) * tokens)
        return loss.sum(), loss
    g, loss = torch.func.grad(total, has_aux=True)(p)
    scale = clip_scale(g.values(), tc, lr.shape[0])
    P, M, V = {}, {}, {}
    for k in p:
        P[k], M[k], V[k] = adamw_update(p[k], g[k], m[k], v[k], lr, scale, bc1, bc2, decay[k], tc, rounded)
    return P, M, V, loss


def compiled_step(stack, mode):
    """The torch.compile'd step for `stack`, or None (eager): see COMPILE."""
    check(mode in ("auto", "on", "off", True, False), "compile", mode, "'auto', 'on', 'off', True or False")
    on = stack.device.type == "cuda" if mode == "auto" else mode in ("on", True)
    fwd = models.STACKED.get(type(stack.cfg))
    if not on or fwd is None or any(o.name != "nll" for o in stack.objectives) or stack.masks is not None:
        return None
    dyn = torch._dynamo.config  # a stack recompiles when its size K changes; allow one compile per shape and K
    limit = "recompile_limit" if hasattr(dyn, "recompile_limit") else "cache_size_limit"
    setattr(dyn, limit, max(getattr(dyn, limit), 64))
    tokens = models.TOKENS_PER_EXAMPLE.get(type(stack.cfg), lambda c: 1)(stack.cfg)
    return torch.compile(functools.partial(step_math, functools.partial(fwd, stack.cfg),
                                           models.EXAMPLE_NATS[type(stack.cfg)], tokens, stack.tc,
                                           dict(stack.decay)))

"""Per-example gradients of stacked models with `torch.func` (vmap over grad), for GraNd-style scores
(Paul et al. 2021): the norm of each training example's loss gradient, for every model at once.

The gradient of one example's loss (its code length in nats, per token for GPTs, as in training)
with respect to one model's parameters is taken with `torch.func.grad`; `vmap` maps it over the
examples of a chunk and over the K models of the stack. No Python loop over examples.
"""
from __future__ import annotations

import torch
from torch.func import functional_call, grad, vmap

from memlib import models


def per_example_grad_norms(stack, x: torch.Tensor, y: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """‖∇θ loss(x_i, y_i)‖₂ for every model of `stack` and every example: x (N, ...), y (N, ...) -> (K, N).

    Parameters are evaluated in fp32; the loss is the training loss's per-example term.
    """
    cfg = stack.cfg
    tokens = models.TOKENS_PER_EXAMPLE.get(type(cfg), lambda c: 1)(cfg)
    nats = models.EXAMPLE_NATS[type(cfg)]
    base = stack.base  # the module, on the meta device: functional_call gives it one model's parameters

    def one(p, xi, yi):  # one model, one example -> scalar loss
        out = functional_call(base, p, (xi.unsqueeze(0),))
        return nats(out, yi.unsqueeze(0)).sum() / tokens

    def norms(p, xs, ys):  # one model, a chunk of examples -> (B,)
        g = vmap(grad(one), in_dims=(None, 0, 0))(p, xs, ys)
        return torch.sqrt(sum(v.float().pow(2).flatten(1).sum(1) for v in g.values()))

    p = {k: v.detach().float() for k, v in stack.p.items()}
    K, out = len(stack.runs), []
    for xb, yb in zip(x.split(chunk), y.split(chunk)):
        xb, yb = xb.to(stack.device), yb.to(stack.device)
        out.append(vmap(norms, in_dims=(0, None, None))(p, xb, yb))  # (K, B)
    return torch.cat(out, 1) if out else torch.zeros(K, 0)


"""Training objectives: one function each, over per-example code lengths of a stacked batch.

Each objective gets `Terms` for the batch of the run's own (retain) examples and, for unlearning
objectives, for a batch of its forget set, and returns one loss per model, (K,). A new objective
is one decorated function here; a run picks it with `Run(objective=Objective(name=...))`.

- `nll`: mean negative log-likelihood (next-token cross-entropy per token for GPTs, class
  cross-entropy for classifiers; the model type decides, see `models.EXAMPLE_NATS`);
- `ascent`: gradient ascent on the forget set (maximise its nll);
- `graddiff`: gradient difference, descent on the retain set and ascent on the forget set;
- `npo`: negative preference optimisation (Zhang et al. 2024) on the forget set against the
  starting model, plus `retain_weight` x nll on the retain set.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Terms:
    nats: torch.Tensor  # (K, B) per-example code length (summed over tokens)
    w: torch.Tensor  # (K, B) example weights (0 for padding)
    tokens: int  # tokens per example (1 for classifiers): losses are per token
    ref: torch.Tensor | None = None  # (K, B) nats under the starting model (npo)

    def mean(self) -> torch.Tensor:
        """Weighted mean nll per token, (K,)."""
        return (self.nats * self.w).sum(1) / (self.w.abs().sum(1).clamp_min(1) * self.tokens)


@dataclass(frozen=True)
class ObjectiveFn:
    fn: object
    needs_forget: bool = False  # draws a batch of the forget set each step
    uses_retain: bool = True  # needs the batch of the run's own examples
    needs_ref: bool = False  # needs the forget examples' nats under the starting model


OBJECTIVES: dict[str, ObjectiveFn] = {}


def objective(name, **kw):
    def register(fn):
        OBJECTIVES[name] = ObjectiveFn(fn, **kw)
        return fn
    return register


@objective("nll")
def nll(train: Terms, forget, o) -> torch.Tensor:
    return train.mean()


@objective("ascent", needs_forget=True, uses_retain=False)
def ascent(train, forget: Terms, o) -> torch.Tensor:
    return -forget.mean()


@objective("graddiff", needs_forget=True)
def graddiff(train: Terms, forget: Terms, o) -> torch.Tensor:
    return o.retain_weight * train.mean() - forget.mean()


@objective("npo", needs_forget=True, needs_ref=True)
def npo(train: Terms, forget: Terms, o) -> torch.Tensor:
    """(2/β) E softplus(β (log π_θ(x) - log π_ref(x))) over the forget set, log-probabilities of whole
    examples (sequences); plus retain_weight x nll of the retain batch."""
    logratio = forget.ref - forget.nats  # log π_θ - log π_ref = nats_ref - nats_θ
    f = (F.softplus(o.beta * logratio) * forget.w).sum(1) / forget.w.sum(1).clamp_min(1) * (2 / o.beta)
    return f + (o.retain_weight * train.mean() if o.retain_weight else 0.0)

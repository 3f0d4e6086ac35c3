"""Per-example scores of training data: how hard an example is, and how much it is memorized
(`../shared/REFERENCE.md` §6).

- EL2N (Paul et al. 2021): ‖softmax(f(x)) − onehot(y)‖₂ early in training, averaged over initializations.
- GraNd (Paul et al. 2021): ‖∇θ loss(x, y)‖₂ early in training, averaged over initializations; the
  per-example gradients come from `memlib.engine.per_example_grad_norms` (torch.func, no loop over examples).
- Memorization (Feldman & Zhang 2020): mem(i) = P(correct on i | i in train) − P(correct on i | i held out),
  estimated from many models each trained on a random subset, with its standard error and, per example,
  how many models held it in and out.

Plus what the data-diet notebook does with scores: which examples to keep (highest, lowest, random,
after dropping the top `offset`), how well a score finds mislabeled examples (AUROC), and rank
correlations between scores (`memlib.stats.spearman_ci`). Arrays are numpy; runs × examples.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from memlib.config import check, check_number
from memlib.engine import per_example_grad_norms

KEEPS = ("highest", "random", "lowest")


def el2n(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """EL2N per example, averaged over models: logits (R, N, C), labels (N,) -> (N,)."""
    logits = np.asarray(logits, np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)  # (R, N, C)
    p[..., np.arange(len(y)), y] -= 1.0  # softmax - onehot(y)
    return np.linalg.norm(p, axis=-1).mean(0)


def grand(stack, x: torch.Tensor, y: torch.Tensor, chunk: int = 64) -> np.ndarray:
    """GraNd per example, averaged over the models of `stack`: x (N, ...), y (N,) -> (N,).

    `chunk` bounds memory: per-example gradients of chunk examples for every model exist at once.
    """
    return per_example_grad_norms(stack, x, y, chunk=chunk).mean(0).cpu().numpy()


def held_in(runs, positions: np.ndarray) -> np.ndarray:
    """Which of `positions` (pool positions) each run trained on, (R, N) bool (from its Subset)."""
    out = np.zeros((len(runs), len(positions)), bool)
    for k, r in enumerate(runs):
        out[k] = np.isin(positions, r.examples().numpy())
    return out


def memorization(correct: np.ndarray, inside: np.ndarray) -> dict:
    """Feldman-Zhang memorization per example from R subset models.

    Args:
        correct: (R, N) whether model r classifies example n correctly (as labelled in training).
        inside: (R, N) whether example n was in model r's training subset.
    Returns:
        dict of (N,) arrays: mem, se (the plug-in standard error of the difference of two proportions,
        sqrt(p_in(1-p_in)/n_in + p_out(1-p_out)/n_out); 0 where both proportions are 0 or 1), n_in, n_out,
        p_in, p_out. Examples never held out (or never held in) get NaN.
    """
    correct, inside = np.asarray(correct, bool), np.asarray(inside, bool)
    check(correct.shape == inside.shape and correct.ndim == 2, "correct/inside", (correct.shape, inside.shape),
          "two (models, examples) arrays of one shape")
    n_in, n_out = inside.sum(0), (~inside).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_in = (correct & inside).sum(0) / n_in
        p_out = (correct & ~inside).sum(0) / n_out
        se = np.sqrt(p_in * (1 - p_in) / n_in + p_out * (1 - p_out) / n_out)
    return {"mem": p_in - p_out, "se": se, "n_in": n_in, "n_out": n_out, "p_in": p_in, "p_out": p_out}


def select(score: np.ndarray, keep: str, frac: float, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    """Which examples to keep (indices into `score`, sorted): the `frac` with the highest or lowest score,
    or a random `frac` (chosen by `seed`). With `offset`, the top `offset` fraction is dropped first and
    the highest-scoring `frac` of all examples is taken from what follows (Paul et al.'s offset)."""
    check(keep in KEEPS, "keep", keep, f"one of {KEEPS}")
    check_number(frac, "frac", 0, 1, lo_open=True)
    check_number(offset, "offset", 0, 1)
    check(offset == 0 or keep == "highest", "offset", offset, "0 unless keep='highest'")
    n = len(score)
    m, skip = max(1, int(round(frac * n))), int(round(offset * n))
    check(skip + m <= n, "offset", offset, f"at most 1 - frac = {1 - frac:g} (it drops the top offset, then keeps frac)")
    if keep == "random":
        order = np.random.Generator(np.random.Philox(key=[seed, 41])).permutation(n)
    else:
        order = np.argsort(-score if keep == "highest" else score, kind="stable")
    return np.sort(order[skip:skip + m])


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of `score` for finding the `positive` examples (0.5: chance)."""
    positive = np.asarray(positive, bool)
    check(positive.any() and (~positive).any(), "positive", int(positive.sum()), "both positive and negative examples")
    return float(roc_auc_score(positive, score))

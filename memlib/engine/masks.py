"""Weight masks (pruning): which weights a run holds at zero, from global magnitude ranking.

`magnitude_mask` ranks the prunable weights of one model across all prunable tensors at once
(global magnitude pruning, as in the lottery-ticket and pruning-as-regularizer papers) and zeroes
the smallest `sparsity` fraction. Weights already zero (pruned in an earlier round) are the
smallest, so iterating with rising sparsity keeps earlier rounds' zeros (iterative pruning).
"""
from __future__ import annotations

import torch

from memlib.engine.runs import Mask


def prunable(name: str, shape, exclude=("wte.", "wpe.")) -> bool:
    """Weights of linear and conv layers (>= 2 dims), not biases, norms or the excluded prefixes."""
    return name.endswith("weight") and len(shape) >= 2 and not name.startswith(tuple(exclude))


def magnitude_mask(weights: dict, sparsity: float, exclude=("wte.", "wpe.")) -> dict:
    """{name: 0/1 float tensor} for one model's weights: the `sparsity` fraction of the prunable weights
    with the smallest |w| (over all prunable tensors together) get 0; other tensors are all ones."""
    names = [n for n, w in weights.items() if prunable(n, w.shape, exclude)]
    if not names:
        raise ValueError(f"no prunable weights among {sorted(weights)} (excluded prefixes {exclude})")
    flat = torch.cat([weights[n].detach().float().abs().flatten() for n in names])
    k = int(round(sparsity * flat.numel()))
    keep = torch.ones_like(flat, dtype=torch.bool)
    if k:
        keep[flat.argsort(stable=True)[:k]] = False  # ties (e.g. earlier zeros) broken by position
    out, i = {}, 0
    for n, w in weights.items():
        if n in names:
            out[n] = keep[i:i + w.numel()].view(w.shape).float()
            i += w.numel()
        else:
            out[n] = torch.ones(w.shape)
    return out


def sparsity_of(weights: dict, exclude=("wte.", "wpe.")) -> float:
    """Fraction of a model's prunable weights that are exactly zero."""
    ws = [w for n, w in weights.items() if prunable(n, w.shape, exclude)]
    return float(sum((w == 0).sum().item() for w in ws) / sum(w.numel() for w in ws))


def mask_for(spec: Mask, store) -> dict:
    """The mask a run's `Mask` spec names, from its source run's stored weights."""
    got = store.load(spec.run.run_id())
    if got is None:
        raise FileNotFoundError(f"the mask's source run {spec.run.run_id()} is not in the store {store.root}: "
                                "train it first (sweep() does so for the runs that need it)")
    return magnitude_mask(got[0], spec.sparsity, spec.exclude)

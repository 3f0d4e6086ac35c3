"""Words about notebook 02, grokking: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations

from memlib.report.base import fmt


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        tag = f"({m['scale']}, p={m['p']}, {100 * m['train_frac']:.0f}% of pairs, d_model={m['d_model']})"
        rows.append(f"| 02 grokking: step of 99% train / 99% test accuracy, per seed | {m['memorize_step']} / "
                    f"{m['generalize_step']} {tag} | test long after train (Power et al., Nanda et al.) |")
        rows.append(f"| 02 grokking without weight decay (same budget) | test 99% at {m['weight_decay_ablation']['generalize_step']} "
                    "(None: never) | much slower or absent |")
        t = m["transition"]
        rows.append(f"| 02 share of sweep models reaching 99% test, dataset bits / capacity < 1 vs ≥ 1 | "
                    f"{fmt(t['generalized_share_below_1'], '.2f')} vs {fmt(t['generalized_share_above_1'], '.2f')} "
                    f"(α = {m['alpha']:.2f}) | generalization sets in at ratio ≈ 1 (Morris et al.) |")
    return rows

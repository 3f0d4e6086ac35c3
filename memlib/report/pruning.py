"""Words about notebook 08, pruning: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations

from memlib.report.base import fmt


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        d = m["drop_5pt_sparsity"]
        rows.append(f"| 08 sparsity where accuracy drops 5 points, facts / in-context (one-shot; with recovery) ({m['scale']}) | "
                    f"{fmt(d['fact']['one-shot'], '.0%')} / {fmt(d['icl']['one-shot'], '.0%')}; "
                    f"{fmt(d['fact']['recovery'], '.0%')} / {fmt(d['icl']['recovery'], '.0%')} | ~30% / 60–70% (Jin et al. 2023) |")
        for rw in sorted({r["rewind"] for r in m["pruning_vs_dense"]}):
            rs = [r for r in m["pruning_vs_dense"] if r["rewind"] == rw]
            b = max(rs, key=lambda r: r["d_test_acc"])
            rows.append(f"| 08 {100 * m['noise']:.0f}% noisy labels, IMP (rewind {rw}) vs dense: best test-accuracy change, "
                        f"at sparsity; change in fitting the mislabeled there | {100 * b['d_test_acc']:+.1f} pts at "
                        f"{b['sparsity']:.0%}; {100 * b['d_train_acc_noisy']:+.1f} pts | moderate sparsity helps by not fitting "
                        "the noise (Jin et al. 2022) |")
    return rows

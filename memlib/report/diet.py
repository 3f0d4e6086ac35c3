"""Words about notebook 06, data diet: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations

from memlib.report.base import fmt


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    def mean(rows, **kw):
        v = [r["test_acc"] for r in rows if all(r[k] == x for k, x in kw.items())]
        return sum(v) / len(v) if v else None

    tag = f"({m['scale']}, {m['dataset']}, {m['n_train']:,} train, {m['model']['type'].upper()} {m['model']['n_params'] / 1e3:.0f}K params)"
    rows = []
    target = {"prune_curves": "highest-EL2N half of CIFAR-10 matches all data, lowest worst (Paul et al. 2021)",
              "prune_curves_noisy": "mislabeled examples score highest, so keeping the hardest suffers"}
    for key, label in (("prune_curves", "clean"), ("prune_curves_noisy", f"{100 * m['noise']:.0f}% relabelled")):
        pc = m[key]
        fracs = sorted({r["frac_kept"] for r in pc if r["keep"] != "all"})
        for score in sorted({r["score"] for r in pc} - {"random", "none"}):
            cells = [f"{100 * f:.0f}%: {fmt(mean(pc, score=score, keep='highest', frac_kept=f), '.3f')} / "
                     f"{fmt(mean(pc, keep='random', frac_kept=f), '.3f')} / "
                     f"{fmt(mean(pc, score=score, keep='lowest', frac_kept=f), '.3f')}" for f in fracs]
            rows.append(f"| 06 data diet ({label}): test accuracy keeping the highest / random / lowest by {score} "
                        f"| {'; '.join(cells)}; all: {fmt(mean(pc, keep='all'), '.3f')} {tag} | {target[key]} |")
    au = m["noise_detection_auroc"]
    rows.append(f"| 06 finding the {100 * m['noise']:.0f}% relabelled examples: AUROC of "
                + " / ".join(au) + " | " + " / ".join(f"{v:.3f}" for v in au.values())
                + " | relabelled examples score highest |")
    for key, label in (("offset", "clean"), ("offset_noisy", f"{100 * m['noise']:.0f}% relabelled")):
        off = m[key]
        rows.append(f"| 06 offset ({label}): keeping {100 * off[0]['frac_kept']:.0f}% by {off[0]['score']} after dropping "
                    "the top s | " + ", ".join(f"s={o:g}: {mean(off, offset=o):.3f}" for o in sorted({r['offset'] for r in off}))
                    + " | dropping the top few percent helps (Paul et al. 2021) |")
    mem = m["memorization"]
    iv = lambda k: f"{mem[k]:.2f} [{mem[k + '_interval'][0]:.2f}, {mem[k + '_interval'][1]:.2f}]"
    rows.append(f"| 06 memorization ({mem['n_models']} models on {100 * mem['frac']:.0f}% subsets): Spearman with "
                f"EL2N; with GraNd (95% bootstrap) | {iv('spearman_with_el2n')}; {iv('spearman_with_grand')} "
                "| memorized examples are the atypical and mislabeled ones (Feldman & Zhang 2020) |")
    return rows

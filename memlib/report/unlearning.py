"""Words about notebook 07, unlearning: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations



def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        best = {}
        for r in m["best_budget"]:
            if r["method"] not in ("original", "retrain"):
                k = r["forget_kind"]
                if k not in best or r["distance_to_retrained"] < best[k]["distance_to_retrained"]:
                    best[k] = r
        orig = {r["forget_kind"]: r for r in m["best_budget"] if r["method"] == "original"}
        rows.append("| 07 unlearning: distance to retrained (retrained seeds' spread = 1), best method at its best step budget, "
                    f"per forget set ({m['n_forget']} images; {m['scale']}) | "
                    + "; ".join(f"{k}: {b['method']} {b['distance_to_retrained']:.1f} (original {orig[k]['distance_to_retrained']:.1f})"
                                for k, b in sorted(best.items()))
                    + " | memorized outliers can be unlearned without hurting performance; in-distribution examples cannot (REFERENCE §7) |")
        rep = " / ".join(f"r={r['r']}: {r['before']:.1f}→{r['after']:.1f}" for r in m["repetition"])
        rows.append(f"| 07 canary exposure (bits) before → after unlearning, by repetitions r | {rep} | "
                    "more repeated examples are harder to unlearn |")
        d = m["difficulty"]
        scores = [k for k in ("mem", "el2n", "grand") if k in d]
        rows.append("| 07 unlearning effort vs score, Spearman ρ | "
                    + ", ".join(f"{k} {d[k]['rho']:.2f} [{d[k]['ci_low']:.2f}, {d[k]['ci_high']:.2f}]" for k in scores)
                    + " | harder examples are harder to unlearn |")
        o, rm = m["onion"]["unlearning"], m["onion"]["removal"]
        rows.append(f"| 07 onion: membership AUC of the next {m['onion']['k']} most vulnerable after removing the top "
                    f"{m['onion']['k']} (vs removing as many at random); after unlearning them ({o['method']}; vs a random set) | "
                    f"{rm['difference']:+.3f} [{rm['ci_low']:+.3f}, {rm['ci_high']:+.3f}]; {o['before']:.2f} → {o['after']:.2f} "
                    f"(random set: {o['control']:.2f}) | rises (Carlini et al. 2022) |")
    return rows

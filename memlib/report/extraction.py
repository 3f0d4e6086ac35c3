"""Words about notebook 04, extraction: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations



def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    tag = f"({m['scale']}, {m['dataset']}, V={m['vocab_size']}, S={m['seq_len']})"
    d = m["duplication_slope"]
    rows = [f"| 04 extraction: rate per doubling of repetitions ({d['n_params'] / 1e3:.1f}K params, k={d['k']}) | "
            f"{d['slope_per_doubling_of_r']:+.3f} (95% CI {d['ci_low']:+.3f} to {d['ci_high']:+.3f}) {tag} "
            "| log-linear growth with duplicates (Carlini et al. 2023) |"]
    big = max(c["n_params"] for c in m["convergence"])
    for cv in m["convergence"]:
        if cv["n_params"] == big and cv["k"] == d["k"]:
            rows.append(f"| 04 extraction, train − held-out rate ({big / 1e3:.1f}K params, k={cv['k']}) | "
                        f"{cv['gap_first']:+.2f} at n={cv['n_first']}, {cv['gap_last']:+.2f} at n={cv['n_last']} | "
                        "rates converge once the data outgrows capacity (Morris et al. 2025) |")
    ex = {round(e["r"]): e["exposure"] for e in m["exposure"]}
    rows.append(f"| 04 canary exposure by repetitions (bits, {m['canary_candidates']:,} candidates) | "
                + ", ".join(f"r={r}: {v:.1f}" for r, v in ex.items()) + " | rises with insertions (Carlini et al. 2019) |")
    g = m["generate_and_rank"]
    pr = g["precision_at_top_natural"]
    rows.append(f"| 04 generate-and-rank: precision of the top {g['top']} of {g['n_unique'] - g['n_canary_template']} "
                "distinct samples (canary template left out) | "
                + ", ".join(f"{k.replace('_', ' ')} {v['precision_rate']:.2f}" for k, v in pr.items())
                + " | zlib ratio among the best cheap rankings (Carlini et al. 2021) |")
    return rows

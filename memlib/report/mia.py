"""Words about notebook 05, the membership-inference scaling law: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations



def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        lin, pc = m["law_fit"]["linear"], m["paper_constants_check"]
        cells = {(r["n_params"], r["n_train"], r["seed"]) for r in m["grid"]}
        rows.append(f"| 05 MIA law F1 = ½(1 + c1·σ(c2·(x + c3))), x = capacity / dataset size, refit on {len(cells)} models "
                    f"({len(m['sizes'])} sizes × {len(m['n_trains'])} sets × {len(m['seeds'])} seeds, loss attack; {m['scale']}) | "
                    f"c1 {lin['c1']:.2f}, c2 {lin['c2']:.3f}, c3 {lin['c3']:.1f}; R² {lin['r2']:.3f}; leave-one-size-out RMSE "
                    f"{lin['out_of_sample']['leave_one_size_out_rmse']:.3f}; the printed constants give RMSE "
                    f"{pc['printed_constants_rmse_on_ours']:.2f} on ours, {pc['printed_constants_rmse_on_paper_table2']:.2f} on "
                    f"the paper's Table 2 | c1 {pc['printed_constants']['c1']}, c2 {pc['printed_constants']['c2']}, "
                    f"c3 {pc['printed_constants']['c3']} (printed) |")
        att = {a["attack"]: a for a in m["attacks"]}
        names = [a for a in ("loss", "reference", "zlib_ratio", "min_k", "lira", "blind_zlib") if a in att]
        rows.append(f"| 05 attacks, mean AUC over the grid ({', '.join(names)}; LiRA on one size, {m['lira']['refs']} "
                    f"reference models) | {' / '.join(format(att[a]['mean_auc'], '.2f') for a in names)} | "
                    "LiRA > loss threshold; a blind baseline ≈ 0.5 (Carlini et al. 2022) |")
        for e in m["extrapolation"]:
            if e["form"] == "linear" and e["alpha_source"] == "ours":
                rows.append(f"| 05 dataset size where F1 = 0.55, {e['n_params'] / 1e6:,.0f}M params (our linear refit, α = {e['alpha']:.2f}; "
                            f"extrapolated far beyond the grid) | {e['n_train_sequences'] / 1e6:,.0f}M sequences "
                            f"[{e['ci_low'] / 1e6:,.0f}M, {e['ci_high'] / 1e6:,.0f}M] | {e['paper_n_train'] / 1e6:,.1f}M |")
    return rows

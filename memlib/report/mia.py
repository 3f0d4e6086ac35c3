"""Words about notebook 05, the membership-inference scaling law: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
- `describe(m)`: what the notebook prints at its end, every attack, the law's fits, the paper's constants, the
  extrapolation; `training(m)`: the training time.
- `answer(m)`: the title cell's answer, beside Morris et al. (2025, §5.2).
- `law_table(fits)`, `predicted_vs_observed(m)`, `beside_paper(m)`: the notebook's tables.
"""
from __future__ import annotations

import math

import pandas as pd


def _f(v, spec: str = ".3g") -> str:
    """A number for a sentence; 'n/a' where the metrics hold none (a NaN, written as null)."""
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def _fmt_n(n) -> str:
    """A dataset size for a sentence, or why there is none."""
    return "never (the fit does not reach it)" if n is None or not math.isfinite(n) else f"{n:.3g}"


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


def describe(m: dict) -> str:
    """Plain-language reading of the measured numbers."""
    lines = [f"{m['scale']}: {m['dataset']}, V={m['vocab_size']}, S={m['seq_len']}; targets of {m['n_params']} params "
             f"on n = {m['n_trains']} sequences, seeds {m['seeds']}; α = {m['alpha_bits_per_param']:.2f} bits/param "
             f"from {m['alpha_source']}"]
    for a in m["attacks"]:
        beat = f", beats the blind baselines in {a['cells_beating_blind']} of {a['n_cells']} cells" \
            if "cells_beating_blind" in a else " (blind baseline: never queries the target)"
        lines.append(f"{a['attack']}: AUC {a['mean_auc']:.3f} on average (range {a['min_auc']:.3f}-{a['max_auc']:.3f}), "
                     f"TPR at 1% FPR {a['mean_tpr_at_1pct_fpr']:.3f}, at 0.1% {a['mean_tpr_at_0_1pct_fpr']:.3f}, "
                     f"F1 {a['mean_f1']:.3f}{beat}")
    for form, f in m["law_fit"].items():
        o = f["out_of_sample"]
        lines.append(f"law, x = {f['x']}: c1 = {_f(f['c1'])} ± {_f(f['se']['c1'], '.2g')}, c2 = {_f(f['c2'])} ± "
                     f"{_f(f['se']['c2'], '.2g')}, c3 = {_f(f['c3'])} ± {_f(f['se']['c3'], '.2g')}; R² {_f(f['r2'], '.3f')}, "
                     f"RMSE {_f(f['rmse'], '.3f')}; out of sample (leave one size out) RMSE "
                     f"{_f(o['leave_one_size_out_rmse'], '.3f')}, smaller sizes -> larger RMSE "
                     f"{_f(o['small_to_large']['rmse'], '.3f')}")
    p = m["paper_constants_check"]
    lines.append("the paper's printed constants give F1 " + ", ".join(f"{r['printed_constants_f1']:.2f}"
                                                                       for r in p["paper_table2"])
                 + " on its Table 2 rows (observed " + ", ".join(f"{r['observed_f1']:.2f}" for r in p["paper_table2"])
                 + f"; RMSE {p['printed_constants_rmse_on_paper_table2']:.3f}) and RMSE "
                 f"{p['printed_constants_rmse_on_ours']:.3f} on our grid")
    r = p["law_refit_to_paper_table2"]
    lines.append(f"the law refitted to Table 2's observed F1: c1 = {_f(r['c1'])}, c2 = {_f(r['c2'])}, "
                 f"c3 = {_f(r['c3'])} (RMSE {_f(r['rmse'], '.3f')})")
    for e in m["extrapolation"]:
        if e["alpha_source"] != "ours":
            continue
        lines.append(f"extrapolation ({e['form']} fit, α ours): F1 = {e['f1']} for {e['n_params']:.4g} params at "
                     f"|D| = {_fmt_n(e['n_train_sequences'])} sequences (95% CI {_fmt_n(e['ci_low'])} to "
                     f"{_fmt_n(e['ci_high'])}); the paper: {e['paper_n_train']:.4g}")
    return "\n".join(lines)


def training(m: dict) -> str:
    """The recorded training time of this notebook's own runs, and how many runs it reused."""
    tr = m["training"]
    return (f"training: {tr['n_runs_trained_here']} runs trained here in {tr['wall_s'] / 60:.1f} min, "
            f"{tr['n_runs_shared_with_03']} reused from notebook 03's store")


def _size(n) -> str:
    """A dataset size in millions of sequences for the answer, or that the fit never gets there."""
    return "no size (the fit never falls that far)" if n is None or not math.isfinite(n) else f"{n / 1e6:,.1f}M sequences"


def answer(m: dict) -> str:
    """The title cell's answer: does the law hold and predict unseen sizes, what the printed constants give, what
    stronger attacks add, and where the extrapolation lands, beside the paper's numbers."""
    lin, pc = m["law_fit"]["linear"], m["paper_constants_check"]
    at = {a["attack"]: a for a in m["attacks"]}
    most, least = (f(pc["ours"], key=lambda r: r["x"])["observed_f1"] for f in (max, min))
    last = m["lira_comparison"][-1]
    ext = {e["n_params"]: e for e in m["extrapolation"] if e["form"] == "linear" and e["alpha_source"] == "ours"}
    big, small = ext[max(ext)], ext[min(ext)]
    orders = [math.log10(e["n_params"] / max(m["n_params"])) for e in (small, big)]
    fits = "fits it" if (lin["r2"] or 0) >= 0.9 else "fits it only loosely"
    printed = "do not fit" if pc["printed_constants_rmse_on_ours"] > 0.1 else "fit"
    lira, loss = last.get("auc_lira"), last["auc_loss"]
    keeps = ("keeps more of the signal where the loss attack nears chance" if lira is not None and lira > loss
             else "does not beat the loss attack there")
    names = {"reference": "reference-calibrated", "zlib_ratio": "zlib ratio", "min_k": "Min-K%", "lira": "LiRA"}
    return "\n".join([
        f"**Answer ({m['scale']} run).** The loss attack's F1 is {most:.2f} at the most capacity per training sequence "
        f"and {least:.2f} at the least, and the paper's sigmoid in x = capacity / |D| {fits}: c1 = {_f(lin['c1'])}, "
        f"c2 = {_f(lin['c2'])}, c3 = {_f(lin['c3'])} (R² {_f(lin['r2'], '.3f')}); fitted without a model size, it "
        f"predicts that size's F1 with RMSE {_f(lin['out_of_sample']['leave_one_size_out_rmse'], '.3f')}.",
        "",
        f"- The paper's printed constants (c1 = {pc['printed_constants']['c1']}, c2 = {pc['printed_constants']['c2']}, "
        f"c3 = {pc['printed_constants']['c3']}) {printed} our grid (RMSE {pc['printed_constants_rmse_on_ours']:.2f}); "
        f"read literally they miss the paper's own Table 2 too (RMSE {pc['printed_constants_rmse_on_paper_table2']:.2f}), "
        "so the law's form is compared here, not its constants.",
        f"- Mean AUC over the grid: loss threshold {at['loss']['mean_auc']:.3f}, "
        + ", ".join(f"{names[a]} {at[a]['mean_auc']:.3f}" for a in names if a in at)
        + f" (LiRA on one model size); the blind baselines {at['blind_zlib']['mean_auc']:.3f} and "
        f"{at['blind_reference']['mean_auc']:.3f} (chance: 0.5). At the largest n = {last['n_train']}, LiRA's AUC is "
        f"{_f(lira, '.2f')} against the loss attack's {_f(loss, '.2f')}: the stronger attack {keeps}.",
        f"- Extrapolated {orders[0]:.0f} to {orders[1]:.0f} orders of magnitude beyond our largest model "
        f"({max(m['n_params']):,} parameters), the linear refit puts F1 = {big['f1']} at {_size(big['n_train_sequences'])} "
        f"for {big['n_params'] / 1e9:.3g}B parameters (the paper: {big['paper_n_train'] / 1e6:,.1f}M) and at "
        f"{_size(small['n_train_sequences'])} for {small['n_params'] / 1e6:,.1f}M (the paper: "
        f"{small['paper_n_train'] / 1e6:,.1f}M). Not like for like: our sequences are {m['seq_len']} tokens of a "
        f"{m['vocab_size']}-token vocabulary and α = {m['alpha_bits_per_param']:.2f} bits/param is ours: this is where "
        "the fit lands, not a prediction for GPT-2.",
    ])


def law_table(fits: dict) -> pd.DataFrame:
    """The law's constants per form, with bootstrap standard errors, R², RMSE and out-of-sample RMSEs."""
    return pd.DataFrame({form: {"c1": f["c1"], "c2": f["c2"], "c3": f["c3"], "se c1": f["se"]["c1"], "se c2": f["se"]["c2"],
                                "se c3": f["se"]["c3"], "R²": f["r2"], "RMSE": f["rmse"],
                                "RMSE, size left out": f["out_of_sample"]["leave_one_size_out_rmse"],
                                "RMSE, small -> large": f["out_of_sample"]["small_to_large"]["rmse"]}
                         for form, f in fits.items()})


def beside_paper(m: dict) -> pd.DataFrame:
    """The comparison table: the paper's statement or number (a target) beside ours (measured)."""
    p, f = m["paper_constants_check"], m["law_fit"]
    at = {a["attack"]: a for a in m["attacks"]}
    lin, lg = f["linear"], f["log10"]
    ext = {(e["form"], e["n_params"]): e for e in m["extrapolation"] if e["alpha_source"] == "ours"}
    rows = [
        ("loss-threshold F1 falls from ~1 to 0.5 as data per capacity grows",
         "sigmoid in capacity/|D| (Fig. 7)",
         f"F1 {max(r['observed_f1'] for r in p['ours']):.2f} at the most capacity per sequence, "
         f"{min(r['observed_f1'] for r in p['ours']):.2f} at the least"),
        ("law constants (c1, c2, c3), x = capacity/|D|", "1.34, -0.034, -33.14 (printed)",
         f"{_f(lin['c1'])} ± {_f(lin['se']['c1'], '.2g')}, {_f(lin['c2'])} ± {_f(lin['se']['c2'], '.2g')}, "
         f"{_f(lin['c3'])} ± {_f(lin['se']['c3'], '.2g')} (R² {_f(lin['r2'], '.2f')})"),
        ("alternative x = log10(capacity/|D|)", "—",
         f"{_f(lg['c1'])}, {_f(lg['c2'])}, {_f(lg['c3'])} (R² {_f(lg['r2'], '.2f')}); out of sample RMSE "
         f"{_f(lg['out_of_sample']['leave_one_size_out_rmse'], '.3f')} (log) vs "
         f"{_f(lin['out_of_sample']['leave_one_size_out_rmse'], '.3f')} (linear)"),
        ("printed constants on the paper's own Table 2", "predicted 0.55/0.75/0.95 per model",
         "gives " + "/".join(f"{r['printed_constants_f1']:.2f}" for r in p["paper_table2"][:3])
         + f" (RMSE vs observed {p['printed_constants_rmse_on_paper_table2']:.3f})"),
        ("printed constants on our grid", "—", f"RMSE {p['printed_constants_rmse_on_ours']:.3f}"),
        ("stronger attacks than the loss threshold", "LiRA, zlib, Min-K% (Carlini 2022, Shi 2023)",
         ", ".join(f"{a} AUC {at[a]['mean_auc']:.3f}" for a in at)),
    ]
    for (form, params), e in sorted(ext.items()):
        rows.append((f"|D| at F1 = {e['f1']} for {params:.4g} params ({form} fit)", f"{e['paper_n_train']:.4g}",
                     f"{_fmt_n(e['n_train_sequences'])} (95% CI {_fmt_n(e['ci_low'])} to {_fmt_n(e['ci_high'])})"))
    return pd.DataFrame(rows, columns=["claim or quantity", "paper (target)", "here (measured)"])


def predicted_vs_observed(m: dict, form: str = "linear") -> pd.DataFrame:
    """The paper's Table 2 format: params, |D|, predicted F1, observed F1 (theirs, then ours)."""
    p = m["paper_constants_check"]
    rows = [{"source": r["source"], "params": r["n_params"], "|D|": r["n_train"], "x": r["x"],
             "predicted (paper's column)": r["paper_predicted_f1"], "printed constants": r["printed_constants_f1"],
             f"our {form} fit": r[f"our_{form}_fit_f1"], "observed": r["observed_f1"]} for r in p["paper_table2"]]
    rows += [{"source": r["source"], "params": r["n_params"], "|D|": r["n_train"], "x": r["x"],
              "predicted (paper's column)": None, "printed constants": r["printed_constants_f1"],
              f"our {form} fit": r[f"our_{form}_fit_f1"],
              f"our {form} fit, this size left out": r[f"our_{form}_fit_f1_out_of_sample"],
              "observed": r["observed_f1"]} for r in p["ours"]]
    return pd.DataFrame(rows)

"""The README's results table, rendered from the metrics files the pipeline wrote.

`python -m memlib.report` rewrites the block between the RESULTS markers in README.md;
a test checks that the README holds exactly this rendering, so no number there is typed by hand.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from memlib import paths

BEGIN, END = "<!-- RESULTS:BEGIN (python -m memlib.report) -->", "<!-- RESULTS:END -->"


def _fmt(x, spec):
    return "—" if x is None else format(x, spec)


def _read(d: Path, name: str) -> dict | None:
    f = d / f"{name}.json"
    return json.loads(f.read_text()) if f.exists() else None


def _capacity(m: dict) -> list[str]:
    rows = []
    if m:
        tag = f"({m['scale']}, V={m['vocab_size']}, S={m['seq_len']})"
        rows.append(f"| 01 capacity, fp32 | α = {_fmt(m['bits_per_param_fp32'], '.2f')} bits/param, "
                    f"R² {_fmt(m['fit_r2_fp32'], '.3f')} {tag} | {m['paper']['bits_per_param_fp32']} (mean); "
                    f"{m['paper']['headline']} headline |")
        rows.append(f"| 01 capacity, bf16 | α = {_fmt(m['bits_per_param_bf16'], '.2f')} bits/param {tag} | "
                    f"{m['paper']['bits_per_param_bf16']} |")
        pp = m.get("paper_point")
        if pp:
            rows.append(f"| 01 paper's smallest model ({pp['n_params'] / 1e3:.0f}K params, V={pp['vocab_size']}, "
                        f"S={pp['seq_len']}) | {pp['capacity_bits'] / 1e3:.0f}K bits = {pp['bits_per_param']:.2f} bits/param "
                        f"in {pp['wall_s']:.0f} s" + (f" on {pp['device'].split(': ')[-1]}" if pp.get("device") else "")
                        + (f"; 2× longer: {100 * pp['longer']['relative_gain']:+.1f}%" if pp.get("longer") else "")
                        + ("" if pp["saturated"] else " (step budget reached before a plateau: a lower bound)")
                        + f" | {pp['paper_capacity_bits'] / 1e3:.0f}K bits = {pp['paper_bits_per_param']:.2f} bits/param |")
        ab = m.get("ablation")
        if ab:
            base = next(r for r in ab if r["setting"] == "base")
            moves = ", ".join(f"{r['setting']} {r['value']} {100 * (r['bits_per_param'] / base['bits_per_param'] - 1):+.0f}%"
                              for r in ab if r["setting"] != "base")
            rows.append(f"| 01 ablation at {base['n_params']:,} params (one training choice changed; vs base "
                        f"{base['bits_per_param']:.2f} bits/param) | {moves} | Adam, batch 2048, to saturation |")
    return rows


def _grokking(m: dict) -> list[str]:
    rows = []
    if m:
        tag = f"({m['scale']}, p={m['p']}, {100 * m['train_frac']:.0f}% of pairs, d_model={m['d_model']})"
        rows.append(f"| 02 grokking: step of 99% train / 99% test accuracy, per seed | {m['memorize_step']} / "
                    f"{m['generalize_step']} {tag} | test long after train (Power et al., Nanda et al.) |")
        rows.append(f"| 02 grokking without weight decay (same budget) | test 99% at {m['weight_decay_ablation']['generalize_step']} "
                    "(None: never) | much slower or absent |")
        t = m["transition"]
        rows.append(f"| 02 share of sweep models reaching 99% test, dataset bits / capacity < 1 vs ≥ 1 | "
                    f"{_fmt(t['generalized_share_below_1'], '.2f')} vs {_fmt(t['generalized_share_above_1'], '.2f')} "
                    f"(α = {m['alpha']:.2f}) | generalization sets in at ratio ≈ 1 (Morris et al.) |")
    return rows


def _text(m: dict) -> list[str]:
    rows = []
    if m:
        tag = f"({m['scale']}, {m['dataset']}, V={m['vocab_size']}, S={m['seq_len']})"
        rows.append(f"| 03 text: exact duplicate sequences removed from the pool | {m['duplicates_removed']} of "
                    f"{m['n_train_pool_sequences'] + m['duplicates_removed']} ({100 * m['duplicate_fraction']:.2f}%) {tag} "
                    "| 1–2% survive document-level dedup (FineWeb) |")
        for p in m["peaks"]:
            um = f"n={p['unintended_peak_n']} (ratio {p['unintended_peak_ratio']:.2f})" + (
                "" if p["unintended_rises_then_falls"] else ", at the grid's edge")
            tl = f"n={p['test_loss_peak_n']} (ratio {p['test_loss_peak_ratio']:.2f})" + (
                "" if p["test_loss_peak_interior"] else ", at the grid's edge")
            rows.append(f"| 03 text, {p['n_params'] / 1e3:.1f}K params: peak of unintended memorization; of held-out loss "
                        f"| {um}; {tl} | both where dataset bits ≈ capacity (ratio 1) |")
    return rows


def _extraction(m: dict) -> list[str]:
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


def _data_diet(m: dict) -> list[str]:
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
            cells = [f"{100 * f:.0f}%: {_fmt(mean(pc, score=score, keep='highest', frac_kept=f), '.3f')} / "
                     f"{_fmt(mean(pc, keep='random', frac_kept=f), '.3f')} / "
                     f"{_fmt(mean(pc, score=score, keep='lowest', frac_kept=f), '.3f')}" for f in fracs]
            rows.append(f"| 06 data diet ({label}): test accuracy keeping the highest / random / lowest by {score} "
                        f"| {'; '.join(cells)}; all: {_fmt(mean(pc, keep='all'), '.3f')} {tag} | {target[key]} |")
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


def _mia(m: dict) -> list[str]:
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


def _unlearning(m: dict) -> list[str]:
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


def _pruning(m: dict) -> list[str]:
    rows = []
    if m:
        d = m["drop_5pt_sparsity"]
        rows.append(f"| 08 sparsity where accuracy drops 5 points, facts / in-context (one-shot; with recovery) ({m['scale']}) | "
                    f"{_fmt(d['fact']['one-shot'], '.0%')} / {_fmt(d['icl']['one-shot'], '.0%')}; "
                    f"{_fmt(d['fact']['recovery'], '.0%')} / {_fmt(d['icl']['recovery'], '.0%')} | ~30% / 60–70% (Jin et al. 2023) |")
        for rw in sorted({r["rewind"] for r in m["pruning_vs_dense"]}):
            rs = [r for r in m["pruning_vs_dense"] if r["rewind"] == rw]
            b = max(rs, key=lambda r: r["d_test_acc"])
            rows.append(f"| 08 {100 * m['noise']:.0f}% noisy labels, IMP (rewind {rw}) vs dense: best test-accuracy change, "
                        f"at sparsity; change in fitting the mislabeled there | {100 * b['d_test_acc']:+.1f} pts at "
                        f"{b['sparsity']:.0%}; {100 * b['d_train_acc_noisy']:+.1f} pts | moderate sparsity helps by not fitting "
                        "the noise (Jin et al. 2022) |")
    return rows


# each notebook's metrics file and the function that renders its rows, in notebook order
ROWS = [
    ("01_capacity", _capacity),
    ("02_grokking", _grokking),
    ("03_text_generalization", _text),
    ("04_extraction", _extraction),
    ("05_mia_scaling_law", _mia),
    ("06_data_diet", _data_diet),
    ("07_unlearning", _unlearning),
    ("08_pruning", _pruning),
]


def render(metrics_dir: Path | None = None) -> str:
    d = Path(metrics_dir or paths.METRICS)
    rows = ["| notebook | measured (scale) | paper |", "|---|---|---|"]
    for name, fn in ROWS:
        m = _read(d, name)
        if m:
            rows += fn(m)
    return "\n".join(rows)


def update_readme(readme: Path = paths.ROOT / "README.md") -> None:
    text = readme.read_text()
    a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:a] + "\n" + render() + "\n" + text[b:])


if __name__ == "__main__":
    update_readme(Path(sys.argv[1]) if len(sys.argv) > 1 else paths.ROOT / "README.md")

"""Words about notebook 01, capacity: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
- `describe(m)`: the summary the notebook prints at its end.
- `answer(m)`: the title cell's answer.
- `describe_longer(c)`: the longer-training check; `describe_ablation(ab, paper_pt)`: the ablation stage's
  result (metrics/01_capacity_ablation.json) beside the paper's training choices.
"""
from __future__ import annotations

from memlib.ablation import table as ablation_table
from memlib.capacity import PAPER_TABLE1
from memlib.report.base import fmt

# What the paper did for each ablated choice (REFERENCE.md §1): targets to compare with, not results.
PAPER_TRAINING = {"lr": "Adam; lr not stated (our paper scale uses 1e-3)", "batch_size": "2048 (>= N at its smallest models: full batch)",
                  "tol": "trained to saturation, up to 1e6 steps", "length": "trained to saturation, up to 1e6 steps",
                  "schedule": "not stated", "weight_decay": "not stated",
                  "dataset_sizes": "capacity = max over many dataset sizes"}


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        tag = f"({m['scale']}, V={m['vocab_size']}, S={m['seq_len']})"
        A32, A16, r = m.get("alpha_fp32"), m.get("alpha_bf16"), m.get("bf16_fp32_ratio")
        t = m.get("paper_targets")
        rows.append(f"| 01 capacity, fp32 | slope α = {_interval(A32, 'slope') if A32 else fmt(m['bits_per_param_fp32'], '.2f')}"
                    f" bits/param, R² {fmt(m['fit_r2_fp32'], '.3f')}" + (f"; mean {_interval(A32, 'mean')}" if A32 else "")
                    + f" {tag}{saturation(m)} | "
                    + (f"Table 1, 1-layer row: slope {t['slope_fp32_1layer']:.2f}, mean {t['mean_fp32_1layer']:.2f} (all rows: "
                       f"slope {t['slope_fp32']:.2f}, mean {t['mean_fp32']:.2f}; {m['paper']['headline']} headline); "
                       "not comparable: V = 2048, S = 64, 80K+ params |"
                       if t and "slope_fp32_1layer" in t else
                       f"Table 1: slope {t['slope_fp32']:.2f}, mean {t['mean_fp32']:.2f} ({m['paper']['headline']} headline) |"
                       if t else f"{m['paper']['bits_per_param_fp32']} mean; {m['paper']['headline']} headline |"))
        rows.append(f"| 01 capacity, bf16 | slope α = {_interval(A16, 'slope') if A16 else fmt(m['bits_per_param_bf16'], '.2f')}"
                    f" bits/param" + (f"; mean {_interval(A16, 'mean')}" if A16 else "")
                    + (f"; bf16/fp32 {r['ratio']:.3f} (95% bootstrap range {r['ci_low']:.3f}–{r['ci_high']:.3f}) on the same sizes and seeds"
                       if r else "") + f" {tag} | "
                    + (f"Table 1, 1-layer row: slope {t['slope_bf16_1layer']:.2f}, mean {t['mean_bf16_1layer']:.2f}; all rows' "
                       f"slope ratio {t['bf16_fp32_slope_ratio']:.3f}; not comparable (bf16 arithmetic differs) |"
                       if t and "slope_bf16_1layer" in t else
                       f"Table 1: slope {t['slope_bf16']:.2f}, mean {t['mean_bf16']:.2f}; slope ratio "
                       f"{t['bf16_fp32_slope_ratio']:.3f} |" if t else f"{m['paper']['bits_per_param_bf16']} mean |"))
        pp = m.get("paper_point")
        if pp:
            rows.append(f"| 01 paper's smallest model ({pp['n_params'] / 1e3:.0f}K params, V={pp['vocab_size']}, "
                        f"S={pp['seq_len']}) | {pp['capacity_bits'] / 1e3:.0f}K bits = {pp['bits_per_param']:.2f} bits/param "
                        f"in {pp['wall_s']:.0f} s" + (f" on {pp['device'].split(': ')[-1]}" if pp.get("device") else "")
                        + (f"; 2× longer: {100 * pp['longer']['relative_gain']:+.1f}%" if pp.get("longer") else "")
                        + f" ({paper_point_saturation(pp)})"
                        + f" | {pp['paper_capacity_bits'] / 1e3:.0f}K bits = {pp['paper_bits_per_param']:.2f} bits/param |")
        ab = m.get("ablation")
        if ab:
            base = next(r for r in ab if r["setting"] == "base")
            moves = ", ".join(f"{r['setting']} {r['value']} {100 * (r['bits_per_param'] / base['bits_per_param'] - 1):+.0f}%"
                              for r in ab if r["setting"] != "base")
            rows.append(f"| 01 ablation at {base['n_params']:,} params (one training choice changed; vs base "
                        f"{base['bits_per_param']:.2f} bits/param) | {moves} | Adam, batch 2048, to saturation |")
    return rows


def paper_point_saturation(pp: dict) -> str:
    """Whether the paper point saturated: its gain over the last doubling of steps where its stage recorded one;
    a run trained before gains were recorded (its "saturated" then meant only that the plateau rule fired) and one
    still gaining are both lower bounds at laptop settings (lr 1e-2, batch 64, not the paper's full batch)."""
    gain = pp.get("gain_last_doubling")
    if gain is None:
        return ("gain over its last doubling of steps not recorded (trained before it was); "
                "a lower bound at laptop settings")
    longer = (pp.get("longer") or {}).get("relative_gain")
    if pp["saturated"] and longer is not None and longer < 0.01:
        return (f"gained {100 * gain:.1f}% over its last doubling of steps and {100 * longer:+.1f}% trained 2× as long: "
                "saturated at laptop settings (lr 1e-2, batch 64; not the paper's full batch)")
    return (f"gained {100 * gain:.1f}% over its last doubling of steps"
            + (f" and {100 * longer:+.1f}% trained 2× as long" if longer is not None else "")
            + ": a lower bound at laptop settings")


def saturation(m: dict) -> str:
    """'; k of n runs saturated' for a results row (saturated: score gain < 1% over the last doubling of steps),
    how many shapes' capacities are measured plateaus (`capacity.saturation`), and the gain of the runs that set
    the capacities where any of them was still gaining (α is then a lower bound)."""
    st = m.get("stops")
    if not st:
        return ""
    out = f"; {st['n_saturated']} of {st['n_runs']} runs (grid, sweeps, ladder) saturated"
    sat = [r for r in m.get("saturation") or [] if r["precision"] == "fp32"]
    if sat:
        out += (f"; {sum(r['saturated'] and not r['data_bound'] for r in sat)} of {len(sat)} fp32 shapes at a measured "
                "plateau")
    if m.get("n_capacity_runs_unsaturated"):
        out += (f", {m['n_capacity_runs_unsaturated']} of the {len(m.get('models') or [])} capacity-setting runs still gaining (up to "
                f"{100 * m['max_gain_at_capacity']:.1f}% over their last doubling): α is a lower bound")
    return out


def describe_longer(c: dict | None) -> str:
    """The training-length ladder (`capacity.check_longer`): capacity under the plateau rule (T) and on fixed
    schedules of k x T, the gain per doubling, and whether the last doubling still gained."""
    if not c:
        return "longer-training check: off (check_longer = False)"
    L, d = c["shape"]
    rungs = ", ".join(f"{r['capacity_bits']:.1f} at {r['factor']:g}T ({r['steps']} steps)" for r in c["ladder"])
    g = c["gain_per_doubling"]
    seeds = c.get("seeds") or []
    over = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over {_seeds(c)}"
    return (f"{L}x{d}, capacity in bits ({over}): {rungs}; gain per doubling "
            + ", ".join(f"{100 * x:+.1f}%" for x in g) + f", {100 * c['total_gain']:+.1f}% in all: "
            + ("the last doubling gained < 1%: saturated in training length at this shape" if c["length_saturated"]
               else "the last doubling still gained >= 1%: even the longest rung is a lower bound"))


def describe(m: dict) -> str:
    """A plain-language summary of measured metrics beside the paper's numbers."""
    lines = [f"scale={m['scale']}: V={m['vocab_size']}, S={m['seq_len']}, {m['n_runs']} models, "
             f"all saturated: {m['all_saturated']}"
             + (f" ({m['n_unsaturated']} gained >= 1% over their last doubling of steps)" if m.get("n_unsaturated") else "")]
    if (m.get("training") or {}).get("wall_s"):
        lines.append(f"training time of all this notebook's runs (from an empty run store): {m['training']['wall_s'] / 60:.1f} min")
    t = m.get("paper_targets") or {}
    for p in ("fp32", "bf16"):
        a = m.get(f"alpha_{p}")
        if a:
            lines.append(f"{p}: slope {_interval(a, 'slope')} bits/param (Table 1's 1-layer slope "
                         f"{t.get(f'slope_{p}_1layer', float('nan')):.2f}, all rows {t[f'slope_{p}']:.2f}); mean "
                         f"{_interval(a, 'mean')} over this grid (Table 1's 1-layer mean {t.get(f'mean_{p}_1layer', float('nan')):.2f}, "
                         f"all rows {t[f'mean_{p}']:.2f}); seed and shape noise only: the under-training bias "
                         f"(one-sided, the true value lies above) is not in them; intervals over "
                         f"shapes and seeds (over seeds alone: slope {a['slope_ci_low_seeds']:.2f}-{a['slope_ci_high_seeds']:.2f})")
    if m.get("bf16_fp32_ratio"):
        r = m["bf16_fp32_ratio"]
        lines.append(f"bf16/fp32 on the same sizes and seeds: slope ratio {r['ratio']:.3f} (95% bootstrap range {r['ci_low']:.3f}-"
                     f"{r['ci_high']:.3f}; Table 1's {t['bf16_fp32_slope_ratio']:.3f}), mean of pair ratios "
                     f"{r['mean_ratio']:.3f} (Table 1's {t['bf16_fp32_mean_ratio']:.3f})")
    for sat in m.get("saturation") or []:
        lines.append(f"  {sat['precision']} {sat['n_layer']}x{sat['d_model']}: {sat['capacity_bits']:.0f} bits after up to "
                     f"{sat['steps_max']} steps, gain over the last doubling before the decay "
                     + (f"{100 * sat['gain_last_doubling']:.1f}%" if sat['gain_last_doubling'] is not None else "not measured")
                     + ("" if sat["saturated"] else " (a run at or above its size still moving: a lower bound)")
                     + (f" (data-bound: max fill {100 * sat['fill_at_max']:.0f}% or at the largest dataset)"
                        if sat.get("data_bound") else ""))
    if m.get("vocab_dependence"):
        lines.append("vocabulary: bits/param " + _per_vocab(m))
    if m["check_longer"]:
        lines.append("longer-training check: " + describe_longer(m["check_longer"]))
    pp = m["paper_point"]
    if pp:
        lines.append(f"paper's smallest model: {pp['capacity_bits'] / 1e3:.0f}K bits = {pp['bits_per_param']:.2f} bits/param "
                     f"(paper {pp['paper_capacity_bits'] / 1e3:.0f}K = {pp['paper_bits_per_param']:.2f}), "
                     f"{pp.get('steps', '?')} steps, {pp['wall_s']:.0f} s on {pp.get('device', 'an unrecorded device')}"
                     + f"; {paper_point_saturation(pp)}")
        if pp.get("longer"):
            c = pp["longer"]
            lines.append(f"  trained {c['steps_longer'] / c['steps']:.1f}x as long ({c['steps_longer']} steps): "
                         f"{c['capacity_bits_longer'] / pp['n_params']:.2f} bits/param ({100 * c['relative_gain']:+.1f}%)")
    return "\n".join(lines)


def describe_ablation(ab: dict | None, paper_pt: dict | None = None) -> str:
    """Which training choices move capacity beyond the seeds' spread, by how much, beside the paper's choices."""
    if not ab:
        return ("No ablation at this scale yet: `dvc repro capacity_ablation` (or "
                "`python -m memlib.ablation <scale>`) writes metrics/01_capacity_ablation.json.")
    t = ablation_table(ab)
    b = t[t.setting == "base"].iloc[0]
    spread = (b.seed_max - b.seed_min) / b.bits_per_param  # the base runs' seed range, relative
    lines = [f"{ab['n_layer']} x {ab['d_model']} at V = {ab['vocab_size']}, S = {ab['seq_len']}: base "
             f"{b.bits_per_param:.3f} bits/param (seeds {b.seed_min:.3f}-{b.seed_max:.3f}, a {100 * spread:.1f}% range; "
             f"lr {ab['base']['lr']:g}, batch {ab['base']['batch_size']}, plateau tol {ab['base']['tol']:g}, "
             f"{ab['base_steps']} steps)"]
    for r in t[t.setting != "base"].itertuples():
        moved = r.seed_min > b.seed_max or r.seed_max < b.seed_min  # seed ranges do not overlap
        lines.append(f"  {r.setting} = {r.value}: {r.bits_per_param:.3f} ({r.change_pct:+.1f}%; seeds {r.seed_min:.3f}-"
                     f"{r.seed_max:.3f}; {r.steps} steps"
                     + ("" if r.saturated is None or r.saturated else "; still gaining >= 1% over its last doubling") + ")"
                     + (" -- beyond the seed spread (suggestive: 2 seeds)" if moved else " -- within the seed spread")
                     + f"; paper: {PAPER_TRAINING.get(r.setting, 'not stated')}")
    best = t.loc[t.bits_per_param.idxmax()]
    lines.append(f"largest: {best.setting} = {best.value}, {best.change_pct:+.1f}% over the base")
    if paper_pt:
        gap = 1 - paper_pt["bits_per_param"] / paper_pt["paper_bits_per_param"]
        lines.append(f"the paper point (1 x 32, V = 2048) stays {100 * gap:.0f}% below Table 1 "
                     f"({paper_pt['bits_per_param']:.2f} vs {paper_pt['paper_bits_per_param']:.2f} bits/param); one-at-a-time "
                     "changes at another shape, each still gaining, do not say how much of that gap training explains")
    return "\n".join(lines)


def _per_vocab(m: dict) -> str:
    """The vocabulary (and length) sweep against the paper's claim, with the verdict `capacity.vocab_dependence` gave."""
    d = m.get("vocab_dependence")
    if not d or not d.get("vocab"):
        return "was not swept over V here"
    S0 = m.get("seq_len") if any(x["seq_len"] == m.get("seq_len") for x in d["cells"]) else min(x["seq_len"] for x in d["cells"])
    cells = [c for c in d["cells"] if c["seq_len"] == S0]
    v = d["vocab"]
    words = {"agrees": "agrees with", "disagrees": "disagrees with", "not settled at this scale": "is not settled against"}
    out = (", ".join(f"{c['bits_per_param']:.2f}" for c in cells) + " bits/param at V = "
           + ", ".join(str(c["vocab_size"]) for c in cells) + f" (S = {cells[0]['seq_len']}); the largest change from "
           f"V = {v['reference']} is {100 * v['max_abs_change']:.0f}% (95% bootstrap range {100 * v['ci_low']:.0f}–{100 * v['ci_high']:.0f}%)"
           f", which {words[v['verdict']]} the paper's ~{100 * d['tolerance']:.0f}% (its predictions from α·params held "
           "within that when V or S varied)")
    if d.get("seq_len"):
        out += (f"; across S the largest change is {100 * d['seq_len']['max_abs_change']:.0f}% "
                f"({d['seq_len']['verdict']})")
    vals = [c["bits_per_param"] for c in cells]
    apart = all(a["seed_max"] < b["seed_min"] for a, b in zip(cells, cells[1:]))
    if len(cells) > 2 and apart:
        out += (f"; measured here, these lower bounds rise with V and their seed ranges do not overlap "
                f"({100 * (vals[-1] / vals[0] - 1):+.0f}% from V = {cells[0]['vocab_size']} to {cells[-1]['vocab_size']}): "
                "the opposite of the paper's claim at these settings, confounded with the share of embedding parameters")
    if v.get("why"):
        out += f" — at saturation not settled: {v['why']}"
    out += "; the statistic is not the paper's (its 2-3% is a prediction error of memorized bits)"
    return out


def _seeds(c: dict) -> str:
    n = len(c.get("seeds") or [0, 1])  # ladders before check_seeds used the grid's two seeds
    return "one seed" if n == 1 else f"{n} seeds"


def _interval(a: dict | None, key: str) -> str:
    return f"{a[key]:.2f} (95% bootstrap range {a[key + '_ci_low']:.2f}–{a[key + '_ci_high']:.2f})" if a else "n/a"


def answer(m: dict) -> str:
    """The title cell's answer: α beside the paper's, why the comparison is not like for like, the paper point,
    and how much more training would store."""
    p = m["paper"]
    sizes = [x["n_params"] for x in m["models"]]
    a32, a16 = m["bits_per_param_fp32"], m["bits_per_param_bf16"]
    A32, A16, ratio = m.get("alpha_fp32"), m.get("alpha_bf16"), m.get("bf16_fp32_ratio")
    t = m.get("paper_targets") or {}
    fit = (m.get("fits") or {}).get("fp32") or {}
    c, ab = m.get("check_longer"), m.get("ablation")
    base = next((r for r in ab or [] if r["setting"] == "base"), None)
    more = max(([c["total_gain"]] if c else [])
               + ([max(r["bits_per_param"] for r in ab) / base["bits_per_param"] - 1] if base else []), default=0.0)
    sat = [r for r in m.get("saturation") or [] if r["precision"] == "fp32"]
    open_shapes = [r for r in sat if not r["saturated"] or r["data_bound"]]
    # still gaining, a shape not at a measured plateau, or more training stored more
    bound = bool(m.get("n_capacity_runs_unsaturated")) or bool(open_shapes) or more > 0.01
    out = [f"- **α {'≥' if bound else '='} {fmt(a32, '.2f')} bits/param in fp32** (slope through the origin, R² "
           f"{fmt(m['fit_r2_fp32'], '.3f')})"
           + (f": a lower bound, since {m['n_capacity_runs_unsaturated']} of the {len(m['models'])} runs that set a model's "
              "capacity were "
              f"still gaining (up to {100 * m['max_gain_at_capacity']:.1f}% over their last doubling of steps)"
              if m.get("n_capacity_runs_unsaturated") else
              f": a lower bound, since training longer stored {100 * more:.0f}% more" if bound else "")
           + f"; from {m['n_runs']} trained models of {min(sizes):,}–{max(sizes):,} parameters at V = {m['vocab_size']}, "
           f"S = {m['seq_len']} ({m['scale']} scale).",
           (f"- **Slope against slope, mean against mean, with Table 1's one-layer row** (every model here has one "
            f"layer): slope {_interval(A32, 'slope')} in fp32 against its {t.get('slope_fp32_1layer', float('nan')):.2f} "
            f"(all of Table 1: {t['slope_fp32']:.2f}; its headline {p['headline']} is, on our reading, close to its bf16 "
            f"slope, {t['slope_bf16']:.2f}); mean bits/param {_interval(A32, 'mean')} in fp32 and {_interval(A16, 'mean')} in bf16 "
            f"over this grid against its {t.get('mean_fp32_1layer', float('nan')):.2f} and "
            f"{t.get('mean_bf16_1layer', float('nan')):.2f} (all of Table 1: {t['mean_fp32']:.2f} and {t['mean_bf16']:.2f})"
            + (f"; bf16/fp32 on the same sizes and seeds {ratio['ratio']:.3f} (ratio of slopes, 95% bootstrap range "
               f"{ratio['ci_low']:.3f}–{ratio['ci_high']:.3f}, {ratio['n_pairs']} pairs) beside Table 1's "
               f"{t['bf16_fp32_slope_ratio']:.3f}, not comparable: bf16 here is bf16-valued weights without an fp32 master "
               "copy, computed in fp32, and both arms are lower bounds stopped at different steps, so the ratio's bias "
               "has unknown sign." if ratio else ".")
            + f" **Not comparable** in size either: {min(sizes):,}–{max(sizes):,} parameters at V = {m['vocab_size']} "
              f"against Table 1's {_table1_span()} at V = 2048, and here bits/param rises with size (the fit with an intercept "
              f"has {fmt(fit.get('intercept_bits'), ',.0f')} bits at zero parameters) where Table 1's one-layer row falls."
            + " The ranges resample the grid's shapes, then its seeds: noise only, and not calibrated 95% intervals at this "
              "design; under-training biases α and every capacity downward by an amount they do not hold." if t else "")]
    if open_shapes:
        n_at = len(sat) - len(open_shapes)
        n_db = sum(bool(r["data_bound"]) for r in sat)
        out.append((f"- **None of the {len(sat)} fp32 shapes is at a measured plateau:** each had " if not n_at else
                    f"- **{n_at} of {len(sat)} fp32 shapes at a measured plateau:** the others had ")
                   + "runs still moving at or above the dataset size that set its capacity"
                   + (f", and {n_db} of {len(sat)} are data-bound (the maximum at the largest dataset, or filling > 90% of "
                      "it): capacity is a lower bound in N as well as in steps" if n_db else "") + ".")
    if m.get("vocab"):
        out.append(f"- **Not like for like:** these models are far smaller than the paper's smallest "
                   f"({PAPER_TABLE1[(1, 32)][0] / 1e3:.0f}K parameters) "
                   f"and V is {m['vocab_size']}, not 2048; at the sweep's one shape, {_per_vocab(m)}.")
    pp = m.get("paper_point")
    if pp:
        out.append(f"- **The paper's own smallest model** (1 × 32, V = {pp['vocab_size']}, S = {pp['seq_len']}, trained on "
                   f"{pp.get('device', 'an unrecorded device').split(': ')[-1]}): {pp['bits_per_param']:.2f} bits/param against "
                   f"Table 1's {pp['paper_bits_per_param']:.2f} ({100 * pp['bits_per_param'] / pp['paper_bits_per_param']:.0f}%)"
                   + (f"; training it 2× as long added {100 * pp['longer']['relative_gain']:+.1f}%" if pp.get("longer") else "")
                   + f"; {paper_point_saturation(pp)}.")
    c, ab = m.get("check_longer"), m.get("ablation")
    gains = [(f"at {c['shape'][0]} × {c['shape'][1]} (one dataset size, {_seeds(c)}), "
              f"{c['ladder'][-1]['factor']:g}× as long: {100 * c['total_gain']:+.1f}% (per doubling "
              + ", ".join(f"{100 * g:+.1f}%" for g in c["gain_per_doubling"])
              + (": the last doubling < 1%)" if c["length_saturated"] else
                 ("; not slowing" if len(c["gain_per_doubling"]) > 1 and c["gain_per_doubling"][-1] >= c["gain_per_doubling"][0]
                  else "") + ": the last doubling still >= 1%)"),
              c["total_gain"])] if c else []
    if ab:
        base = next(r for r in ab if r["setting"] == "base")
        best = max(ab, key=lambda r: r["bits_per_param"])
        gain = best["bits_per_param"] / base["bits_per_param"] - 1
        gains.append((f"in the ablation at {base['n_params']:,} parameters the largest gain is {best['setting']} "
                      f"{best['value']}, {100 * gain:+.1f}%", gain))
    if gains:
        top = max(x for _, x in gains)
        still = c and not c["length_saturated"]
        out.append(("- **Training longer still stores more:** " if still else
                    "- **Training longer stores a little more:** " if top > 0 else "- **Training longer stores no more:** ")
                   + "; ".join(g for g, _ in gains)
                   + ((f", so α here is a lower bound, low by at least about {100 * top:.0f}% where that was measured; "
                       "nothing here bounds it from above (the longest rung was still gaining)" if still else
                       f", so α here is a lower bound, by about {100 * top:.0f}% where that was measured") if top > 0 else "")
                   + (f" ({m['n_unsaturated']} of {m['n_runs']} runs gained >= 1% over their last doubling of steps)"
                      if m.get("n_unsaturated") else "")
                   + "; what remains of the gap to the paper is not settled at this scale.")
    left = _left_out(m)
    if left:
        out.append(f"- **Left out at this scale** (the set-up cell gives the costs): {', '.join(left)}.")
    return "\n".join(out)


def _table1_span() -> str:
    """The parameter range of the paper's Table 1, from PAPER_TABLE1."""
    n = [v[0] for v in PAPER_TABLE1.values()]
    k = lambda x: f"{x / 1e6:.1f}M" if x >= 1e6 else f"{x / 1e3:.0f}K"
    return f"{k(min(n))}–{k(max(n))}"


def _left_out(m: dict) -> list[str]:
    """What this run's metrics show it did not cover of the paper's setting."""
    cells = (m.get("vocab_dependence") or {}).get("cells") or []
    seeds = {x["seed"] for x in m.get("models") or []}
    return ([] if any(c["vocab_size"] == 2048 for c in cells) else ["V = 2048 in the vocabulary sweep"]) + \
        ([] if m.get("tied_vs_untied") is not None else ["tied against untied embeddings"]) + \
        (["more than one layer (Table 1's depth rows are not tested)"]
         if all(x.get("n_layer", 1) == 1 for x in m.get("models") or []) else []) + \
        ([f"more than {len(seeds)} seeds"] if len(seeds) < 3 else [])

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
PAPER_TRAINING = {"lr": "Adam; lr of our paper scale (1e-3)", "batch_size": "2048 (>= N at its smallest models: full batch)",
                  "tol": "trained to saturation, up to 1e6 steps", "length": "trained to saturation, up to 1e6 steps",
                  "schedule": "not stated", "weight_decay": "not stated",
                  "dataset_sizes": "capacity = max over many dataset sizes"}


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        tag = f"({m['scale']}, V={m['vocab_size']}, S={m['seq_len']})"
        rows.append(f"| 01 capacity, fp32 | α = {fmt(m['bits_per_param_fp32'], '.2f')} bits/param, "
                    f"R² {fmt(m['fit_r2_fp32'], '.3f')} {tag}{saturation(m)} | {m['paper']['bits_per_param_fp32']} (mean); "
                    f"{m['paper']['headline']} headline |")
        rows.append(f"| 01 capacity, bf16 | α = {fmt(m['bits_per_param_bf16'], '.2f')} bits/param {tag} | "
                    f"{m['paper']['bits_per_param_bf16']} |")
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
    if pp["saturated"]:
        return f"gained {100 * gain:.1f}% over its last doubling of steps: saturated at laptop settings"
    return f"still gaining {100 * gain:.1f}% over its last doubling of steps: a lower bound at laptop settings"


def saturation(m: dict) -> str:
    """'; k of n runs saturated' for a results row (saturated: score gain < 1% over the last doubling of steps),
    with the gain of the runs that set the capacities where any of them was still gaining (α is then a lower bound)."""
    st = m.get("stops")
    if not st:
        return ""
    out = f"; {st['n_saturated']} of {st['n_runs']} runs saturated"
    if m.get("n_capacity_runs_unsaturated"):
        out += (f", {m['n_capacity_runs_unsaturated']} of the capacity-setting runs still gaining (up to "
                f"{100 * m['max_gain_at_capacity']:.1f}% over their last doubling): α is a lower bound")
    return out


def describe_longer(c: dict | None) -> str:
    """The longer-training check (`capacity.check_longer`): capacity under the plateau rule and trained longer."""
    if not c:
        return "longer-training check: off (check_longer = False)"
    return (f"capacity {c['capacity_bits']:.1f} bits under the plateau rule ({c['steps']} steps), "
            f"{c['capacity_bits_longer']:.1f} trained {c['steps_longer'] / c['steps']:.1f}x as long "
            f"({c['steps_longer']} steps, fixed schedule): {100 * c['relative_gain']:+.1f}%")


def describe(m: dict) -> str:
    """A plain-language summary of measured metrics beside the paper's numbers."""
    lines = [f"scale={m['scale']}: V={m['vocab_size']}, S={m['seq_len']}, {m['n_runs']} models, "
             f"all saturated: {m['all_saturated']}"
             + (f" ({m['n_unsaturated']} gained >= 1% over their last doubling of steps)" if m.get("n_unsaturated") else "")]
    if (m.get("training") or {}).get("wall_s"):
        lines.append(f"training time of all this notebook's runs (from an empty run store): {m['training']['wall_s'] / 60:.1f} min")
    for p in ("fp32", "bf16"):
        a = m[f"bits_per_param_{p}"]
        if a is not None:
            lines.append(f"{p}: alpha = {a:.2f} bits/param (paper {m['paper'][f'bits_per_param_{p}']}); "
                         f"ratio to paper {a / m['paper'][f'bits_per_param_{p}']:.2f}")
    if m["bits_per_param_fp32"] and m["bits_per_param_bf16"]:
        lines.append(f"bf16/fp32 capacity ratio: {m['bits_per_param_bf16'] / m['bits_per_param_fp32']:.3f} (paper {3.51 / 3.83:.3f})")
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
                     + (" -- beyond the seed spread" if moved else " -- within the seed spread")
                     + f"; paper: {PAPER_TRAINING.get(r.setting, 'not stated')}")
    best = t.loc[t.bits_per_param.idxmax()]
    lines.append(f"largest: {best.setting} = {best.value}, {best.change_pct:+.1f}% over the base")
    if paper_pt:
        gap = 1 - paper_pt["bits_per_param"] / paper_pt["paper_bits_per_param"]
        lines.append(f"the paper point (1 x 32, V = 2048) stays {100 * gap:.0f}% below Table 1 "
                     f"({paper_pt['bits_per_param']:.2f} vs {paper_pt['paper_bits_per_param']:.2f} bits/param); "
                     f"if the largest gain above carried over unchanged it would read "
                     f"{paper_pt['bits_per_param'] * (1 + best.change_pct / 100):.2f}")
    return "\n".join(lines)


def _per_vocab(m: dict) -> str:
    """The vocabulary sweep, mean over seeds per V: 'rises with V here (1.71, 2.07, 2.42 bits/param at V = 16, 64, 256)'."""
    by_v: dict[int, list[float]] = {}
    for r in m["vocab_sweep"]:
        by_v.setdefault(r["vocab_size"], []).append(r["bits_per_param"])
    vs = sorted(by_v)
    a = [sum(by_v[v]) / len(by_v[v]) for v in vs]
    trend = ("rises" if all(x < y for x, y in zip(a, a[1:])) else
             "falls" if all(x > y for x, y in zip(a, a[1:])) else "is not monotone")
    return (f"{trend} with V here (" + ", ".join(f"{x:.2f}" for x in a) + " bits/param at V = "
            + ", ".join(str(v) for v in vs) + ")")


def answer(m: dict) -> str:
    """The title cell's answer: α beside the paper's, why the comparison is not like for like, the paper point,
    and how much more training would store."""
    p = m["paper"]
    sizes = [x["n_params"] for x in m["models"]]
    a32, a16 = m["bits_per_param_fp32"], m["bits_per_param_bf16"]
    out = [f"- **α = {fmt(a32, '.2f')} bits/param in fp32** (R² {fmt(m['fit_r2_fp32'], '.3f')})"
           + (f" and {a16:.2f} in bf16" if a16 is not None else "")
           + f", from {m['n_runs']} trained models of {min(sizes):,}–{max(sizes):,} parameters at V = {m['vocab_size']}, "
           f"S = {m['seq_len']} ({m['scale']} scale); the paper's Table 1 means are {p['bits_per_param_fp32']} and "
           f"{p['bits_per_param_bf16']} ({p['headline']} headline)"
           + (f": ours is {100 * a32 / p['bits_per_param_fp32']:.0f}% of theirs" if a32 else "")
           + (f", and bf16/fp32 is {a16 / a32:.2f} (paper {p['bits_per_param_bf16'] / p['bits_per_param_fp32']:.2f})."
              if a32 and a16 else ".")]
    if m["vocab_sweep"]:
        out.append(f"- **Not like for like:** these models are far smaller than the paper's smallest "
                   f"({PAPER_TABLE1[(1, 32)][0] / 1e3:.0f}K parameters) "
                   f"and V is {m['vocab_size']}, not 2048; α {_per_vocab(m)}.")
    pp = m.get("paper_point")
    if pp:
        out.append(f"- **The paper's own smallest model** (1 × 32, V = {pp['vocab_size']}, S = {pp['seq_len']}, trained on "
                   f"{pp.get('device', 'an unrecorded device').split(': ')[-1]}): {pp['bits_per_param']:.2f} bits/param against "
                   f"Table 1's {pp['paper_bits_per_param']:.2f} ({100 * pp['bits_per_param'] / pp['paper_bits_per_param']:.0f}%)"
                   + (f"; training it 2× as long added {100 * pp['longer']['relative_gain']:+.1f}%" if pp.get("longer") else "")
                   + f"; {paper_point_saturation(pp)}.")
    c, ab = m.get("check_longer"), m.get("ablation")
    gains = [(f"{c['steps_longer'] / c['steps']:.0f}× as long: {100 * c['relative_gain']:+.1f}%", c["relative_gain"])] if c else []
    if ab:
        base = next(r for r in ab if r["setting"] == "base")
        best = max(ab, key=lambda r: r["bits_per_param"])
        gain = best["bits_per_param"] / base["bits_per_param"] - 1
        gains.append((f"in the ablation at {base['n_params']:,} parameters the largest gain is {best['setting']} "
                      f"{best['value']}, {100 * gain:+.1f}%", gain))
    if gains:
        top = max(x for _, x in gains)
        out.append(("- **Training longer stores a little more:** " if top > 0 else "- **Training longer stores no more:** ")
                   + "; ".join(g for g, _ in gains)
                   + (f", so α here is a lower bound, by up to about {100 * top:.0f}%" if top > 0 else "")
                   + (f" ({m['n_unsaturated']} of {m['n_runs']} runs gained >= 1% over their last doubling of steps)"
                      if m.get("n_unsaturated") else "")
                   + "; what remains of the gap to the paper is not settled at this scale.")
    return "\n".join(out)

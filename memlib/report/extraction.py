"""Words about notebook 04, extraction: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table;
- `describe(m)`: the measured numbers in words, printed at the notebook's end (no timings: its output is checked);
- `rarity(r)`: the rarity summary (`m["rarity"]`) in a sentence;
- `training(m)`: the training time of the notebook's own runs;
- `answer(m)`: the title cell's answer, each claim of the papers beside what was measured, with the caveats.
"""
from __future__ import annotations

import math

import numpy as np


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


def rarity(r: dict) -> str:
    """Mean IDF of extracted vs not, and its rank correlation with the tokens reproduced, in a sentence."""
    if not r["n"]:
        return f"rarity (k={r['k']}): {r['note']}"
    sp = r["spearman_idf_within_cell_vs_matched"]
    return (f"rarity (k={r['k']}, duplicated sequences in cells with mixed outcomes {r['cells']}): mean IDF "
            f"{r['mean_idf_extracted']:.2f} extracted vs {r['mean_idf_not_extracted']:.2f} not; Spearman(IDF "
            f"within cell, tokens reproduced) = {sp['rho']:+.2f} (95% CI {sp['ci_low']:+.2f} to {sp['ci_high']:+.2f})")


def describe(m: dict) -> str:
    """Plain-language reading of the measured numbers."""
    lines = [f"{m['scale']}: {m['dataset']}, V={m['vocab_size']}, S={m['seq_len']}, prefixes k = {m['ks']}"]
    for cv in m["convergence"]:
        if cv["k"] != m["duplication_slope"]["k"]:
            continue
        lines.append(f"{cv['n_params']:,} params, k={cv['k']}: train - held-out extraction {cv['gap_first']:+.2f} at "
                     f"n={cv['n_first']}, {cv['gap_last']:+.2f} at n={cv['n_last']}"
                     + (f" (dataset/capacity {cv['ratio_last']:.1f})" if cv["ratio_last"] else ""))
    d = m["duplication_slope"]
    lines.append(f"duplication ({d['n_params']:,} params, k={d['k']}): extraction rate {d['slope_per_doubling_of_r']:+.3f} "
                 f"per doubling of r (95% CI {d['ci_low']:+.3f} to {d['ci_high']:+.3f})")
    ex = {round(e["r"]): e["exposure"] for e in m["exposure"]}
    lines.append(f"canary exposure (bits, of {m['canary_candidates']:,} candidates): "
                 + ", ".join(f"r={r}: {v:.1f}" for r, v in ex.items())
                 + f"; extrapolated vs exact: median |error| {m['exposure_extrapolation_error']:.2f} bits")
    g = m["generate_and_rank"]
    for key, what in (("precision_at_top", "all"), ("precision_at_top_natural", "not the canary template")):
        lines.append(f"generate-and-rank ({g['n_unique']} distinct of {g['n_samples']} samples, {what}), precision of "
                     f"the top {g['top']}: " + ", ".join(f"{k} {v['precision_rate']:.2f}" for k, v in g[key].items()))
    lines.append(rarity(m["rarity"]))
    return "\n".join(lines)


def training(m: dict) -> str:
    """The recorded training time of the notebook's own (duplication) runs."""
    return f"training time of this notebook's own runs (from an empty run store): {m['training']['wall_s'] / 60:.1f} min"


def _span(values: list[float], spec: str) -> str:
    """'x' when all values agree at `spec`, else 'lo–hi'."""
    lo, hi = format(min(values), spec), format(max(values), spec)
    return lo if lo == hi else f"{lo}–{hi}"


def _listed(values: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _off_line(levels: list[float], rates: list[float]) -> float:
    """Largest distance of the rates from their least-squares line in log2(level)."""
    x = np.log2(levels)
    return float(np.abs(np.polyval(np.polyfit(x, rates, 1), x) - rates).max())


def answer(m: dict) -> str:
    """The title cell's answer: each claim of the papers beside what was measured, with the caveats."""
    d, k = m["duplication_slope"], m["duplication_slope"]["k"]
    conv = [cv for cv in m["convergence"] if cv["k"] == k]
    held = max(r["heldout_rate"] for r in m["k_extractable"] if r["k"] == k)
    fit = next(f for f in m["duplication_fits"]["vs_repeats"] if f["n_params"] == d["n_params"] and f["k"] == k)
    last = max(abs(cv["gap_last"]) for cv in conv)
    off = _off_line(fit["levels"], fit["rates"])
    ex = sorted(m["exposure"], key=lambda e: e["r"])
    g = m["generate_and_rank"]
    pr = {name: v["precision_rate"] for name, v in g["precision_at_top_natural"].items()}
    base = pr.pop("random (base rate)")
    best = max(pr.values())
    tied = [name.replace("_", " ") for name, v in pr.items() if v == best]
    r = m["rarity"]
    if r["n"]:
        sp = r["spearman_idf_within_cell_vs_matched"]
        found = ("no relation" if sp["ci_low"] <= 0 <= sp["ci_high"] else
                 "rarer sequences are extracted more" if sp["rho"] > 0 else "rarer sequences are extracted less")
        rarity = (f"Spearman(IDF, tokens reproduced) = {sp['rho']:+.2f} (95% CI {sp['ci_low']:+.2f} to "
                  f"{sp['ci_high']:+.2f}): {found}")
    else:
        rarity = "not measurable here (no cell of equally duplicated sequences has mixed outcomes)"
    sizes = _span([cv["n_params"] / 1e3 for cv in conv] + [d["n_params"] / 1e3], ".1f")
    return "\n".join([
        f"**Answer ({m['scale']} run, k = {k} of S = {m['seq_len']} tokens, {sizes}K-parameter models against the "
        "papers' 10⁸–10⁹: directions compare, effect sizes do not).**",
        "",
        f"- Tiny sets fully extractable, rates converging beyond capacity (Morris et al. 2025): train − held-out "
        f"extraction goes from {_span([cv['gap_first'] for cv in conv], '+.2f')} at n = {conv[0]['n_first']} to "
        f"{_span([cv['gap_last'] for cv in conv], '+.2f')} at n = {conv[0]['n_last']} for the {len(conv)} sizes; "
        + (f"held-out extraction reaches at most {held:.2f}." if held else "held-out extraction is 0 at every n"
           + (", so the rates meet at 0, not at the paper's small non-zero level." if not last else ".")),
        f"- Log-linear in duplicates (Carlini et al. 2023): the {d['n_params'] / 1e3:.1f}K-parameter model extracts "
        f"{_listed([f'{v:.2f}' for v in fit['rates']])} at r = {_listed([f'{v:g}' for v in fit['levels']])}, "
        f"{d['slope_per_doubling_of_r']:+.3f} per doubling (95% CI {d['ci_low']:+.3f} to {d['ci_high']:+.3f})"
        + (f"; the rates stray up to {off:.2f} from that line, so the slope summarizes them poorly." if off > 0.1
           else "."),
        f"- Canary exposure rising with insertions (Carlini et al. 2019): {ex[0]['exposure']:.1f} bits at "
        f"r = {ex[0]['r']:g} (chance 1.44) to {ex[-1]['exposure']:.1f} at r = {ex[-1]['r']:g}, of log₂ "
        f"{m['canary_candidates']:,} = {math.log2(m['canary_candidates']):.1f}; the skew-normal extrapolation is "
        f"off by {m['exposure_extrapolation_error']:.2f} bits (median).",
        f"- Generate-and-rank (Carlini et al. 2021), natural text: precision of the top {g['top']} is {best:.2f} for "
        f"{_listed(tied)} against a base rate of {base:.2f}"
        + ("; at that ceiling the rankings cannot be told apart." if best == 1 and len(tied) > 1 else "."),
        f"- Rare tokens extracted most (Morris et al. 2025): {rarity}.",
    ])

"""Words about notebook 03, text generalization: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table;
- `describe(m)`: the measured peaks in words, printed at the notebook's end (no timings: its output is checked);
- `training(m)`: the training time of the notebook's runs;
- `answer(m)`: the title cell's answer, the peaks beside the paper's, with the caveats.
"""
from __future__ import annotations


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    tag = f"({m['scale']}, {m['dataset']}, V={m['vocab_size']}, S={m['seq_len']})"
    out = [f"| 03 text: exact duplicate sequences removed from the pool | {m['duplicates_removed']} of "
           f"{m['n_train_pool_sequences'] + m['duplicates_removed']} ({100 * m['duplicate_fraction']:.2f}%) {tag} "
           "| 1–2% survive document-level dedup (FineWeb) |"]
    for p in m["peaks"]:
        um = f"n={p['unintended_peak_n']} (ratio {p['unintended_peak_ratio']:.2f})" + (
            "" if p["unintended_rises_then_falls"] else ", at the grid's edge")
        tl = f"n={p['test_loss_peak_n']} (ratio {p['test_loss_peak_ratio']:.2f})" + (
            "" if p["test_loss_peak_interior"] else ", at the grid's edge")
        out.append(f"| 03 text, {p['n_params'] / 1e3:.1f}K params: peak of unintended memorization; of held-out loss "
                   f"| {um}; {tl}{saturation(m)} | both where dataset bits ≈ capacity (ratio 1) |")
    return out


def saturation(m: dict) -> str:
    """'; k of n runs saturated' (score gain < 1% over the last doubling of steps; those at max_steps named)."""
    st = m.get("stops")
    if not st:
        return ""
    return (f"; {st['n_saturated']} of {st['n_runs']} runs saturated, {st['by_reason'].get('max_steps', 0)} stopped "
            "at max_steps")


def _peak(p: dict) -> str:
    """One model size's peaks of unintended memorization and test loss, and whether each lies inside the grid."""
    shape = f"{p['n_layer']}x{p['d_model']} ({p['n_params']} params, capacity {p['capacity_bits'] / 1e3:.1f}K bits)"
    um = (f"unintended memorization peaks at n={p['unintended_peak_n']} (dataset/capacity = "
          f"{p['unintended_peak_ratio']:.2f}, {p['unintended_peak_bits'] / 1e3:.1f}K bits)"
          + ("" if p["unintended_rises_then_falls"] else " - at the edge of the grid, so no rise-then-fall seen"))
    tl = (f"test loss peaks at n={p['test_loss_peak_n']} (ratio {p['test_loss_peak_ratio']:.2f})"
          + ("" if p["test_loss_peak_interior"] else " - at the edge of the grid: no double-descent peak seen"))
    return f"{shape}: {um}; {tl}"


def describe(m: dict) -> str:
    """Plain-language reading of the measured peaks."""
    corpus = (f"{m['scale']}: V={m['vocab_size']}, S={m['seq_len']}, pool {m['n_train_pool_sequences']} sequences "
              f"({m['duplicates_removed']} exact duplicates removed), α = {m['alpha_bits_per_param']:.2f} bits/param "
              f"from {m['alpha_source']}")
    return "\n".join([corpus] + [_peak(p) for p in m["peaks"]])


def training(m: dict) -> str:
    """The recorded training time of all the notebook's runs."""
    return (f"training time of all this notebook's runs (from an empty run store): "
            f"{m['training']['wall_s'] / 60:.1f} min")


def _listed(values: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def _beside_one(ratios: list[float]) -> str:
    """Where peak ratios sit against the paper's ratio ≈ 1."""
    if max(ratios) < 1:
        return "below the paper's ≈ 1"
    if min(ratios) > 1:
        return "above the paper's ≈ 1"
    return "around the paper's ≈ 1"


def answer(m: dict) -> str:
    """The title cell's answer: where unintended memorization and held-out loss peak, beside the paper's peaks."""
    pk = m["peaks"]
    n = len(pk)
    um_r, tl_r = [p["unintended_peak_ratio"] for p in pk], [p["test_loss_peak_ratio"] for p in pk]
    sizes = _listed([f"{p['n_params'] / 1e3:.1f}K" for p in pk])
    um_n, tl_n = _listed([str(p["unintended_peak_n"]) for p in pk]), _listed([str(p["test_loss_peak_n"]) for p in pk])
    rises = sum(p["unintended_rises_then_falls"] for p in pk)
    interior = sum(p["test_loss_peak_interior"] for p in pk)
    head = ("rises and then falls as the training set grows, as in the paper" if rises == n else
            f"rises and then falls inside the grid for {rises} of {n} model sizes only" if rises else
            "does not rise and then fall inside the grid, unlike in the paper")
    where = {"below the paper's ≈ 1": "peaks before dataset bits reach capacity",
             "above the paper's ≈ 1": "peaks after dataset bits pass capacity"}.get(_beside_one(um_r))
    where = "" if where is None else (", but " if rises == n else "; it ") + where
    order = ("at or before the memorization peak" if all(p["test_loss_peak_n"] <= p["unintended_peak_n"] for p in pk)
             else "not consistently before or after the memorization peak")
    seeds = len({c["seed"] for c in m["curves"]})
    corpus = "State of the Union" if m["dataset"] == "sotu" else m["dataset"]
    return "\n".join([
        f"**Answer ({m['scale']} run).** Unintended memorization {head}{where}:",
        "",
        f"- Unintended memorization peaks at n = {um_n} sequences for the {sizes}-parameter models, at dataset bits / "
        f"capacity = {_listed([f'{r:.2f}' for r in um_r])}: {_beside_one(um_r)} (Morris et al. 2025).",
        f"- Held-out loss peaks (double descent) inside the grid for {interior} of {n} sizes, at n = {tl_n} "
        f"(ratio {_listed([f'{r:.2f}' for r in tl_r])}), {order}; the paper's test-loss peak is also at ratio ≈ 1.",
        f"- The ratio axis is not like for like with the paper's: capacity uses notebook 01's random-token "
        f"α = {m['alpha_bits_per_param']:.2f} bits/param, and an oracle of {m['oracle']['n_params'] / 1e3:.0f}K "
        "parameters prices the dataset bits, overstating the text's information: read the peaks as a band, not a point.",
        f"- Scale: {seeds} seed{'s' if seeds > 1 else ''}, {m['n_train_pool_sequences']:,} {m['seq_len']}-token "
        f"sequences of {corpus} text (V = {m['vocab_size']}), against the paper's GPT-2-style models of up to ~20M "
        "parameters on FineWeb: the shape is comparable, absolute bits are not.",
    ])

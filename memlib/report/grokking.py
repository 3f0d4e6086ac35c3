"""Words about notebook 02, grokking: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
- `describe(m)`: the summary the notebook prints at its end.
- `answer(m)`: the title cell's answer.
- `describe_seeds(per_seed)`: when each classic run memorized and generalized.
"""
from __future__ import annotations

from memlib.report.base import fmt


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        tag = f"({m['scale']}, p={m['p']}, {100 * m['train_frac']:.0f}% of pairs, d_model={m['d_model']})"
        rows.append(f"| 02 grokking: step of 99% train / 99% test accuracy, per seed | {m['memorize_step']} / "
                    f"{m['generalize_step']} {tag} | test long after train (Power et al., Nanda et al.) |")
        rows.append(f"| 02 grokking without weight decay (same budget) | test 99% at {m['weight_decay_ablation']['generalize_step']} "
                    "(None: never) | much slower or absent |")
        t = m["transition"]
        rows.append(f"| 02 share of sweep models reaching 99% test, dataset bits / capacity < 1 vs ≥ 1 | "
                    f"{fmt(t['generalized_share_below_1'], '.2f')} vs {fmt(t['generalized_share_above_1'], '.2f')} "
                    f"(α = {m['alpha']:.2f}) | generalization sets in at ratio ≈ 1 (Morris et al.) |")
    return rows


def describe_seeds(per_seed: list[dict]) -> str:
    """One line per classic run: when train and test accuracy first passed 99%, and the final test accuracy."""
    at = lambda s: "never" if s is None else f"at step {s}"
    return "\n".join(f"seed {r['seed']}: train 99% {at(r['memorize_step'])}, test 99% {at(r['generalize_step'])}; "
                     f"final test accuracy {r['final_test_acc']:.3f}" for r in per_seed)


def _delays(m: dict) -> list[int]:
    """Test-minus-train step of the 99% crossings, per seed that crossed both."""
    return [g - t for g, t in zip(m["generalize_step"], m["memorize_step"]) if g is not None and t is not None]


def describe(m: dict) -> str:
    """Plain-language summary of measured metrics."""
    lines = [f"scale={m['scale']}: p={m['p']}, {100 * m['train_frac']:.0f}% of pairs, d_model={m['d_model']}, "
             f"{m['n_params']} params, {m['steps']} steps"]
    lines.append(f"weight decay {m['weight_decay']}: train 99% at steps {m['memorize_step']}, "
                 f"test 99% at {m['generalize_step']}")
    lines.append(f"weight decay 0: train 99% at {m['weight_decay_ablation']['memorize_step']}, test 99% at "
                 f"{m['weight_decay_ablation']['generalize_step']} (None: not within the budget)")
    if _delays(m):
        lines.append(f"grokking delay (test - train step), mean over seeds that generalized: "
                     f"{sum(_delays(m)) / len(_delays(m)):.0f} steps")
    t = m["transition"]
    lines.append(f"capacity test (alpha={m['alpha']:.2f} from {m['alpha_source']}): share generalized below ratio 1: "
                 f"{t['generalized_share_below_1']}, at or above 1: {t['generalized_share_above_1']}; "
                 f"smallest ratio that generalized {t['smallest_ratio_generalized']}, largest that did not "
                 f"{t['largest_ratio_not_generalized']}")
    below, above = t["generalized_share_below_1"], t["generalized_share_above_1"]
    if below is not None and above is not None:
        supported = above > below
        lines.append("verdict: the sweep " + ("supports" if supported else "does not support")
                     + " generalization setting in as dataset bits / capacity crosses 1 "
                     f"({100 * (above or 0):.0f}% of models at or above 1 reach 99% test accuracy, {100 * (below or 0):.0f}% below)")
    return "\n".join(lines)


def _passes(what: str, xs: list) -> str:
    """When `what` first passed 99%, per seed: 'test accuracy passes 99% at steps 2200, never', or never."""
    if all(x is None for x in xs):
        return f"{what} never passes 99%" + (" in any seed" if len(xs) > 1 else "")
    return (f"{what} passes 99% at step{'s' if len(xs) > 1 else ''} "
            + ", ".join("never" if x is None else str(x) for x in xs))


def answer(m: dict) -> str:
    """The title cell's answer: grokking with and without weight decay, and how the capacity-ratio sweep bears on
    'generalization sets in where dataset bits cross capacity', with its caveats."""
    gen = [g for g in m["generalize_step"] if g is not None]
    d, wd0 = _delays(m), m["weight_decay_ablation"]
    n, n0 = len(m["generalize_step"]), len(wd0["generalize_step"])
    setting = (f"p = {m['p']}, {100 * m['train_frac']:.0f}% of pairs for training, d_model {m['d_model']} "
               f"({m['n_params']:,} parameters), weight decay {m['weight_decay']:g}")
    out = [(f"- **Grokking, in {len(gen)} of {n} seeds:** " if gen else f"- **No grokking within {m['steps']} steps:** ")
           + f"at {setting}, {_passes('train accuracy', m['memorize_step'])} and "
           f"{_passes('test accuracy', m['generalize_step'])}" + (f", {min(d)}{'' if min(d) == max(d) else f'–{max(d)}'} steps later" if d else "")
           + " (the papers see test long after train at p = 113, 30% of pairs, d_model 128: not the same setting)."]
    gen0 = [g for g in wd0["generalize_step"] if g is not None]
    out.append(f"- **Without weight decay** ({n0} seed{'s' if n0 > 1 else ''}, the same {m['steps']} steps): "
               f"{_passes('test accuracy', wd0['generalize_step'])} (final test accuracy "
               + ", ".join(f"{a:.2f}" for a in wd0["final_test_acc"]) + ")"
               + ("; as the papers find, weight decay is what makes it generalize within the budget." if gen and not gen0
                  else "; the papers find grokking much slower or absent without it."))
    t = m["transition"]
    below, above = t["generalized_share_below_1"], t["generalized_share_above_1"]
    if below is None or above is None or below == above == 0:
        out.append("- **The capacity test is not settled at this scale:** "
                   + ("no model of the sweep reaches 99% test accuracy." if below == above == 0 else
                      "the sweep has models on only one side of dataset bits / capacity = 1."))
        return "\n".join(out)
    over = sorted({r["d_model"] for r in m["ratio_sweep"] if r["ratio"] >= 1})
    widths = sorted({r["d_model"] for r in m["ratio_sweep"]})
    out.append(f"- **The capacity test does {'' if above > below else 'not '}support** generalization setting in where "
               f"dataset bits cross capacity (Morris et al.): {100 * above:.0f}% of the sweep's models at dataset bits / "
               f"capacity ≥ 1 reach 99% test accuracy, {100 * below:.0f}% of those below 1. Caveats: ratio ≥ 1 holds only "
               f"at d_model {', '.join(map(str, over))} of the widths {', '.join(map(str, widths))}, so the ratio is "
               f"confounded with width; and α = {m['alpha']:.2f} bits/param, from {m['alpha_source']}, was "
               "measured on random tokens, so the ratio is a coarse axis.")
    return "\n".join(out)

"""Words about notebook 02, grokking: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
- `describe(m)`: the summary the notebook prints at its end.
- `answer(m)`: the title cell's answer.
- `describe_seeds(per_seed)`: when each classic run memorized and generalized.

Every verb is computed from the numbers it cites: the norm's (`norm_verb`), the onset's censoring and budget
stability (`onset_clause`), the capacity verdict (metrics' `onset_fit`, "not settled at this scale" where the
design cannot decide).
"""
from __future__ import annotations

from memlib.onset import NOT_SETTLED
from memlib.report.base import fmt

FLAT = 0.05  # a norm "rises" / "falls" when it moves by more than 5% of its value


def _setting(m: dict) -> str:
    return f"({m['scale']}, p={m['p']}, {100 * m['train_frac']:.1f}% of pairs, d_model={m['d_model']})"


def _at(s, budget=None) -> str:
    return (f"not within {budget:,} steps" if budget else "not reached") if s is None else f"{s:,}"


def _range(lo, hi, unit="") -> str:
    """'406–813' with open ends written as ≤ / >, or '?' when both are open."""
    if lo is None and hi is None:
        return "open at both ends"
    if lo is None:
        return f"≤ {hi:,}{unit}"
    if hi is None:
        return f"> {lo:,}{unit}"
    return f"{lo:,}–{hi:,}{unit}" if lo != hi else f"{lo:,}{unit}"


def norm_verb(n: dict) -> str:
    """What the decayed-weight norm did over a run: rises, falls, rises then falls, or stays about flat (moves of
    less than FLAT relative are 'flat')."""
    rose = n["peak"] > (1 + FLAT) * n["init"]
    fell = n["final"] < (1 - FLAT) * n["peak"]
    return {(True, True): "rises then falls", (True, False): "rises", (False, True): "falls",
            (False, False): "stays about flat"}[(rose, fell)]


def _norms(ns: list[dict]) -> str:
    """'rises then falls in every seed (4.2 → 9.1 at step 1,200 → 8.3)' or per seed when the seeds disagree."""
    verbs = [norm_verb(n) for n in ns]
    nums = ", ".join(f"{n['init']:.1f} → {n['peak']:.1f} at step {n['peak_step']:,} → {n['final']:.1f} at step "
                     f"{n['final_step']:,}" for n in ns)
    if len(set(verbs)) == 1:
        return f"{verbs[0]} in {'every seed' if len(ns) > 1 else 'its run'} ({nums})"
    return "; ".join(f"seed {n['seed']} {v}" for n, v in zip(ns, verbs)) + f" ({nums})"


def onset_clause(r: dict, steps: int, half: int, grid: list) -> str:
    """One width's onset in words: N* and its seed range, censoring, budget stability, representability."""
    head = f"d_model {r['d_model']} ({r['n_params']:,} params): "
    if r["censored"] == "right":
        body = (f"N* > {grid[-1]:,} pairs (right-censored: in most seeds the grid's largest training set did not "
                f"generalize within {steps:,} steps, which does not show that it cannot)")
    elif r["censored"] == "left":
        body = (f"N* ≤ {r['n_star']:,} pairs (left-censored: generalized at every grid point), seed range "
                f"{_range(r['ci_low'], r['ci_high'])}")
    else:
        body = f"N* = {r['n_star']:,} pairs, seed range {_range(r['ci_low'], r['ci_high'])}"
    if r["budget_stable"]:
        body += f"; the same at {half:,} steps"
    else:
        hb = r["n_star_half_budget"]
        body += (f"; at {half:,} steps N* was {f'{hb:,}' if hb else 'beyond the grid'} (seed range "
                 f"{_range(r['ci_low_half_budget'], r['ci_high_half_budget'])}): N* still moves with the budget, so "
                 f"N* at {steps:,} steps is an upper bound")
    if not r["representable"]:
        body += (f"; only {r['seeds_generalized']} seed(s) generalized anywhere on the grid, so this width may not "
                 "represent the task within the budget: left out of the fit")
    return head + body


def ratio_clause(r: dict, alpha: float) -> str:
    """Where a width's onset sits against capacity, in label bits: before it only if the whole range is below 1
    (label bits are an upper bound on what must be stored, so that direction holds; it depends on α)."""
    rng = (f"r* = N*·log2 p / (α·params) {_range_f(r['ratio_low'], r['ratio_high'])}")
    if not r["representable"]:
        return f"d_model {r['d_model']}: left out ({rng})"
    if r["ratio_high"] is not None and r["ratio_high"] < 1:
        return f"d_model {r['d_model']}: generalization begins before its training labels' bits reach capacity ({rng}, α = {alpha:.2f})"
    if r["ratio_low"] is not None and r["ratio_low"] >= 1:
        return (f"d_model {r['d_model']}: generalization begins only once label bits exceed capacity ({rng}); label "
                "bits overstate what must be stored, so this does not show stored bits reaching capacity")
    return f"d_model {r['d_model']}: {rng} includes 1 or is open: where it begins against capacity is {NOT_SETTLED}"


def _range_f(lo, hi) -> str:
    if lo is None and hi is None:
        return "open at both ends"
    if lo is None:
        return f"≤ {hi:.2f}"
    if hi is None:
        return f"> {lo:.2f}"
    return f"in {lo:.2f}–{hi:.2f}"


def _slope(f: dict) -> str:
    """'slope 0.42 in [0.10, 0.95]', with open ends written as ±∞."""
    lo = "−∞" if f["ci_low"] is None else f"{f['ci_low']:.2f}"
    hi = "+∞" if f["ci_high"] is None else f"{f['ci_high']:.2f}"
    point = "no point estimate (a censored width)" if f["slope"] is None else f"{f['slope']:.2f}"
    return f"slope {point}, range [{lo}, {hi}]"


def fit_sentence(m: dict) -> str:
    """The capacity verdict from onset_fit (label bits), with the stored-bits fit beside it."""
    f, g = m["onset_fit"], m["onset_fit_stored"]
    design = f"{f['n_widths']} width{'s' if f['n_widths'] != 1 else ''}, {len(m['seeds'])} seeds, {m['steps']:,} steps"
    stored = (f" In stored bits (notebook 01's estimator at the memorization step, net of what the model knows of "
              f"unseen pairs; each width's bits per pair a median over seeds, without an interval of its own): "
              f"{_slope(g)}, {g['verdict']}{_open(g)}." if g["n_widths"] >= 2 else "")
    if f["n_widths"] < 2:
        return (f"**Whether the onset tracks capacity is {NOT_SETTLED}:** fewer than 2 widths generalized in most "
                f"seeds within {m['steps']:,} steps ({design}), so no slope can be fitted.")
    if f["verdict"] == "consistent":
        head = "**The onset is consistent with tracking capacity:**"
        tail = "contains 1 and excludes 0."
    elif f["verdict"] == "inconsistent":
        head = "**The onset does not track capacity as predicted:**"
        tail = "excludes 1 (N* ∝ params)."
    else:
        head = f"**Whether the onset tracks capacity is {NOT_SETTLED}:**"
        tail = "contains both 0 and 1."
    return (f"{head} the slope of log N* on log params (Morris et al. predict 1: N*·bits ≈ α·params) is "
            f"{_slope(f)} ({design}), a range that {tail[:-1]}{_open(f)}.{stored}")


def _open(f: dict) -> str:
    """A note on a slope range's open ends (a censored or budget-unstable width)."""
    ends = [e for e, v in (("upper", f["ci_high"]), ("lower", f["ci_low"])) if v is None]
    if not ends or f["verdict"] == NOT_SETTLED:
        return ""
    return f" (its {' and '.join(ends)} end{'s are' if len(ends) > 1 else ' is'} open: a censored or budget-unstable width)"


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    if not m:
        return []
    wd0 = m["weight_decay_ablation"]
    at_mem = ", ".join(fmt(a, ".2f") for a in m["test_acc_at_memorize"])
    onset = "; ".join(f"d={r['d_model']}: {_onset_short(r, m['onset_grid']['n_train'])}" for r in m["onset"])
    f, g = m["onset_fit"], m["onset_fit_stored"]
    return [
        f"| 02 grokking: step of 99% train / held 99% test accuracy, per seed | {m['memorize_step']} / "
        f"{m['generalize_step']} (test accuracy at the 99%-train step {at_mem}) {_setting(m)} | test long after train "
        "(Power et al., Nanda et al.) |",
        f"| 02 grokking without weight decay ({wd0['steps']:,} steps): best test accuracy (step), per seed | "
        + ", ".join(f"{s['best_test_acc']:.3f} ({s['best_step']})" for s in wd0["per_seed"])
        + "; with weight decay at equal steps " + ", ".join(f"{s['best_test_acc']:.3f} ({s['best_step']})"
                                                         for s in wd0["with_weight_decay_equal_steps"])
        + " | much slower or absent |",
        f"| 02 onset N* (training pairs to generalize) per width, {len(m['seeds'])} seeds, {m['steps']:,} steps | "
        f"{onset} | N*·log2 p ≈ α·params (Morris et al.) |",
        f"| 02 slope of log N* on log params (label bits; stored bits) | {_slope(f)}: {f['verdict']}; {_slope(g)}: "
        f"{g['verdict']} (α = {m['alpha']:.2f}) | 1 |",
    ]


def _onset_short(r: dict, grid: list) -> str:
    if r["censored"] == "right":
        s = f"> {grid[-1]:,} (censored)"
    elif r["censored"] == "left":
        s = f"≤ {r['n_star']:,} (censored)"
    else:
        s = f"{r['n_star']:,} ({_range(r['ci_low'], r['ci_high'])})"
    return s + ("" if r["budget_stable"] else ", budget-unstable") + ("" if r["representable"] else ", excluded")


def _when(s, budget) -> str:
    return f"not within {budget:,} steps" if s is None else f"at step {s:,}"


def describe_seeds(per_seed: list[dict]) -> str:
    """One line per classic run: memorization, held generalization, first crossing, test accuracy at memorization."""
    return "\n".join(
        f"seed {r['seed']}: train 99% {_when(r['memorize_step'], r['budget'])}; test ≥ 99% (held) "
        f"{_when(r['generalize_step'], r['budget'])}; first crossing {_when(r['first_crossing'], r['budget'])}; test "
        f"accuracy at the 99%-train step {fmt(r['test_acc_at_memorize'], '.3f')}; stopped at step {r['steps']:,}, "
        f"final test accuracy {r['final_test_acc']:.3f}" for r in per_seed)


def describe(m: dict) -> str:
    """Plain-language summary of measured metrics."""
    wd0 = m["weight_decay_ablation"]
    lines = [f"scale={m['scale']}: p={m['p']}, n_train={m['n_train']} ({100 * m['train_frac']:.1f}% of pairs), "
             f"d_model={m['d_model']}, {m['n_params']} params, budget {m['steps']} steps, generalized = test accuracy "
             f">= {m['target']} at {m['hold']} evaluations in a row (every {m['eval_every']} steps)",
             describe_seeds(m["per_seed"]),
             f"decayed-weight norm with weight decay {m['weight_decay']:g}: {_norms(m['decayed_norm'])}",
             f"decayed-weight norm with weight decay 0: {_norms(wd0['decayed_norm'])}",
             "undecayed norm (LayerNorm gains, biases): " + ", ".join(
                 f"{n['undecayed_init']:.1f} → {n['undecayed_final']:.1f}" for n in m["decayed_norm"])]
    for s, e in zip(wd0["per_seed"], wd0["with_weight_decay_equal_steps"]):
        lines.append(f"seed {s['seed']}, weight decay 0, {wd0['steps']} steps: best test accuracy {s['best_test_acc']:.3f} "
                     f"at step {s['best_step']}, final {s['final_test_acc']:.3f}, gain over the last doubling "
                     f"{fmt(s['gain_last_doubling'], '+.3f')}, held 99% {_when(s['generalize_step'], wd0['steps'])}; with weight "
                     f"decay at equal steps: best {e['best_test_acc']:.3f} at step {e['best_step']}, held 99% "
                     f"{_when(e['generalize_step'], wd0['steps'])}")
    half = m["onset_grid"]["half_steps"]
    lines.append(f"onset grid: widths {m['onset_grid']['d_models']} x n_train {m['onset_grid']['n_train']} x seeds "
                 f"{m['onset_grid']['seeds']}, budget {m['steps']} (and {half}) steps; alpha = {m['alpha']:.3f} from "
                 f"{m['alpha_source']}")
    for r in m["onset"]:
        lines.append(onset_clause(r, m["steps"], half, m["onset_grid"]["n_train"]) + f"; per seed N*_s {r['seed_n_star']} (None: beyond the grid); "
                     f"label bits/param at N* {fmt(r['label_bits_per_param'], '.2f')}, stored bits/param "
                     f"{fmt(r['stored_bits_per_param'], '.2f')}")
        lines.append("  " + ratio_clause(r, m["alpha"]))
    for f in (m["onset_fit"], m["onset_fit_stored"]):
        lines.append(f"onset fit ({f['bits']} bits, widths {f['widths']}): {_slope(f)}: {f['verdict']}")
    lines.append(f"training time of this notebook's runs (as the run store recorded them): {m['training']['wall_s']:.0f} s "
                 f"({m['training']['wall_s'] / 60:.1f} min)")
    return "\n".join(lines)


def _classic(m: dict) -> str:
    gen = [g for g in m["generalize_step"] if g is not None]
    n = len(m["generalize_step"])
    delays = [g - t for g, t in zip(m["generalize_step"], m["memorize_step"]) if g is not None and t is not None]
    setting = (f"p = {m['p']}, {m['n_train']:,} training pairs ({100 * m['train_frac']:.1f}%), d_model {m['d_model']} "
               f"({m['n_params']:,} parameters), weight decay {m['weight_decay']:g}")
    at_mem = [a for a in m["test_acc_at_memorize"] if a is not None]
    head = f"- **Grokking, in {len(gen)} of {n} seeds:** " if gen else f"- **No generalization within {m['steps']:,} steps:** "
    out = (head + f"at {setting}, train accuracy passes 99% at step{'s' if n > 1 else ''} "
           + ", ".join(_at(s) for s in m["memorize_step"]) + f" and test accuracy holds ≥ 99% ({m['hold']} evaluations "
           f"in a row) from step{'s' if n > 1 else ''} " + ", ".join(_at(s, m['steps']) for s in m["generalize_step"]))
    if delays:
        out += f", {min(delays):,}{'' if min(delays) == max(delays) else f'–{max(delays):,}'} steps later"
    if at_mem:
        out += (f"; test accuracy was already {min(at_mem):.2f}{'' if min(at_mem) == max(at_mem) else f'–{max(at_mem):.2f}'}"
                " when train accuracy reached 99%")
    return out + " (the papers: p = 113, 30% of pairs, d_model 128; not the same setting)."


def _no_wd(m: dict) -> str:
    wd0 = m["weight_decay_ablation"]
    n0 = len(wd0["per_seed"])
    best = ", ".join(f"{s['best_test_acc']:.3f} at step {s['best_step']:,}" for s in wd0["per_seed"])
    eq = ", ".join(f"{s['best_test_acc']:.3f} at step {s['best_step']:,}" for s in wd0["with_weight_decay_equal_steps"])
    gen0 = [s for s in wd0["per_seed"] if s["generalize_step"] is not None]
    gen1 = [s for s in wd0["with_weight_decay_equal_steps"] if s["generalize_step"] is not None]
    counts = (f"with weight decay {len(gen1)} of {n0} seed{'s' if n0 > 1 else ''} held 99% within the same steps, "
              f"without it {len(gen0)} of {n0}")
    if len(gen1) == n0 and not gen0:
        tail = f"; {counts}: weight decay is what makes it generalize within this budget, as the papers find"
    elif len(gen1) > len(gen0):
        tail = f"; {counts}: the direction the papers find, though not in every seed"
    elif gen0:
        tail = f"; {counts}: no slowdown that this budget can show"
    else:
        tail = f"; {counts}: the comparison is not settled at this scale"
    return (f"- **Without weight decay** ({n0} seed{'s' if n0 > 1 else ''}, {wd0['steps']:,} steps): best test accuracy "
            f"{best}; with weight decay, at the same steps: {eq}" + tail + ".")


def answer(m: dict) -> str:
    """The title cell's answer: grokking with and without weight decay, the decayed-weight norm, the onset per width
    and how its fit bears on 'generalization begins where dataset bits reach capacity'."""
    half = m["onset_grid"]["half_steps"]
    norm = (f"- **Weight norm:** the norm of the weights weight decay acts on (matrices and embeddings) "
            f"{_norms(m['decayed_norm'])}; without weight decay it {_norms(m['weight_decay_ablation']['decayed_norm'])}. "
            "Runs stop soon after they generalize, so a later fall is not observed.")
    onset = ("- **Onset per width** (smallest training set that generalizes within "
             f"{m['steps']:,} steps, {len(m['seeds'])} seeds, grid {', '.join(map(str, m['onset_grid']['n_train']))}): "
             + "; ".join(onset_clause(r, m["steps"], half, m["onset_grid"]["n_train"]) for r in m["onset"]) + ".")
    ratios = "- **Against capacity, per width:** " + "; ".join(ratio_clause(r, m["alpha"]) for r in m["onset"]) + (
        f". α = {m['alpha']:.2f} bits/param is notebook 01's ({m['alpha_source']}), measured on random tokens; only the "
        "slope below is free of it.")
    return "\n".join([_classic(m), _no_wd(m), norm, onset, ratios, "- " + fit_sentence(m)])

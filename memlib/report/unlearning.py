"""Words about notebook 07, unlearning: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
- `describe(m)`: what the notebook prints at its end: every forget set, method, repetition count and the onion;
  `training(m)`: the training time.
- `answer(m)`: the title cell's answer, beside the claims of REFERENCE.md §7.
- `beside_paper(m)`: the claims with what this run measured and a verdict computed from the numbers.
"""
from __future__ import annotations

import pandas as pd

from memlib.diet import SCORES
from memlib.unlearning import REFERENCE


def _nan(x):
    """The metrics as the notebook computed them: the JSON's nulls (NaN when written) back to NaN, so that a number
    not measured at this scale prints as nan and never counts as a verdict."""
    if isinstance(x, dict):
        return {k: _nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan(v) for v in x]
    return float("nan") if x is None else x


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
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


def describe(m: dict) -> str:
    """Plain-language reading of the measured numbers."""
    m = _nan(m)
    lines = [f"{m['scale']}: {m['dataset']} ({m['n_train']} training / {m['n_test']} test), {m['model']['type']} "
             f"({m['model']['n_params']:,} params); forget sets of {m['n_forget']}; unlearning from "
             f"{len(m['original_seeds'])} originals, retrained references with {len(m['retrain_seeds'])} seeds"]
    best = pd.DataFrame(m["best_budget"])
    for kind, g in best.groupby("forget_kind", sort=False):
        g = g.set_index("method")
        ret, org = g.loc["retrain"], g.loc["original"]
        lines.append(f"{kind} forget set: retrained forget acc {ret.forget_acc:.2f}, MIA AUC {ret.forget_mia_auc:.2f}, "
                     f"test acc {ret.test_acc:.3f}; original: forget acc {org.forget_acc:.2f}, AUC {org.forget_mia_auc:.2f}, "
                     f"distance {org.distance_to_retrained:.1f} (a retrained seed: {ret.distance_to_retrained:.1f}); forget loss "
                     f"{org.forget_loss:.3g} nats (original) vs {ret.forget_loss:.3g} (retrained)")
        for meth in [x for x in g.index if x not in REFERENCE]:
            r = g.loc[meth]
            lines.append(f"  {meth} (best budget {int(r.budget)} steps): distance {r.distance_to_retrained:.1f} ± "
                         f"{r.distance_to_retrained_sd:.1f}, forget acc {r.forget_acc:.2f}, AUC {r.forget_mia_auc:.2f}, "
                         f"test acc {r.test_acc:.3f}")
    d = m["difficulty"]
    rhos = {s: d[s]["rho"] for s in SCORES}
    top = max(rhos, key=lambda s: abs(rhos[s]) if rhos[s] == rhos[s] else -1)
    lines.append(f"difficulty ({d['method']}, {d['n_examples']} forget examples, {d['censored_share']:.0%} not reaching "
                 "the retrained loss in some original): Spearman(effort, score) " + ", ".join(
                     f"{s} {d[s]['rho']:+.2f} [{d[s]['ci_low']:+.2f}, {d[s]['ci_high']:+.2f}]" for s in SCORES)
                 + f"; best predictor: {top}; within the random set " + ", ".join(
                     f"{s} {d[s]['random_set']['rho']:+.2f}" for s in SCORES))
    for r in m["repetition"]:
        lines.append(f"canaries seen r={r['r']}: exposure {r['before']:.1f} -> {r['after']:.1f} bits, code length "
                     f"{r['before_nats']:.1f} -> {r['after_nats']:.1f} nats after {r['budget']} steps of "
                     f"{m['repetition_model']['method']} (never-seen canaries: {r['unseen']:.1f} bits, {r['unseen_nats']:.1f} "
                     f"nats); steps until the code length reaches the never-seen level {r['effort_mean']:.0f} "
                     f"({r['censored']:.0%} not within the budgets)")
    if isinstance(d.get("repetitions"), dict):
        lines.append(f"Spearman(repetitions, effort) {d['repetitions']['rho']:+.2f} "
                     f"[{d['repetitions']['ci_low']:+.2f}, {d['repetitions']['ci_high']:+.2f}]")
    o = m["onion"]
    rm, ul, co = o["removal"], o["unlearning"], o["canaries"]
    lines.append(f"onion (layers of {o['k']}): layer-2 membership AUC {rm['before']:.3f} with a random set removed vs "
                 f"{rm['after']:.3f} with layer 1 removed (difference {rm['difference']:+.3f}, 95% CI {rm['ci_low']:+.3f} to "
                 f"{rm['ci_high']:+.3f}); unlearning layer 1: layer-2 AUC {ul['before']:.3f} -> {ul['after']:.3f} "
                 f"(control {ul['control']:.3f}); canaries: unlearning the r={co['forgotten_r']} canaries moves the "
                 f"r={co['measured_r']} canaries' exposure {co['before']:.1f} -> {co['after']:.1f} bits")
    return "\n".join(lines)


def training(m: dict) -> str:
    """The recorded training time of this notebook's own runs, and of the originals it starts from."""
    up = {k: f"{v / 60:.1f}" for k, v in m["training"]["upstream_wall_s"].items()}
    own = m["training"]["wall_s"] / 60
    return f"training time of this notebook's own runs: {own:.1f} min (the originals took {up['images']} + " \
        f"{up['canaries']} min in notebooks 06 and 04)"


def _verdict(lo: float, hi: float) -> str:
    if not (lo == lo and hi == hi):
        return "not measured"
    return "supported" if lo > 0 else "contradicted" if hi < 0 else "not resolved (interval spans 0)"


def beside_paper(m: dict) -> pd.DataFrame:
    """The claims of REFERENCE.md §7 beside what this run measured, with a verdict computed from the numbers."""
    m = _nan(m)
    best = pd.DataFrame(m["best_budget"])
    forgetters = [x for x in m["methods"] if x != "finetune"]
    at = best.set_index(["forget_kind", "method"])
    rows = []
    # 1. outliers vs in-distribution
    ok = []
    parts = []
    for meth in forgetters:
        a, t = at.loc[("atypical", meth)], at.loc[("typical", meth)]
        drop_a = at.loc[("atypical", "original")].test_acc - a.test_acc
        drop_t = at.loc[("typical", "original")].test_acc - t.test_acc
        ok.append(a.distance_to_retrained < t.distance_to_retrained and drop_a <= drop_t)
        parts.append(f"{meth}: distance {a.distance_to_retrained:.1f} vs {t.distance_to_retrained:.1f}, test-acc drop "
                     f"{drop_a:+.3f} vs {drop_t:+.3f}")
    res = pd.DataFrame(m["results"])
    top_b = res[res.method == forgetters[0]].budget.max()
    eq = res[(res.method == forgetters[0]) & (res.budget == top_b)].groupby("forget_kind")[["forget_acc", "test_acc"]].mean()
    rows.append(dict(claim="memorized outliers can be unlearned without hurting performance; in-distribution examples cannot",
                     paper="finding to test (no number)", ours="atypical vs typical forget set at each method's best budget: "
                     + "; ".join(parts) + f". At equal effort ({forgetters[0]}, {top_b} steps): forget acc / test acc "
                     + ", ".join(f"{k} {v.forget_acc:.2f} / {v.test_acc:.3f}" for k, v in eq.iterrows()),
                     verdict="supported" if all(ok) else "contradicted" if not any(ok) else f"mixed ({sum(ok)} of {len(ok)} methods)"))
    # 2. repetitions
    d = m["difficulty"]
    rp = d["repetitions"] if isinstance(d.get("repetitions"), dict) else None
    rows.append(dict(claim="more repetitions make unlearning harder", paper="finding to test (no number)",
                     ours="; ".join(f"r={r['r']}: {r['effort_mean']:.0f} steps to the never-seen code length, exposure "
                                    f"{r['before']:.1f} -> {r['after']:.1f} bits" for r in m["repetition"])
                     + (f"; Spearman(r, effort) {rp['rho']:+.2f} [{rp['ci_low']:+.2f}, {rp['ci_high']:+.2f}]" if rp else ""),
                     verdict=_verdict(rp["ci_low"], rp["ci_high"]) if rp else "not measured"))
    # 3. harder examples
    top = max(SCORES, key=lambda s: d[s]["rho"] if d[s]["rho"] == d[s]["rho"] else -2)
    rows.append(dict(claim="harder examples are harder to unlearn", paper="finding to test (no number)",
                     ours="Spearman(effort, score) " + ", ".join(f"{s} {d[s]['rho']:+.2f} [{d[s]['ci_low']:+.2f}, "
                                                                f"{d[s]['ci_high']:+.2f}]" for s in SCORES)
                     + f"; best predictor {top}; within the random set {top} {d[top]['random_set']['rho']:+.2f} "
                       f"[{d[top]['random_set']['ci_low']:+.2f}, {d[top]['random_set']['ci_high']:+.2f}]",
                     verdict=_verdict(d[top]["ci_low"], d[top]["ci_high"]) + " over all forget examples; "
                     + _verdict(d[top]["random_set"]["ci_low"], d[top]["random_set"]["ci_high"]) + " within the random set"))
    # 4. membership inference vs retrained
    gaps = [f"{k} {at.loc[(k, meth)].forget_mia_auc - at.loc[(k, 'retrain')].forget_mia_auc:+.3f}"
            for k in dict.fromkeys(best.forget_kind) for meth in forgetters[:1]]
    sd = best[best.method == "retrain"].forget_mia_auc_sd.mean()
    rows.append(dict(claim="an unlearned model's forget set should look like never-seen data to membership inference, as "
                           "for the retrained model", paper="evaluation criterion",
                     ours=f"AUC − retrained AUC at {forgetters[0]}'s best budget: " + ", ".join(gaps)
                          + f" (retrained seeds' sd {sd:.3f})", verdict="see the figure: two-sided, per method and budget"))
    # 5. onion
    o = m["onion"]["removal"]
    rows.append(dict(claim="removing the most exposed examples exposes the next layer (Carlini et al. 2022)",
                     paper="finding (CIFAR-10, LiRA)", ours=f"layer-2 membership AUC {o['before']:.3f} (random set removed) vs "
                     f"{o['after']:.3f} (layer 1 removed), difference {o['difference']:+.3f} [{o['ci_low']:+.3f}, {o['ci_high']:+.3f}]",
                     verdict=_verdict(o["ci_low"], o["ci_high"])))
    return pd.DataFrame(rows)


def _kind(best: pd.DataFrame, kind: str, method: str) -> str:
    """One forget set's best method beside the original and a retrained seed: distance, then test accuracy."""
    b, o, r = (best.loc[(kind, x)] for x in (method, "original", "retrain"))
    return (f"{kind} {method} {b.distance_to_retrained:.1f} (original {o.distance_to_retrained:.1f}, a retrained seed "
            f"{r.distance_to_retrained:.1f}; test accuracy {b.test_acc:.3f}, original {o.test_acc:.3f})")


def answer(m: dict) -> str:
    """The title cell's answer: each claim's verdict with the key numbers, and what is not like for like."""
    m, v = _nan(m), beside_paper(m).verdict.tolist()
    best = pd.DataFrame(m["best_budget"]).set_index(["forget_kind", "method"])
    kinds = list(dict.fromkeys(k for k, _ in best.index))
    top = {k: best.loc[k].drop(list(REFERENCE)).distance_to_retrained.idxmin() for k in kinds}
    d, o = m["difficulty"], m["onion"]
    score = max(SCORES, key=lambda s: d[s]["rho"] if d[s]["rho"] == d[s]["rho"] else -2)
    rp, rm, ul = d["repetitions"] if isinstance(d.get("repetitions"), dict) else None, o["removal"], o["unlearning"]
    rep = ", ".join(f"r = {r['r']} {r['before']:.1f} → {r['after']:.1f} bits" for r in m["repetition"])
    return "\n".join([
        f"**Answer ({m['scale']} run).** Memorized outliers can be unlearned without hurting the model and typical "
        f"examples cannot (the claim): {v[0]} here. Distance to models retrained without the forget set (1 = their own "
        "seed spread) of the best method at its best budget: " + "; ".join(_kind(best, k, top[k]) for k in kinds) + ".",
        "",
        f"- More repetitions, harder to unlearn: {v[1]}"
        + (f" (Spearman(r, steps) {rp['rho']:+.2f} [{rp['ci_low']:+.2f}, {rp['ci_high']:+.2f}])"
           if rp and rp["rho"] == rp["rho"] else "")
        + f"; canary exposure after {m['repetition'][0]['budget']} steps: {rep}.",
        f"- Harder examples, harder to unlearn: {v[2]} (Spearman(effort, {score}) {d[score]['rho']:+.2f} "
        f"[{d[score]['ci_low']:+.2f}, {d[score]['ci_high']:+.2f}]).",
        f"- Onion (Carlini et al. 2022: the next layer becomes more exposed): {v[4]} for removal (removing layer 1 "
        f"instead of a random set changes layer 2's AUC by {rm['difference']:+.3f} [{rm['ci_low']:+.3f}, {rm['ci_high']:+.3f}]); unlearning "
        f"layer 1 moves layer 2's AUC {ul['before']:.2f} → {ul['after']:.2f} (random set: {ul['control']:.2f}).",
        f"- Not like for like: a {m['model']['n_params'] / 1e3:.0f}K-parameter {m['model']['type'].upper()} on "
        f"{m['n_train']:,} {m['dataset']} images and small GPTs with canaries, not CIFAR ResNets or fine-tuned LLMs; a "
        "loss-threshold attack, not LiRA; budgets picked with the retrained models in hand (an upper bound on each method).",
    ])

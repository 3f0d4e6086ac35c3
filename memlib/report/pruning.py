"""Words about notebook 08, pruning: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
- `describe(m)`: what the notebook prints at its end, the measured results in words.
- `beside_the_paper(m)`: the papers' claims beside what the run measured, a table.
- `answer(m)`: the title cell's answer, beside Jin et al. (2022, 2023).
"""
from __future__ import annotations

import pandas as pd

from memlib.pruning import KINDS, MODES, noise_summary
from memlib.report.base import fmt
from memlib.report.diet import DATASET_NAMES


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        d = m["drop_5pt_sparsity"]
        rows.append(f"| 08 sparsity where accuracy drops 5 points, facts / in-context (one-shot; with recovery) ({m['scale']}) | "
                    f"{fmt(d['fact']['one-shot'], '.0%')} / {fmt(d['icl']['one-shot'], '.0%')}; "
                    f"{fmt(d['fact']['recovery'], '.0%')} / {fmt(d['icl']['recovery'], '.0%')} | ~30% / 60–70% (Jin et al. 2023) |")
        for rw in sorted({r["rewind"] for r in m["pruning_vs_dense"]}):
            rs = [r for r in m["pruning_vs_dense"] if r["rewind"] == rw]
            b = max(rs, key=lambda r: r["d_test_acc"])
            rows.append(f"| 08 {100 * m['noise']:.0f}% noisy labels, IMP (rewind {rw}) vs dense: best test-accuracy change, "
                        f"at sparsity; change in fitting the mislabeled there | {100 * b['d_test_acc']:+.1f} pts at "
                        f"{b['sparsity']:.0%}; {100 * b['d_train_acc_noisy']:+.1f} pts | moderate sparsity helps by not fitting "
                        "the noise (Jin et al. 2022) |")
    return rows


def describe(m: dict) -> str:
    """Plain-language reading of the measured results."""
    lines = [f"{m['scale']}: {m['dataset']}, {m['n_train']} training images, {m['n_relabelled']} "
             f"({m['noise']:.0%}) relabelled; MLP {m['mlp']['n_params']:,} params, {m['steps']} steps per run; "
             f"iterative pruning {m['rate']:.0%} per round to {m['round_sparsities'][-1]:.1%}, seeds {m['seeds']}"]
    df = pd.DataFrame(m["noisy_labels_all"])
    s = noise_summary(df)
    for (kind, rewind), g in s.groupby(["kind", "rewind"], sort=False):
        name = "dense control (same nonzero count)" if kind == "control" else f"pruned, {rewind} rewinding"
        lines.append(f"{name}: " + "; ".join(
            f"{r.sparsity:.0%}: test {r.test_acc_mean:.3f}, clean fit {r.train_acc_clean_mean:.3f}, noisy fit "
            f"{r.train_acc_noisy_mean:.3f}" for r in g.itertuples() if r.sparsity == 0 or r.Index % 3 == 0
            or r.sparsity == g.sparsity.max()))
    h = pd.DataFrame(m["pruning_vs_dense"])
    for rewind, g in h.groupby("rewind", sort=False):
        up = g[g.helps_every_seed].sparsity.tolist()
        best = g.loc[g.d_test_acc.idxmax()]
        lines.append(f"{rewind} rewinding: test accuracy above dense in every seed at sparsities "
                     f"{[round(x, 3) for x in up] or 'none'}; best {best.sparsity:.1%} ({best.d_test_acc:+.3f}, noisy "
                     f"fit {best.d_train_acc_noisy:+.3f}, clean fit {best.d_train_acc_clean:+.3f} vs dense)")
    top = s.sparsity.max()
    at = s[s.sparsity == top].set_index(["kind", "rewind"])
    ctrl = at.loc[("control", "none")]
    for rewind in dict.fromkeys(h.rewind):
        r = at.loc[("pruned", rewind)]
        lines.append(f"at {top:.1%} ({rewind} rewinding) the pruned MLP fits {r.train_acc_noisy_mean:.0%} of the relabelled "
                     f"examples (dense {s[(s.sparsity == 0)].train_acc_noisy_mean.iloc[0]:.0%}) with test accuracy "
                     f"{r.test_acc_mean:.3f}; a dense MLP with as many parameters fits {ctrl.train_acc_noisy_mean:.0%} with "
                     f"{ctrl.test_acc_mean:.3f}: " + ("size alone removes more of the noise fit than pruning to that size"
                                                       if ctrl.train_acc_noisy_mean < r.train_acc_noisy_mean else
                                                       "pruning removes more of the noise fit than size alone"))
    f = pd.DataFrame(m["flips"])
    if len(f):
        last = f.iloc[-1]
        lines.append(f"flips ({last.rewind} rewinding, {last.sparsity:.1%}): {int(last.n_lost)} fitted examples lost "
                     f"over seeds, {last.share_relabelled:.0%} of them relabelled; clean ones lost have 06 memorization "
                     f"{last.mem_lost_clean:.2f} vs {last.mem_kept_clean:.2f} kept (AUROC {last.auroc_mem:.2f})")
    t = pd.DataFrame(m["facts_vs_icl"]).groupby(["mode", "sparsity"]).mean(numeric_only=True)
    for mode in MODES:
        lines.append(f"facts vs ICL, {mode}: " + "; ".join(
            f"{s:.0%} fact {r.fact_acc:.2f} / icl {r.icl_acc:.2f}" for s, r in t.loc[mode].iterrows()))
    d = m["drop_5pt_sparsity"]
    lines.append("5-point drop at sparsity: " + "; ".join(f"{k} {mode} {_drop_at(d[k][mode], 'none up to the largest')}"
                                                          for k in KINDS for mode in MODES)
                 + f" (dense: fact {m['dense_task_acc']['fact']:.3f}, icl {m['dense_task_acc']['icl']:.3f}; chance "
                 f"{m['tasks']['chance']['fact']:.3f} / {m['tasks']['chance']['icl']:.3f})")
    lines += [f"{mode}: {_first_to_drop(d, mode)}" for mode in MODES]
    return "\n".join(lines)


def _drop_at(v: float | None, none: str) -> str:
    """A 5-point-drop sparsity as a percentage, or `none` where accuracy never dropped by 5 points."""
    return none if v is None else f"{v:.0%}"


def _first_to_drop(d: dict, mode: str) -> str:
    """Which of facts and in-context retrieval drops 5 points first under `mode`, from drop_5pt_sparsity `d`."""
    sf, si = d["fact"][mode], d["icl"][mode]
    return ("neither drops by 5 points" if sf is None and si is None else
            "facts drop first" if si is None or (sf is not None and sf < si) else
            "in-context retrieval drops first" if sf is None or si < sf else "both drop at the same sparsity")


def beside_the_paper(m: dict) -> pd.DataFrame:
    """The papers' claims (`../shared/REFERENCE.md` §8, targets) beside what this run measured."""
    s = noise_summary(pd.DataFrame(m["noisy_labels_all"]))
    rw = m["noisy_labels_rewind"]
    p = s[(s.kind == "pruned") & (s.rewind == rw)].set_index("sparsity")
    c = s[s.kind == "control"].set_index("sparsity")
    h = pd.DataFrame(m["pruning_vs_dense"])
    h = h[h.rewind == rw]
    best = h.loc[h.d_test_acc.idxmax()]
    up = h[h.helps_every_seed].sparsity
    d0 = p.loc[0.0]
    top = p.index.max()
    d = m["drop_5pt_sparsity"]
    none = f"> {max(r['sparsity'] for r in m['facts_vs_icl']):.0%} (no drop)"
    helped = (f"above dense in every seed at {up.min():.0%}–{up.max():.0%} sparsity" if len(up) else
              "at no sparsity above dense in every seed")
    rows = [
        ("Jin et al. 2022: pruning to moderate sparsity reduces the fitting of mislabeled examples",
         "fewer noisy labels fitted at moderate sparsity",
         f"relabelled examples fitted: dense {d0.train_acc_noisy_mean:.3f}, at {best.sparsity:.0%} "
         f"{p.loc[best.sparsity].train_acc_noisy_mean:.3f}, at {top:.1%} {p.loc[top].train_acc_noisy_mean:.3f} "
         f"({rw} rewinding)"),
        ("Jin et al. 2022: ... and can improve test accuracy",
         "test accuracy up at some sparsities",
         f"test accuracy dense {d0.test_acc_mean:.3f}; {helped}; best {best.sparsity:.0%}: {best.d_test_acc:+.3f}"),
        ("Pruning or size? (our control)", "—",
         f"at {top:.1%}: pruned {p.loc[top].test_acc_mean:.3f} test / {p.loc[top].train_acc_noisy_mean:.3f} noisy fit; "
         f"dense MLP with as many parameters {c.loc[top].test_acc_mean:.3f} / {c.loc[top].train_acc_noisy_mean:.3f}"),
        ("Jin et al. 2023: fact recall degrades once > ~30% of weights are removed", "~30%",
         f"5-point drop at {_drop_at(d['fact']['one-shot'], none)} one-shot, {_drop_at(d['fact']['recovery'], none)} "
         "with recovery"),
        ("Jin et al. 2023: in-context learning survives 60–70% sparsity", "60–70%",
         f"5-point drop at {_drop_at(d['icl']['one-shot'], none)} one-shot, {_drop_at(d['icl']['recovery'], none)} "
         "with recovery"),
    ]
    return pd.DataFrame(rows, columns=["claim", "paper (target)", "this run"])


def _by_rewind(v: pd.Series) -> str:
    """Values indexed by rewind: lr rewinding 1.000, weights rewinding 0.962."""
    return ", ".join(f"{rw} rewinding {x:.3f}" for rw, x in v.items())


def answer(m: dict) -> str:
    """The title cell's answer: the key numbers of this run beside the papers' targets, with the caveats."""
    s = noise_summary(pd.DataFrame(m["noisy_labels_all"]))
    pruned = s[s.kind == "pruned"]
    dense = pruned[pruned.sparsity == 0].iloc[0]
    sp = sorted(pruned[pruned.sparsity > 0].sparsity.unique())
    mid, top = min(sp, key=lambda x: abs(x - 0.5)), sp[-1]  # a moderate sparsity, and the highest
    fit_mid, fit_top = (pruned[pruned.sparsity == x].set_index("rewind").train_acc_noisy_mean for x in (mid, top))
    ctrl = s[(s.kind == "control") & (s.sparsity == top)].iloc[0]
    h = pd.DataFrame(m["pruning_vs_dense"])
    best, up = h.loc[h.d_test_acc.idxmax()], h[h.helps_every_seed]
    helped = (f"iterative magnitude pruning lifts test accuracy above the dense MLP's {dense.test_acc_mean:.3f} in "
              "every seed at " + ", ".join(f"{r.sparsity:.0%} ({r.rewind} rewinding)" for r in up.itertuples())
              if len(up) else f"no sparsity of iterative magnitude pruning lifts test accuracy above the dense MLP's "
              f"{dense.test_acc_mean:.3f} in every seed (best: {best.rewind} rewinding at {best.sparsity:.1%}, "
              f"{100 * best.d_test_acc:+.1f} points on average)")
    size = ("fewer parameters alone remove more of the noise fit than pruning" if ctrl.train_acc_noisy_mean < fit_top.min()
            else "pruning removes more of the noise fit than fewer parameters alone" if ctrl.train_acc_noisy_mean > fit_top.max()
            else "size alone removes about as much of the noise fit")
    more = ("more" if (fit_mid > dense.train_acc_noisy_mean).all() else
            "fewer" if (fit_mid < dense.train_acc_noisy_mean).all() else "about as many")
    d, none = m["drop_5pt_sparsity"], f"none up to {max(r['sparsity'] for r in m['facts_vs_icl']):.0%}"
    grid = sorted({r["sparsity"] for r in m["facts_vs_icl"]})
    g, tasks = m["gpt"], m["tasks"]
    return "\n".join([
        f"- **Noisy labels: {'pruning helps' if len(up) else 'no gain in every seed'}.** With {m['noise']:.0%} of "
        f"the {m['n_train']:,} training labels replaced, {helped}; at a moderate {mid:.0%} sparsity the pruned MLPs "
        f"fit {more} of the relabelled examples {'as' if more == 'about as many' else 'than'} dense "
        f"({_by_rewind(fit_mid)}; dense {dense.train_acc_noisy_mean:.3f}). "
        "Jin et al. 2022 (target): moderate sparsity fits fewer mislabeled examples and can raise test accuracy.",
        f"- **Pruning or size?** The share of relabelled examples fitted at {top:.1%} sparsity: {_by_rewind(fit_top)}; "
        f"a dense MLP with as many parameters, from scratch: {ctrl.train_acc_noisy_mean:.3f} (test accuracy "
        f"{ctrl.test_acc_mean:.3f}): {size}.",
        f"- **Facts vs in-context retrieval.** Pruned one-shot, answer accuracy falls 5 points below dense at "
        f"{_drop_at(d['fact']['one-shot'], none)} sparsity for facts and {_drop_at(d['icl']['one-shot'], none)} for "
        f"in-context retrieval ({_first_to_drop(d, 'one-shot')}); after a {m['recovery_steps']}-step recovery "
        f"fine-tune at {_drop_at(d['fact']['recovery'], none)} and {_drop_at(d['icl']['recovery'], none)} "
        f"({_first_to_drop(d, 'recovery')}). Jin et al. 2023 (target): facts go at ~30%, in-context learning survives "
        "60–70%.",
        f"- **Not like for like.** A {g['n_layer']}-layer, {g['d_model']}-wide GPT trained from scratch on synthetic "
        f"facts and in-context retrieval by {'slot' if tasks['key_order'] == 'fixed' else 'matching keys'}, pruned by "
        "plain global magnitude (the paper: SparseGPT on pretrained language models), and an MLP on "
        f"{DATASET_NAMES.get(m['dataset'], m['dataset'])} for the noisy labels; the 5-point sparsity is read off a "
        f"{grid[1] - grid[0]:.0%} grid, over {len(g['seeds'])} GPT seed{'s' if len(g['seeds']) > 1 else ''}. LR rewinding trains every round a full "
        "schedule more, so its noise fit mixes pruning with extra training.",
    ])

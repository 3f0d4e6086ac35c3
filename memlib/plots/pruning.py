"""Figures of notebook 08 pruning: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib.pyplot as plt


_PRUNE_STYLE = {("pruned", "lr"): ("C3", "-", "pruned, LR rewinding"),
                ("pruned", "weights"): ("C0", "-", "pruned, weights rewound to init"),
                ("control", "none"): ("C7", "--", "dense, as many parameters as nonzero")}


def pruning_noisy(summary, chance_noisy: float | None = None):
    """Test accuracy, training accuracy on clean and on relabelled examples against sparsity (iterative magnitude
    pruning; the dense controls at the sparsity whose nonzero count they match); mean ± sd over seeds."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    ys = (("test_acc", "test accuracy (clean test labels)"), ("train_acc_clean", "training accuracy, clean labels"),
          ("train_acc_noisy", "training accuracy, relabelled examples\n(fitting the wrong label)"))
    for ax, (y, title) in zip(axes, ys):
        for (kind, rewind), d in summary.groupby(["kind", "rewind"], sort=False):
            color, ls, label = _PRUNE_STYLE[(kind, rewind)]
            d = d.sort_values("sparsity")
            ax.plot(d.sparsity, d[f"{y}_mean"], marker="o", ms=3, color=color, ls=ls, label=label)
            ax.fill_between(d.sparsity, d[f"{y}_mean"] - d[f"{y}_std"].fillna(0), d[f"{y}_mean"] + d[f"{y}_std"].fillna(0),
                            color=color, alpha=0.15)
        dense = summary[(summary.kind == "pruned") & (summary.sparsity == 0)][f"{y}_mean"].mean()
        ax.axhline(dense, color="k", ls=":", lw=1, label=f"dense ({dense:.3f})")
        if y == "train_acc_noisy" and chance_noisy is not None:
            ax.axhline(chance_noisy, color="k", ls="-.", lw=0.8, label=f"chance ({chance_noisy:.2f})")
        ax.set(xlabel="sparsity (fraction of weights pruned)", title=title)
        ax.legend(fontsize=7)
    return fig


def pruning_flips(flips):
    """Examples the dense model fits that pruned models no longer fit: how many, the share relabelled, and the
    notebook-06 memorization of the clean-labelled ones lost vs kept."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for rewind, d in flips.groupby("rewind", sort=False):
        color = _PRUNE_STYLE[("pruned", rewind)][0]
        axes[0].plot(d.sparsity, d.share_relabelled, marker="o", ms=3, color=color, label=f"{rewind} rewinding")
        axes[1].plot(d.sparsity, d.mem_lost_clean, marker="o", ms=3, color=color, label=f"{rewind}: lost")
        axes[1].plot(d.sparsity, d.mem_kept_clean, marker="o", ms=3, color=color, ls="--", label=f"{rewind}: still fitted")
    axes[0].set(xlabel="sparsity", ylabel="share relabelled", ylim=(0, 1.02),
                title="Examples the pruned model stops fitting:\nshare that are relabelled")
    axes[1].set(xlabel="sparsity", ylabel="mean memorization (notebook 06)",
                title="Clean-labelled examples: memorization of those\nlost vs those still fitted")
    for ax in axes:
        ax.legend(fontsize=7)
    return fig


def facts_vs_icl(df, chance: dict, drops: dict):
    """Answer accuracy on facts and on in-context retrieval against sparsity, one-shot and after a recovery
    fine-tune (mean over seeds; dotted: chance; markers: the sparsity of a 5-point drop)."""
    modes = list(dict.fromkeys(df["mode"]))
    fig, axes = plt.subplots(1, len(modes), figsize=(5.8 * len(modes), 4.2), sharey=True, squeeze=False)
    for ax, mode in zip(axes[0], modes):
        g = df[df["mode"] == mode].groupby("sparsity")[["fact_acc", "icl_acc"]].agg(["mean", "min", "max"])
        for kind, color, label in (("fact", "C3", "fact recall (weights)"), ("icl", "C0", "in-context retrieval")):
            c = f"{kind}_acc"
            ax.plot(g.index, g[(c, "mean")], marker="o", color=color, label=label)
            ax.fill_between(g.index, g[(c, "min")], g[(c, "max")], color=color, alpha=0.15)
            ax.axhline(chance[kind], color=color, ls=":", lw=1)
            s = drops[kind][mode]
            if s is not None:
                ax.axvline(s, color=color, ls="--", lw=1, label=f"{kind}: 5-point drop at {s:.0%}")
        ax.set(xlabel="sparsity (global magnitude)", ylabel="answer accuracy", title=mode, ylim=(0, 1.02))
        ax.legend(fontsize=8)
    return fig

"""Figures of notebook 06 data diet: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


_KEEP_STYLE = {"highest": ("C3", "-"), "random": ("C7", "--"), "lowest": ("C0", "-"), "all": ("k", ":")}


def _mean_band(ax, d, x, label, color, ls="-"):
    """Mean of test_acc over seeds against x, with a band of ± one standard deviation."""
    g = d.groupby(x).test_acc.agg(["mean", "std"]).reset_index().sort_values(x)
    ax.plot(g[x], g["mean"], marker="o", color=color, ls=ls, label=label)
    ax.fill_between(g[x], g["mean"] - g["std"].fillna(0), g["mean"] + g["std"].fillna(0), color=color, alpha=0.15)


def prune_curves(df, title: str):
    """Test accuracy against the fraction of training data kept, one panel per score: keep the highest-scoring,
    a random or the lowest-scoring examples (mean ± sd over seeds; dotted: the full training set)."""
    names = [s for s in df.score.unique() if s not in ("random", "none")]
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), sharey=True, squeeze=False)
    full = df[df.keep == "all"].test_acc
    for ax, name in zip(axes[0], names):
        for keep in ("highest", "random", "lowest"):
            d = df[(df.keep == keep) & (df.score == (name if keep != "random" else "random"))]
            _mean_band(ax, d, "frac_kept", f"keep {keep}", *_KEEP_STYLE[keep])
        ax.axhline(full.mean(), color="k", ls=":", lw=1, label=f"full data ({full.mean():.3f})")
        ax.set(xlabel="fraction of training data kept", ylabel="test accuracy", title=f"ranked by {name}")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def noise_scores(table, auroc: dict):
    """Histograms of each score for relabelled vs untouched training examples of the noisy data set."""
    t = table[table.data == "noisy"]
    fig, axes = plt.subplots(1, len(auroc), figsize=(4.5 * len(auroc), 3.6), squeeze=False)
    for ax, (name, a) in zip(axes[0], auroc.items()):
        v = t[name].dropna()
        bins = np.linspace(v.min(), v.max(), 40)
        ax.hist(t[~t.flipped][name].dropna(), bins=bins, density=True, alpha=0.6, label="label kept")
        ax.hist(t[t.flipped][name].dropna(), bins=bins, density=True, alpha=0.6, label="relabelled")
        ax.set(xlabel=name, ylabel="density", title=f"{name}: AUROC {a:.3f}")
        ax.legend(fontsize=8)
    return fig


def offset_curve(df, ref=None):
    """Test accuracy against the top fraction dropped before keeping the next hardest (mean ± sd over seeds)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (data, d), color in zip(df.groupby("data", sort=False), ("C0", "C3")):
        _mean_band(ax, d, "offset", f"{data} labels", color)
        if ref is not None:
            r = ref[(ref.data == data) & (ref.keep == "random") & np.isclose(ref.frac_kept, d.frac_kept.iloc[0])].test_acc
            if len(r):
                ax.axhline(r.mean(), color=color, ls="--", lw=1, label=f"{data}: random {d.frac_kept.iloc[0]:.0%}")
    ax.set(xlabel="top fraction dropped first (offset)", ylabel="test accuracy",
           title=f"Keeping {df.frac_kept.iloc[0]:.0%} by {df.score.iloc[0]}, after dropping the hardest")
    ax.legend(fontsize=8)
    return fig


def memorization_scores(table):
    """The distribution of Feldman-Zhang memorization scores, and memorization against EL2N and GraNd."""
    t = table[table.data == "clean"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    axes[0].hist(t.mem.dropna(), bins=np.linspace(-0.5, 1, 46), color="C0")
    axes[0].set(yscale="log", xlabel="memorization P(correct | in) − P(correct | out)", ylabel="examples",
                title="Most examples are not memorized")
    for ax, name in zip(axes[1:], ("el2n", "grand")):
        ax.scatter(t[name], t.mem, s=3, alpha=0.3)
        ax.set(xlabel=f"{name} (early in training)", ylabel="memorization", title=f"memorization vs {name}")
    return fig


def image_grid(x, titles, rows: int, suptitle: str = ""):
    """Images x (N, C, H, W) in [0, 1] in a grid of `rows` rows, each with its title."""
    n = len(x)
    cols = -(-n // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, t in zip(axes.flat, x, titles):
        ax.imshow(np.asarray(img)[0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(t, fontsize=7)
    fig.suptitle(suptitle, fontsize=10)
    return fig

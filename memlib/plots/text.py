"""Figures of notebook 03 text generalization: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


def _by_size(ax, df, x, y, label_fmt="{:,} params", **kw):
    """One line per model size (n_params), mean over seeds; returns the palette used."""
    sizes = sorted(df.n_params.unique())
    colors = sns.color_palette("viridis", len(sizes))
    for color, n in zip(colors, sizes):
        g = df[df.n_params == n].groupby(x, as_index=False)[y].mean().sort_values(x)
        ax.plot(g[x], g[y], marker="o", color=color, label=label_fmt.format(int(n)), **kw)
    return dict(zip(sizes, colors))


def text_unintended(df):
    """Total unintended memorization against training-set size, one line per model size."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    pal = _by_size(ax, df, "n_train", "unintended_mem_bits")
    for n, color in pal.items():  # where each model's capacity is reached, in sequences
        g = df[df.n_params == n].sort_values("n_train")
        ax.axvline(np.interp(1.0, g.ratio, g.n_train), color=color, ls=":", lw=1)
    ax.set(xscale="log", xlabel="training sequences n", ylabel="unintended memorization (bits, total)",
           title="Unintended memorization against training-set size\n(dotted: n where dataset bits = capacity)")
    ax.legend(fontsize=8)
    return fig


def text_losses(df):
    """Train and held-out loss against training-set size: the double-descent picture."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharex=True)
    _by_size(axes[0], df, "n_train", "train_loss")
    _by_size(axes[1], df, "n_train", "test_loss")
    ref = df.groupby("n_params").ref_test_loss.first()
    for ax, t in zip(axes, ("train loss", "held-out loss")):
        ax.set(xscale="log", xlabel="training sequences n", ylabel=f"{t} (nats/token)", title=t)
    axes[1].axhline(df.oracle_test_loss.iloc[0], color="k", ls="--", lw=1, label="oracle (whole pool)")
    axes[1].axhline(ref.min(), color="grey", ls=":", lw=1, label="best same-size reference")
    axes[1].legend(fontsize=8)
    return fig


def text_vs_ratio(df):
    """Unintended memorization (per sequence) and held-out loss against dataset bits / capacity."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharex=True)
    _by_size(axes[0], df, "ratio", "unintended_mem_bits")
    _by_size(axes[1], df, "ratio", "test_loss")
    for ax, t in zip(axes, ("unintended memorization (bits, total)", "held-out loss (nats/token)")):
        ax.axvline(1.0, color="k", ls="--", lw=1, label="dataset bits = capacity")
        ax.set(xscale="log", xlabel="dataset bits (oracle) / capacity (α·params)", ylabel=t)
    axes[0].legend(fontsize=8)
    return fig

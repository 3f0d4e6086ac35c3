"""Figures: a non-interactive backend, one style, and saving to figures/NN_topic_*.png."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from memlib import paths  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def save(fig, name: str):
    """Write figures/<name>.png (name like '01_capacity_curves') and return the figure for display."""
    paths.FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(paths.FIGURES / f"{name}.png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    return fig


def memorized_vs_dataset(df, capacities):
    """Total memorized bits against dataset bits, one panel per precision, one line per model size."""
    precs = sorted(df.precision.unique())
    fig, axes = plt.subplots(1, len(precs), figsize=(6 * len(precs), 4.5), squeeze=False, sharey=True)
    for ax, prec in zip(axes[0], precs):
        d = df[df.precision == prec]
        sns.lineplot(data=d, x="dataset_bits", y="memorized_bits", hue="n_params", marker="o",
                     palette="viridis", errorbar=("pi", 100), ax=ax, legend="full")
        lim = np.array([d.dataset_bits.min(), d.dataset_bits.max()])
        ax.plot(lim, lim, "k--", lw=1, label="memorized = dataset bits")
        for _, c in capacities[capacities.precision == prec].groupby("n_params"):
            ax.axhline(c.capacity_bits.mean(), color="grey", lw=0.5, ls=":")
        ax.set(xscale="log", yscale="log", xlabel="dataset size N·S·log2 V (bits)", ylabel="memorized bits",
               title=f"{prec}: memorization saturates at capacity")
        ax.legend(title="params", fontsize=8)
    return fig


def capacity_vs_params(cap, fits: dict):
    """Capacity against parameter count with the fitted slopes, per precision."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    sns.scatterplot(data=cap, x="n_params", y="capacity_bits", hue="precision", style="seed", ax=ax)
    x = np.linspace(0, cap.n_params.max() * 1.05, 50)
    for prec, f in fits.items():
        ax.plot(x, f["alpha"] * x, lw=1, label=f"{prec}: α = {f['alpha']:.2f} bits/param (R² {f['r2']:.3f})")
    ax.set(xlabel="parameters", ylabel="capacity (bits)", title="Capacity grows linearly with parameters")
    ax.legend(fontsize=8)
    return fig


def bits_per_param_bars(df, x: str, title: str):
    """Bits per parameter against one swept setting (vocabulary size, tied embeddings, ...)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    sns.barplot(data=df, x=x, y="bits_per_param", ax=ax, errorbar=None, color="C0")
    ax.set(ylabel="capacity / params (bits)", title=title)
    return fig


def grokking_curves(df, ys=("train_acc", "test_acc"), hue="seed", title="Grokking: train fits first, test follows"):
    """Metrics against step (log axis), one line per run; solid train, dashed test."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (h, wd), g in df.groupby([hue, "weight_decay"]):
        for y, ls in zip(ys, ("-", "--")):
            ax.plot(g.step, g[y], ls=ls, label=f"{y} ({hue} {h}, wd {wd:g})", lw=1.2)
    ax.set(xscale="log", xlabel="step", ylabel=" / ".join(ys), title=title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def bits_and_norm(df):
    """The training set's code length (bits) and the weight norm against step: memorize, then compress."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    for s, g in df.groupby("seed"):
        a.plot(g.step, g.train_bits, label=f"seed {s}")
        b.plot(g.step, g.weight_norm, label=f"seed {s}")
    a.set(xscale="log", yscale="log", xlabel="step", ylabel="training labels' code length (bits)")
    b.set(xscale="log", xlabel="step", ylabel="weight norm ‖θ‖₂")
    a.legend(fontsize=8)
    return fig


def ratio_plot(df):
    """Steps to generalize and final test accuracy against dataset bits / capacity, ratio = 1 marked."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    gen = df.generalize_step.notna()
    sns.scatterplot(data=df[gen], x="ratio", y="generalize_step", hue="d_model", palette="viridis", ax=a)
    a.scatter(df[~gen].ratio, np.full((~gen).sum(), df.generalize_step.max() if gen.any() else 1), marker="x",
              color="grey", label="never ≥ 99% test")
    sns.scatterplot(data=df, x="ratio", y="final_test_acc", hue="d_model", palette="viridis", ax=b, legend=False)
    for ax in (a, b):
        ax.axvline(1, color="k", ls="--", lw=1)
        ax.set(xscale="log", xlabel="dataset bits / capacity (N_train·log2 p / α·params)")
    a.set(yscale="log", ylabel="steps to 99% test accuracy")
    a.legend(fontsize=7)
    b.set(ylabel="final test accuracy")
    return fig


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

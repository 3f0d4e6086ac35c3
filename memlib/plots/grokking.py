"""Figures of notebook 02 grokking: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


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

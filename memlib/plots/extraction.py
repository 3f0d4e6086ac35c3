"""Figures of notebook 04 extraction: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


def _errorbars(ax, d, x, y, lo, hi, **kw):
    d = d.sort_values(x)
    ax.errorbar(d[x], d[y], yerr=[d[y] - d[lo], d[hi] - d[y]], marker="o", capsize=2, **kw)


def extraction_k(ke):
    """k-extractable rate of training vs held-out sequences against training-set size, one panel per k."""
    ks = sorted(ke.k.unique())
    fig, axes = plt.subplots(1, len(ks), figsize=(5 * len(ks), 4.2), sharey=True, squeeze=False)
    sizes = sorted(ke.n_params.unique())
    for ax, k in zip(axes[0], ks):
        for color, n in zip(sns.color_palette("viridis", len(sizes)), sizes):
            d = ke[(ke.k == k) & (ke.n_params == n)].groupby("n_train", as_index=False).mean(numeric_only=True)
            _errorbars(ax, d, "n_train", "train_rate", "train_ci_low", "train_ci_high", color=color, label=f"{n:,} train")
            _errorbars(ax, d, "n_train", "heldout_rate", "heldout_ci_low", "heldout_ci_high", color=color, ls="--",
                       alpha=0.7, label=f"{n:,} held-out")
        ax.set(xscale="log", xlabel="training sequences n", ylabel="k-extractable rate", title=f"prefix k = {k}")
    axes[0][0].legend(fontsize=7, ncol=2)
    fig.suptitle("Greedy extraction of training (solid) vs held-out (dashed) sequences (95% Clopper-Pearson)")
    return fig


def extraction_duplication(rates, k_mid: int):
    """Extraction rate against repetitions r, model size and prefix length (log x axes, 95% intervals)."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2), sharey=True)
    sizes, reps = sorted(rates.n_params.unique()), sorted(rates.r.unique())
    pal = sns.color_palette("viridis", len(sizes))
    for color, n in zip(pal, sizes):
        _errorbars(axes[0], rates[(rates.n_params == n) & (rates.k == k_mid)], "r", "rate", "ci_low", "ci_high",
                   color=color, label=f"{n:,} params")
        _errorbars(axes[2], rates[(rates.n_params == n) & (rates.r == max(reps))], "k", "rate", "ci_low", "ci_high",
                   color=color, label=f"{n:,} params")
    for color, r in zip(sns.color_palette("rocket", len(reps)), reps):
        _errorbars(axes[1], rates[(rates.r == r) & (rates.k == k_mid)], "n_params", "rate", "ci_low", "ci_high",
                   color=color, label=f"r = {r}")
    axes[0].set(xscale="log", xlabel="repetitions r", ylabel="k-extractable rate", title=f"against duplicates (k = {k_mid})")
    axes[1].set(xscale="log", xlabel="parameters", title=f"against model size (k = {k_mid})")
    axes[2].set(xscale="log", xlabel="prefix length k", title=f"against prefix length (r = {max(reps)})")
    for ax in axes:
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels of a short log axis overlap
        ax.legend(fontsize=7)
    return fig


def exposure_vs_repeats(ex):
    """Canary exposure (exact and skew-normal extrapolated) against repetitions, one line per model size."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    sizes = sorted(ex.n_params.unique())
    for color, n in zip(sns.color_palette("viridis", len(sizes)), sizes):
        g = ex[ex.n_params == n].groupby("r")
        m, sd = g.exposure.mean(), g.exposure.std()
        ax.errorbar(m.index + 0.5, m, yerr=sd, marker="o", capsize=2, color=color, label=f"{n:,} params, exact")
        ax.plot(m.index + 0.5, g.exposure_extrapolated.mean(), ls="--", color=color, marker="x",
                label=f"{n:,} params, extrapolated")
    ax.axhline(1 / np.log(2), color="grey", ls=":", lw=1, label="chance (1/ln 2 ≈ 1.44 bits)")
    ax.axhline(ex.max_exposure.iloc[0], color="k", ls="--", lw=1, label="log2|R| (secret ranked first)")
    ax.set(xscale="log", xlabel="repetitions r + 0.5 (0: never seen)", ylabel="exposure (bits)",
           title="Canary exposure grows with repetitions\n(mean ± sd over canaries and seeds)")
    ax.legend(fontsize=7)
    return fig


def precision_bars(groups: dict, top: int):
    """Precision of each ranking's top samples at finding training text, with 95% intervals, one bar group
    per set of samples ({label: {ranking: rate dict}})."""
    names = list(next(iter(groups.values())))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(groups)
    for j, (label, prec) in enumerate(groups.items()):
        r = np.array([prec[n]["precision_rate"] for n in names])
        lo = r - np.array([prec[n]["precision_ci_low"] for n in names])
        hi = np.array([prec[n]["precision_ci_high"] for n in names]) - r
        ax.bar(np.arange(len(names)) + j * width, r, width, yerr=[lo, hi], capsize=3, label=label)
    ax.set_xticks(np.arange(len(names)) + width * (len(groups) - 1) / 2, names, rotation=20)
    ax.set(ylabel=f"precision of the top {top}", title="Generate-and-rank: which ranking finds training text")
    ax.legend(fontsize=8)
    return fig


def rarity_scatter(rr, k: int):
    """Mean token IDF of duplicated sequences, extracted or not, in each (model size, r) cell with mixed outcomes."""
    d = rr[rr.k == k].copy()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if d.empty:
        ax.text(0.5, 0.5, f"no cell with mixed outcomes at k = {k}", ha="center", transform=ax.transAxes)
        return fig
    d["cell"] = [f"{p / 1e3:.0f}K, r={r}" for p, r in zip(d.n_params, d.r)]
    sns.stripplot(data=d, x="cell", y="mean_idf", hue="extracted", dodge=True, size=3, palette="Set1", ax=ax)
    ax.set(xlabel="model size, repetitions", ylabel="mean token IDF (rarity)",
           title=f"Are rarer sequences extracted more? (k = {k}, cells with mixed outcomes)")
    return fig

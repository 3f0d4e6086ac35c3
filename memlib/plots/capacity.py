"""Figures of notebook 01 capacity: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


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
               title=f"{prec} (dotted: each size's max)")
        ax.xaxis.set_minor_formatter(plt.NullFormatter())  # log-axis minor labels collide at this span
        ax.legend(title="params", fontsize=8)
    fig.suptitle("Memorized bits against dataset bits")
    fig.tight_layout()
    return fig


def capacity_vs_params(cap, fits: dict, lower_bound: bool = True):
    """Capacity against parameter count with the fitted slopes, per precision; `lower_bound`: the legend reads
    "α ≥" (capacities from runs still gaining, `capacity.saturation`)."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    sns.scatterplot(data=cap, x="n_params", y="capacity_bits", hue="precision", style="seed", ax=ax)
    x = np.linspace(0, cap.n_params.max() * 1.05, 50)
    for prec, f in fits.items():
        ax.plot(x, f["alpha"] * x, lw=1, label=f"{prec}: α {'≥' if lower_bound else '='} {f['alpha']:.2f} bits/param "
                                                f"(R² {f['r2']:.3f})")
    ax.set(xlabel="parameters", ylabel="capacity (bits)", title="Capacity against parameters, slope through the origin")
    ax.legend(fontsize=8)
    return fig


def bits_per_param_bars(df, x: str, title: str):
    """Bits per parameter against one swept setting (vocabulary size, tied embeddings, ...)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    sns.barplot(data=df, x=x, y="bits_per_param", ax=ax, errorbar=None, color="C0")
    ax.set(ylabel="capacity / params (bits)", title=title)
    return fig


def sweep_cells(df, title: str):
    """Bits per parameter of each (V, S) cell of the vocabulary sweep, the bar its seeds' mean and the line their range."""
    d = df.assign(cell=[f"V={v}\nS={s}" for v, s in zip(df.vocab_size, df.seq_len)]).sort_values(["seq_len", "vocab_size"])
    fig, ax = plt.subplots(figsize=(1.2 * d.cell.nunique() + 2, 3.5))
    sns.barplot(data=d, x="cell", y="bits_per_param", ax=ax, errorbar=("pi", 100), color="C0", capsize=0.2)
    ax.set(xlabel="", ylabel="capacity / params (bits)", title=title)
    fig.tight_layout()
    return fig


def capacity_ablation(t, title: str = "Capacity under one changed training choice"):
    """Bits/param per ablated setting (mean over seeds, bar = seed range) against the base's band."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(t) + 1.2))
    base = t[t.setting == "base"].iloc[0]
    ax.axvspan(base.seed_min, base.seed_max, color="0.85", label="base: seed range")
    ax.axvline(base.bits_per_param, color="0.4", lw=1)
    labels = [f"{r.setting} = {r.value}" for r in t.itertuples()]
    y = range(len(t))
    ax.errorbar(t.bits_per_param, y, xerr=[t.bits_per_param - t.seed_min, t.seed_max - t.bits_per_param],
                fmt="o", color="C0", capsize=3)
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.set_xlabel("capacity (bits per parameter)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def bits_vs_steps(df, capacities):
    """Memorized bits against training steps (log scale) of the run that sets each shape's capacity, one panel per
    precision; a dot marks where the final learning-rate decay began (what follows is the decay's lift). A curve
    still rising before its dot had not saturated."""
    precs = sorted(df.precision.unique())
    fig, axes = plt.subplots(1, len(precs), figsize=(5.5 * len(precs), 4), squeeze=False)
    keys = ["n_layer", "d_model", "vocab_size", "seq_len", "tied", "precision", "seed"]
    best = df.loc[df.groupby(keys).memorized_bits.idxmax()]
    colors = dict(zip(sorted(best.n_params.unique()), sns.color_palette("viridis", best.n_params.nunique())))
    for ax, prec in zip(axes[0], precs):
        for r in best[best.precision == prec].itertuples():
            steps, bits = map(np.array, zip(*r.history))
            ax.plot(steps, bits, color=colors[r.n_params], lw=1, label=f"{r.n_params}" if r.seed == best.seed.min() else None)
            if r.decay_start is not None and r.decay_start == r.decay_start:
                k = max(0, np.searchsorted(steps, r.decay_start, side="right") - 1)
                ax.plot(steps[k], bits[k], "o", color=colors[r.n_params], ms=3)
        ax.set(xscale="log", yscale="log", xlabel="training step", ylabel="memorized bits",
               title=f"{prec}: the capacity-setting run of each shape (dot: decay starts)")
        ax.legend(title="params", fontsize=7)
    fig.tight_layout()
    return fig

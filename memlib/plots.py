"""Figures: one style, saved to figures/NN_topic_*.png and shown once in the notebook.

The backend is matplotlib's own choice (inline in Jupyter); only a process with no display and no backend set
gets the headless Agg, so DVC stages and tests stay headless while JupyterLab shows every figure.
"""
from __future__ import annotations

import io
import os
import sys

import matplotlib

if not os.environ.get("MPLBACKEND") and not os.environ.get("DISPLAY") and "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from memlib import paths  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def save(fig, name: str) -> None:
    """Write <paths.figures_dir()>/<name>.png (name like '01_capacity_curves'), close the figure, and show that
    PNG once in the notebook (as an image/png output, which executed notebooks keep); nothing to display
    outside IPython."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    d = paths.figures_dir()
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.png").write_bytes(buf.getvalue())
    if "IPython" in sys.modules:
        from IPython import get_ipython
        from IPython.display import Image, display
        if get_ipython() is not None:
            display(Image(data=buf.getvalue(), format="png"))


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


def mia_law(pts, fits: dict, paper: dict, law):
    """Loss-attack F1 against capacity/|D| (one colour per model size, both seeds), each refitted law with its
    95% bootstrap band, and the paper's printed constants (read literally)."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, form in zip(axes, fits):
        f, b = fits[form], fits[form]["_band"]
        gx = b["band_x"]
        xs = gx if form == "linear" else 10 ** gx
        sns.scatterplot(data=pts, x="x", y="f1", hue="n_params", style="seed", palette="viridis", ax=ax, s=45)
        ax.plot(xs, law(gx, f["c1"], f["c2"], f["c3"]), "k-", lw=1.5, label=f"refit (R² {f['r2']:.2f})")
        ax.fill_between(xs, b["band_low"], b["band_high"], color="k", alpha=0.12, label="95% bootstrap band")
        lin = np.geomspace(xs.min(), xs.max(), 200)
        ax.plot(lin, law(lin, **paper), color="C3", ls="--", lw=1, label="paper's printed constants")
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.set(xscale="log", xlabel="capacity / |D|  (α·params bits per training sequence)",
               ylabel="loss-attack F1 (threshold from the calibration half)",
               title=f"x = {form}: F1 = ½(1 + c1·σ(c2·(x + c3)))", ylim=(0.3, 1.05))
        ax.legend(fontsize=7, title="params / seed", title_fontsize=7, loc="upper left")
    return fig


def mia_attacks(g, attacks):
    """AUC and TPR at 1% FPR of every attack against the training-set size, one column per model size."""
    sizes = sorted(g.n_params.unique())
    fig, axes = plt.subplots(2, len(sizes), figsize=(4.2 * len(sizes), 7.5), sharey="row", squeeze=False)
    for j, p in enumerate(sizes):
        d = g[(g.n_params == p) & g.attack.isin(attacks)]
        for i, y in enumerate(("auc", "tpr_at_1pct_fpr")):
            ax = axes[i, j]
            sns.lineplot(data=d, x="n_train", y=y, hue="attack", hue_order=attacks, style="attack",
                         style_order=attacks, markers=True, dashes=False, errorbar=("pi", 100), ax=ax,
                         legend=(i == 0 and j == len(sizes) - 1))
            ax.axhline(0.5 if y == "auc" else 0.01, color="grey", ls=":", lw=1)
            ax.set(xscale="log", xlabel="training sequences n", ylabel=y.replace("_", " "),
                   title=f"{p:,} params" if i == 0 else "")
    if axes[0, -1].get_legend():
        sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    return fig


def mia_roc(curves: dict, title: str):
    """ROC curves of every attack on one target, log-log (the low-FPR regime), with the chance diagonal."""
    fig, ax = plt.subplots(figsize=(5.6, 5))
    for name, (fpr, tpr) in curves.items():
        ax.plot(np.maximum(fpr, 1e-4), np.maximum(tpr, 1e-4), label=name, lw=1.4,
                ls="--" if name.startswith("blind") else "-")
    ax.plot([1e-4, 1], [1e-4, 1], color="grey", ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="false positive rate", ylabel="true positive rate", title=title,
           xlim=(1e-4, 1), ylim=(1e-4, 1.05))
    ax.legend(fontsize=8)
    return fig


def mia_predicted_vs_observed(tab, form: str):
    """Observed F1 against predicted F1: our grid (our refit with each size left out) and the paper's Table 2
    (the paper's own predicted column, and its printed constants read literally)."""
    fig, ax = plt.subplots(figsize=(5.6, 5))
    ours, paper = tab[tab.source != "paper Table 2"], tab[tab.source == "paper Table 2"]
    ax.scatter(ours[f"our {form} fit, this size left out"], ours.observed, s=25, label="ours: refit, size left out")
    ax.scatter(paper["predicted (paper's column)"], paper.observed, marker="s", s=45, label="paper: its predicted column")
    ax.scatter(paper["printed constants"], paper.observed, marker="x", s=60, color="C3",
               label="paper: printed constants, literally")
    ax.plot([0.4, 1.05], [0.4, 1.05], color="grey", ls=":", lw=1)
    ax.set(xlabel="predicted F1", ylabel="observed F1", xlim=(0.4, 1.05), ylim=(0.4, 1.05),
           title="Predicted vs observed F1")
    ax.legend(fontsize=8)
    return fig


# --- notebook 07: unlearning ---------------------------------------------------------------------
_UNLEARN_MEASURES = (("distance_to_retrained", "distance to retrained (seed-spread units)"),
             ("forget_mia_auc", "forget-set MIA AUC"), ("forget_acc", "forget accuracy"), ("test_acc", "test accuracy"))


def unlearning_budgets(res):
    """Each measure against the unlearning budget, one column per forget kind, one line per method (mean ± sd over
    originals); the retrained models' mean ± sd as a grey band, the originals' as a dotted line."""
    kinds = list(dict.fromkeys(res.forget_kind))
    fig, axes = plt.subplots(len(_UNLEARN_MEASURES), len(kinds), figsize=(4.6 * len(kinds), 2.9 * len(_UNLEARN_MEASURES)),
                             sharex=True, sharey="row", squeeze=False)
    methods = [m for m in dict.fromkeys(res.method) if m not in ("original", "retrain")]
    for j, kind in enumerate(kinds):
        d = res[res.forget_kind == kind]
        ret, org = d[d.method == "retrain"], d[d.method == "original"]
        for i, (y, label) in enumerate(_UNLEARN_MEASURES):
            ax = axes[i][j]
            for color, m in zip(("C0", "C1", "C2", "C4", "C5"), methods):
                g = d[d.method == m].groupby("budget")[y].agg(["mean", "std"]).reset_index()
                ax.plot(g.budget, g["mean"], marker="o", ms=3, color=color, label=m)
                ax.fill_between(g.budget, g["mean"] - g["std"].fillna(0), g["mean"] + g["std"].fillna(0), color=color, alpha=0.15)
            mu, sd = ret[y].mean(), ret[y].std()
            ax.axhspan(mu - sd, mu + sd, color="grey", alpha=0.3, lw=0, label="retrained (mean ± sd)")
            ax.axhline(mu, color="grey", lw=1)
            ax.axhline(org[y].mean(), color="k", ls=":", lw=1, label="original")
            ax.set(xscale="log", ylabel=label if j == 0 else "")
            if y == "distance_to_retrained":  # symlog: on the typical set every model is at distance ~0
                ax.set_yscale("symlog", linthresh=1)
                ax.set(title=f"{kind} forget set")
        axes[-1][j].set(xlabel="unlearning steps")
    import matplotlib.ticker as ticker
    for ax in axes.flat:  # plain step counts on the log axis
        ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Unlearning against its budget, beside retraining without the forget set", y=1.0)
    fig.tight_layout()
    return fig


def unlearning_kinds(best):
    """At each method's best budget: distance to retrained, forget-set MIA AUC gap to retrained and test accuracy,
    by forget kind (error bars: sd over originals)."""
    kinds = list(dict.fromkeys(best.forget_kind))
    methods = [m for m in dict.fromkeys(best.method) if m != "retrain"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        d = best[best.method == m].set_index("forget_kind").loc[kinds]
        ret = best[best.method == "retrain"].set_index("forget_kind").loc[kinds]
        x = np.arange(len(kinds)) + i * width
        axes[0].bar(x, d.distance_to_retrained, width, yerr=d.distance_to_retrained_sd.fillna(0), capsize=2, label=m)
        axes[1].bar(x, d.forget_mia_auc - ret.forget_mia_auc, width, yerr=d.forget_mia_auc_sd.fillna(0), capsize=2, label=m)
        axes[2].bar(x, d.test_acc, width, yerr=d.test_acc_sd.fillna(0), capsize=2, label=m)
    ret = best[best.method == "retrain"].set_index("forget_kind").loc[kinds]
    for ax in axes:
        ax.set_xticks(np.arange(len(kinds)) + width * (len(methods) - 1) / 2, kinds)
    for x, v in zip(np.arange(len(kinds)), ret.distance_to_retrained):
        axes[0].hlines(v, x - 0.1, x + 0.8, color="grey", ls="--", lw=1, label="a retrained seed" if x == 0 else None)
    axes[0].set_yscale("symlog", linthresh=1)
    axes[0].set(ylabel="distance to retrained", title="distance (best budget per method)")
    axes[1].axhline(0, color="k", lw=1)
    axes[1].set(ylabel="AUC − retrained AUC", title="forget-set membership inference, two-sided")
    axes[2].set(ylim=(max(0, best.test_acc.min() - 0.05), 1), ylabel="test accuracy", title="test accuracy")
    for x, v in zip(np.arange(len(kinds)), ret.test_acc):
        axes[2].hlines(v, x - 0.1, x + 0.8, color="grey", ls="--", lw=1)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def unlearning_repetition(ex, rep: list):
    """Forgotten canaries' exposure against the unlearning budget, one line per repetition count, and before/after
    against r; dotted: never-seen canaries in the originals."""
    ex = ex[~ex.onion]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for color, row in zip(("C0", "C1", "C3", "C4"), rep):
        r = row["r"]
        d = pd.concat([ex[(ex.budget == 0) & (ex.r == r)], ex[(ex.forget_r == r) & (ex.r == r)]])
        g = d.groupby("budget").exposure.agg(["mean", "std"]).reset_index()
        a.errorbar(g.budget + 1, g["mean"], yerr=g["std"].fillna(0), marker="o", capsize=2, color=color, label=f"r = {r}")
    unseen = rep[0]["unseen"]
    for ax in (a, b):
        ax.axhline(unseen, color="grey", ls=":", lw=1, label="never-seen canaries")
    a.set(xscale="log", xlabel="unlearning steps + 1", ylabel="exposure (bits)", title="exposure of the forgotten canaries")
    rr = [row["r"] for row in rep]
    b.plot(rr, [row["before"] for row in rep], marker="o", label="before")
    b.plot(rr, [row["after"] for row in rep], marker="s", label=f"after {rep[0]['budget']} steps")
    b.set(xscale="log", xlabel="repetitions r", ylabel="exposure (bits)", title="before and after, against r")
    for ax in (a, b):
        ax.legend(fontsize=7)
    return fig


def unlearning_difficulty(eff, diff: dict, scores):
    """Per forget example: unlearning effort against each score, coloured by forget kind."""
    fig, axes = plt.subplots(1, len(scores), figsize=(4.6 * len(scores), 3.8), sharey=True)
    for ax, s in zip(axes, scores):
        for color, (kind, g) in zip(("C3", "C0", "C7"), eff.groupby("forget_kind", sort=False)):
            ax.scatter(g[s], g.effort, s=10, alpha=0.6, color=color, label=kind)
        ax.set(xlabel=s, title=f"Spearman {diff[s]['rho']:+.2f} [{diff[s]['ci_low']:+.2f}, {diff[s]['ci_high']:+.2f}]",
               yscale="symlog")
    axes[0].set(ylabel="steps to reach the retrained loss (mean over originals)")
    axes[0].legend(fontsize=7)
    return fig


def unlearning_onion(on: dict):
    """Layer 2's membership signal with layer 1 removed or unlearned, beside removing or unlearning a random set."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    rm, ul, co = on["removal"], on["unlearning"], on["canaries"]
    axes[0].bar(["random set removed", "layer 1 removed"], [rm["before"], rm["after"]], color=["C7", "C3"])
    axes[0].set(ylim=(0.5, max(rm["before"], rm["after"]) + 0.05), ylabel="layer-2 membership AUC",
                title=f"retraining subset models\n(after − before {rm['difference']:+.3f}, 95% CI {rm['ci_low']:+.3f} to {rm['ci_high']:+.3f})")
    axes[1].bar(["original", "random set unlearned", "layer 1 unlearned"], [ul["before"], ul["control"], ul["after"]],
                color=["k", "C7", "C3"])
    axes[1].set(ylim=(min(ul["before"], ul["control"], ul["after"]) - 0.05, max(ul["before"], ul["control"], ul["after"]) + 0.05),
                ylabel="layer-2 vs test AUC", title=f"unlearning ({ul['method']}, {ul['budget']} steps)")
    axes[2].bar([f"r={co['measured_r']} before", f"r={co['measured_r']} after"], [co["before"], co["after"]], color=["k", "C3"])
    axes[2].set(ylabel="exposure (bits)", title=f"canaries: after unlearning the r={co['forgotten_r']} ones")
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig

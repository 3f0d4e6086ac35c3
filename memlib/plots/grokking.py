"""Figures of notebook 02 grokking: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter


def grokking_curves(df, ys=("train_acc", "test_acc"), hue="seed", title="Train (solid) and test (dashed) accuracy"):
    """Metrics against step (log axis), one line per run; solid train, dashed test."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, ((h, wd), g) in enumerate(df.groupby([hue, "weight_decay"])):
        for y, ls in zip(ys, ("-", "--")):  # one colour per run: its train and test curves match
            ax.plot(g.step, g[y], ls=ls, color=f"C{i}", label=f"{y} ({hue} {h}, wd {wd:g})", lw=1.2)
    ax.set(xscale="log", xlabel="step", ylabel=" / ".join(ys), title=title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def loss_curves(df):
    """Train (solid) and test (dashed) cross-entropy against step, log-log, one colour per seed."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (s, g) in enumerate(df.groupby("seed")):
        ax.plot(g.step, g.train_loss, color=f"C{i}", label=f"train, seed {s}", lw=1.2)
        ax.plot(g.step, g.test_loss, color=f"C{i}", ls="--", label=f"test, seed {s}", lw=1.2)
    ax.set(xscale="log", yscale="log", xlabel="step", ylabel="cross-entropy (nats per pair)",
           title="Train (solid) and test (dashed) loss")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=7, ncol=2)
    return fig


def norm_plot(df):
    """Left: the norm of the weights AdamW decays (matrices, embeddings); right: of the others (LayerNorm gains,
    biases). Weight decay 1 solid, 0 dashed, one colour per seed; step 0 is the initialization."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    seeds = sorted(df.seed.unique())
    for (s, wd), g in df.groupby(["seed", "weight_decay"]):
        kw = dict(color=f"C{seeds.index(s)}", ls="-" if wd else "--", label=f"seed {s}, wd {wd:g}", lw=1.2)
        a.plot(g.step, g.decayed_norm, **kw)
        b.plot(g.step, g.undecayed_norm, **kw)
    a.set(xlabel="step", ylabel="‖decayed weights‖₂", title="weights that weight decay acts on")
    b.set(xlabel="step", ylabel="‖LayerNorm gains, biases‖₂", title="weights it does not act on")
    for ax in (a, b):
        ax.set_ylim(bottom=0)
    a.legend(fontsize=7)
    return fig


def onset_plot(table, rows, alpha: float, p: int, steps: int, regime=None):
    """Left: share of seeds that generalized within the budget (solid) and half of it (dashed) against the
    training-set size, per width. Right: each width's onset N* with its seed range against parameters (log-log);
    an arrow marks an open end (censored, or the lower end of a budget-unstable width, dotted), a hollow marker a
    width left out of the fit; an upper end capped at the pairs that exist ends in an arrow on the "all pairs" line
    (p^2 - 1, dotted grey); the dashed line is dataset bits = capacity (N*·log2 p = α·params), slope 1; a cross
    marks, for each width measured in this notebook's regime (`regime`), the N* where label bits reach the capacity
    measured there."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    grid = sorted(table.n_train.unique())
    for i, (d, g) in enumerate(table.groupby("d_model")):
        share = g.groupby("n_train").agg(full=("generalize_step", lambda x: x.notna().mean()),
                                         half=("generalize_step_half", lambda x: x.notna().mean()))
        a.plot(share.index, share.full, "-o", color=f"C{i}", label=f"d_model {d}, {steps:,} steps")
        a.plot(share.index, share.half, "--o", color=f"C{i}", mfc="none", label=f"d_model {d}, {steps // 2:,} steps")
    a.set(xscale="log", xlabel="training pairs n", ylabel="share of seeds generalized", ylim=(-0.05, 1.05),
          title="Which training sets generalize")
    a.set_xticks(grid, [str(n) for n in grid])
    a.minorticks_off()
    a.legend(fontsize=7)
    lo_edge, hi_edge = grid[0] / 1.6, grid[-1] * 1.6
    for i, r in enumerate(rows):
        x, c = r["n_params"], f"C{i}"
        y = r["n_star"] if r["n_star"] is not None else grid[-1]
        lo = r["ci_low"] if r["ci_low"] is not None else lo_edge
        open_hi = r["ci_high"] is None or r.get("ci_high_capped")
        hi = r["ci_high"] if r["ci_high"] is not None else hi_edge
        b.plot([x, x], [lo, hi], color=c, lw=2)
        b.plot(x, y, "o", color=c, mfc=c if r["representable"] else "none", ms=8,
               label=f"d_model {r['d_model']}" + ("" if r["representable"] else " (left out)")
               + ("" if r["budget_stable"] else f", budget {r.get('budget', 'unstable')}")
               + (", untestable at this p" if r.get("untestable") else ""))
        if r["ci_low"] is not None and not r["budget_stable"]:  # N* only an upper bound: the fit opens its lower end
            b.plot([x, x], [lo_edge, lo], color=c, lw=1, ls=":")
        if r["ci_low"] is None or not r["budget_stable"]:
            b.annotate("", (x, lo_edge), (x, lo_edge * 1.3), arrowprops=dict(arrowstyle="->", color=c))
        if open_hi:
            b.annotate("", (x, hi), (x, hi / 1.3), arrowprops=dict(arrowstyle="->", color=c))
    xs = np.geomspace(min(r["n_params"] for r in rows) / 1.5, max(r["n_params"] for r in rows) * 1.5, 20)
    b.plot(xs, alpha * xs / math.log2(p), "k--", lw=1, label=f"N*·log2 p = α·params (α = {alpha:.2f})")
    for c in regime or []:
        b.plot(c["n_params"], c["capacity_bits"] / math.log2(p), "kx", ms=9, mew=2,
               label=f"label bits = capacity measured here (d_model {c['d_model']}"
               + (", a lower bound)" if c["lower_bound"] else ")"))
    pairs = rows[0].get("all_pairs", p * p - 1)
    b.axhline(pairs, color="grey", ls=":", lw=1, label=f"all pairs ({pairs:,}): no N* above")
    b.set(xscale="log", yscale="log", xlabel="parameters", ylabel="onset N* (training pairs)",
          ylim=(lo_edge / 1.2, max(hi_edge, pairs, alpha * xs.max() / math.log2(p)) * 1.2), title="Onset against size")
    b.xaxis.set_minor_formatter(NullFormatter())
    b.legend(fontsize=7)
    return fig


def capacity_plot(df, regime, alpha: float, p: int, steps: int):
    """Bits stored about random training labels against step, one line per random-label run (net of the held-out
    floor, as the capacity is read; thin: without that correction), with the capacity read at B and at B/2 (the
    medians over their last evaluations, markers), α·params from notebook 01 (dashed) and the labels' own bits
    n·log2 p (dotted: all of them stored)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, ((d, n, s), g) in enumerate(df.groupby(["d_model", "n_train", "seed"])):
        c = f"C{i}"
        ax.plot(g.step, g.stored_bits, color=c, lw=1.2,
                label=f"d_model {d}, {n:,} pairs, seed {s}")
        ax.plot(g.step, g.mem_bits, color=c, lw=0.6, alpha=0.6, label="  without the held-out correction")
        ax.axhline(n * math.log2(p), color=c, ls=":", lw=1, label=f"  all its labels' bits ({n:,}·log2 {p})")
    for i, r in enumerate(regime):
        c = f"C{i}"
        ax.plot([steps // 2, steps], [r["capacity_bits_half"], r["capacity_bits"]], "o", color=c, ms=7,
                label=f"  read at B/2 and B: {r['capacity_bits_half']:,.0f}, {r['capacity_bits']:,.0f} bits")
        ax.axhline(alpha * r["n_params"], color=c, ls="--", lw=1, label=f"  α·params (notebook 01, α = {alpha:.2f})")
    ax.set(xlabel="step", ylabel="bits stored about the training labels", ylim=(0, None),
           title="Random labels: what a model stores with weight decay 1 in this notebook's budget")
    ax.legend(fontsize=7)
    return fig

"""Figures of notebook 07 unlearning: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


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

"""Figures of notebook 05 membership-inference scaling law: each function returns a figure for `memlib.plots.save`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


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
    """AUC and TPR at 1% FPR of every attack against the training-set size, one column per model size; `attacks`: the
    order of the legend (those absent from `g` are left out)."""
    attacks = [a for a in attacks if a in set(g.attack)]
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

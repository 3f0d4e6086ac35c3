"""Words about notebook 06, data diet: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
- `describe(m)`: what the notebook prints at its end, the measured curves, detection, offsets and correlations.
- `answer(m)`: the title cell's answer, beside Paul et al. (2021) and Feldman & Zhang (2020).
"""
from __future__ import annotations

import pandas as pd

from memlib.diet import curve_summary
from memlib.report.base import fmt

DATASET_NAMES = {"digits": "8×8 digits (scikit-learn)", "mnist": "MNIST digits", "fashion": "Fashion-MNIST images"}
SCORE_NAMES = {"el2n": "EL2N", "grand": "GraNd", "mem": "memorization"}


def _mean(rows: list[dict], **kw) -> float | None:
    """Mean test accuracy of the metrics rows matching every `key=value` of kw (None if none match)."""
    v = [r["test_acc"] for r in rows if all(r[k] == x for k, x in kw.items())]
    return sum(v) / len(v) if v else None


def _iv(mem: dict, key: str) -> str:
    """A Spearman rho of the memorization metrics with its bootstrap interval: 0.55 [0.53, 0.57]."""
    lo, hi = mem[key + "_interval"]
    return f"{mem[key]:.2f} [{lo:.2f}, {hi:.2f}]"


def _offsets(rows: list[dict]) -> dict:
    """Offset -> mean test accuracy over seeds."""
    return {o: _mean(rows, offset=o) for o in sorted({r["offset"] for r in rows})}


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    tag = f"({m['scale']}, {m['dataset']}, {m['n_train']:,} train, {m['model']['type'].upper()} {m['model']['n_params'] / 1e3:.0f}K params)"
    rows = []
    target = {"prune_curves": "highest-EL2N half of CIFAR-10 matches all data, lowest worst (Paul et al. 2021)",
              "prune_curves_noisy": "mislabeled examples score highest, so keeping the hardest suffers"}
    for key, label in (("prune_curves", "clean"), ("prune_curves_noisy", f"{100 * m['noise']:.0f}% relabelled")):
        pc = m[key]
        fracs = sorted({r["frac_kept"] for r in pc if r["keep"] != "all"})
        for score in sorted({r["score"] for r in pc} - {"random", "none"}):
            cells = [f"{100 * f:.0f}%: {fmt(_mean(pc, score=score, keep='highest', frac_kept=f), '.3f')} / "
                     f"{fmt(_mean(pc, keep='random', frac_kept=f), '.3f')} / "
                     f"{fmt(_mean(pc, score=score, keep='lowest', frac_kept=f), '.3f')}" for f in fracs]
            rows.append(f"| 06 data diet ({label}): test accuracy keeping the highest / random / lowest by {score} "
                        f"| {'; '.join(cells)}; all: {fmt(_mean(pc, keep='all'), '.3f')} {tag} | {target[key]} |")
    au = m["noise_detection_auroc"]
    rows.append(f"| 06 finding the {100 * m['noise']:.0f}% relabelled examples: AUROC of "
                + " / ".join(au) + " | " + " / ".join(f"{v:.3f}" for v in au.values())
                + " | relabelled examples score highest |")
    for key, label in (("offset", "clean"), ("offset_noisy", f"{100 * m['noise']:.0f}% relabelled")):
        off = m[key]
        rows.append(f"| 06 offset ({label}): keeping {100 * off[0]['frac_kept']:.0f}% by {off[0]['score']} after dropping "
                    "the top s | " + ", ".join(f"s={o:g}: {a:.3f}" for o, a in _offsets(off).items())
                    + " | dropping the top few percent helps (Paul et al. 2021) |")
    mem = m["memorization"]
    rows.append(f"| 06 memorization ({mem['n_models']} models on {100 * mem['frac']:.0f}% subsets): Spearman with "
                f"EL2N; with GraNd (95% bootstrap) | {_iv(mem, 'spearman_with_el2n')}; {_iv(mem, 'spearman_with_grand')} "
                "| memorized examples are the atypical and mislabeled ones (Feldman & Zhang 2020) |")
    return rows


def describe(m: dict) -> str:
    """Plain-language reading of the measured curves, detection, offsets and correlations."""
    full = m["full_data_test_acc"]
    lines = [f"{m['scale']}: {m['dataset']}, {m['n_train']} training / {m['n_test']} test examples, {m['model']['type']} "
             f"({m['model']['n_params']:,} params), {m['steps']} steps per run; full data: test accuracy "
             f"{full['mean']:.3f} ± {full['std']:.3f} over {full['seeds']} seeds"]
    for key, label in (("prune_curves", "clean"), ("prune_curves_noisy", f"{m['noise']:.0%} relabelled")):
        s = curve_summary(pd.DataFrame(m[key]))
        for frac in sorted(s[s.keep != "all"].frac_kept.unique()):
            at = s[s.frac_kept == frac].set_index(["score", "keep"])["mean"]
            lines.append(f"{label}, keep {frac:.0%}: random {at[('random', 'random')]:.3f}; " + "; ".join(
                f"{name} highest {at[(name, 'highest')]:.3f} / lowest {at[(name, 'lowest')]:.3f}"
                for name in s.score.unique() if name not in ("random", "none")))
    lines.append("label noise " + f"{m['noise']:.0%}: AUROC " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                                          m["noise_detection_auroc"].items()))
    for key, label in (("offset", "clean"), ("offset_noisy", "relabelled")):
        first = m[key][0]
        lines.append(f"offset ({label}, keep {first['frac_kept']:.0%} by {first['score']}): "
                     + ", ".join(f"drop top {k:.0%}: {v:.3f}" for k, v in _offsets(m[key]).items()))
    mem = m["memorization"]
    return "\n".join(lines + [
        f"memorization ({mem['n_models']} subset models): mean {mem['mean']:.3f}, {mem['share_above_0.5']:.1%} above "
        f"0.5; Spearman with EL2N {_iv(mem, 'spearman_with_el2n')}, with GraNd {_iv(mem, 'spearman_with_grand')}; "
        f"relabelled examples {mem['noisy_mean_flipped']:.2f} vs {mem['noisy_mean_unflipped']:.2f}"])


def answer(m: dict) -> str:
    """The title cell's answer: the key numbers of this run beside the papers' targets, with the caveats."""
    pc, pn, au, mem, full = (m[k] for k in ("prune_curves", "prune_curves_noisy", "noise_detection_auroc",
                                            "memorization", "full_data_test_acc"))
    names = sorted({r["score"] for r in pc} - {"random", "none"})
    name = "el2n" if "el2n" in names else names[0]
    fracs = sorted({r["frac_kept"] for r in pc if r["keep"] != "all"})
    f, small = min(fracs, key=lambda x: (abs(x - 0.5), x)), fracs[0]  # nearest the paper's half; the smallest
    hi, rnd, lo = (_mean(pc, score=s, keep=k, frac_kept=f) for s, k in ((name, "highest"), ("random", "random"),
                                                                        (name, "lowest")))
    nhi, nrnd = _mean(pn, score=name, keep="highest", frac_kept=small), _mean(pn, keep="random", frac_kept=small)
    clean, noisy = _offsets(m["offset"]), _offsets(m["offset_noisy"])
    best_c, best_n = max(clean, key=clean.get), max(noisy, key=noisy.get)
    ref_c = max(clean) if best_c == 0 else 0.0  # beside the best: the largest offset, or none
    helps = ("helps only once labels are planted wrong" if best_c == 0 < best_n else
             "helps with clean labels too" if best_c > 0 else "does not help")
    rho = min(mem["spearman_with_el2n"], mem["spearman_with_grand"])
    data, by = DATASET_NAMES.get(m["dataset"], m["dataset"]), SCORE_NAMES.get(name, name)
    return "\n".join([
        f"- **Clean labels: {'keep the hardest' if hi > rnd > lo else 'not the paper’s order'}.** Keeping the "
        f"highest-{by} {f:.0%} of the {m['n_train']:,} training {data} gives test accuracy {hi:.3f}, a random "
        f"{f:.0%} {rnd:.3f}, the lowest-scoring {lo:.3f}; all of them {full['mean']:.3f} (means over {full['seeds']} "
        "seeds). Paul et al. 2021 (target): the highest-EL2N half of CIFAR-10 matches all data, the lowest is worst.",
        f"- **Mislabeled examples {'score highest' if min(au.values()) >= 0.9 else 'are found only in part'}.** With "
        f"{m['noise']:.0%} of the labels replaced, the AUROC for finding them is {au['el2n']:.3f} (EL2N), "
        f"{au['grand']:.3f} (GraNd), {au['mem']:.3f} (memorization); keeping the highest-{by} {small:.0%} "
        f"{'falls to' if nhi < nrnd else 'still gives'} {nhi:.3f} against {nrnd:.3f} for a random {small:.0%} "
        "(target: relabelled examples score highest).",
        f"- **Offset.** Dropping the top s before keeping {m['offset'][0]['frac_kept']:.0%} by "
        f"{SCORE_NAMES.get(m['offset'][0]['score'], m['offset'][0]['score'])} {helps}: with clean labels the best is "
        f"s = {best_c:.0%} ({clean[best_c]:.3f}; s = {ref_c:.0%}: {clean[ref_c]:.3f}), with relabelled ones "
        f"s = {best_n:.0%} ({noisy[best_n]:.3f}; s = 0%: {noisy[0.0]:.3f}). Paul et al. (target): dropping the top "
        "few percent helps on CIFAR-10.",
        f"- **Memorization** ({mem['n_models']} models on {mem['frac']:.0%} subsets) ranks examples like the early "
        f"scores {'closely' if rho >= 0.8 else 'only in part'}: Spearman with EL2N {_iv(mem, 'spearman_with_el2n')}, "
        f"with GraNd {_iv(mem, 'spearman_with_grand')} (95% bootstrap); relabelled examples score "
        f"{mem['noisy_mean_flipped']:.2f} against {mem['noisy_mean_unflipped']:.2f} (Feldman & Zhang 2020, target: the "
        "memorized are the atypical and mislabeled).",
        f"- **Not like for like.** {data} and a {m['model']['n_params'] / 1e3:.0f}K-parameter "
        f"{m['model']['type'].upper()}, not CIFAR-10 and ResNets: the ordering of the curves compares with the "
        f"paper's, the accuracies do not; every pruned run trains the {m['steps']:,} steps of a full-data one (equal "
        "compute, not equal epochs).",
    ])

"""Membership attacks and their metrics: pure functions of per-example arrays, with no notebook in them.

Notebook 05 (`memlib.mia`) runs every attack on a grid of targets; notebook 07 (`memlib.unlearning`) asks whether
a forget set still looks like training data. Attacks map per-example numbers (code lengths in nats, per-token
log-probabilities, zlib sizes) to a score, higher = "member":

- loss threshold (Yeom et al. 2018; Morris et al. 2025's attack), the loss calibrated by a reference model's,
  the zlib ratio (Carlini et al. 2021), Min-K% probability (Shi et al. 2023), offline LiRA (Carlini et al. 2022),
  a blind baseline that never queries the target (zlib entropy alone), and the in/out loss gap of subset models
  (Feldman–Zhang style: how far training on an example moves its loss).

Metrics take the members' scores and the non-members' scores: AUC, tie-aware TPR at a FPR (with the FPR reached and a
Clopper–Pearson interval), F1 with the threshold set on a calibration half, the ROC curve, and the AUC's standard
error under no signal; the loss attack's AUC over (model, example) pairs of subset models, and the difference of two
such AUCs with a bootstrap interval (the onion, Carlini et al. 2022); and the distance of a model's losses to
reference models that never saw the examples, in their own seed-spread units (an unlearned model against models
retrained without its forget set: LiRA's per-example "out" Gaussians, pooled into one number).
"""
from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import f1_score, precision_recall_curve, roc_auc_score, roc_curve

from memlib.config import check
from memlib.stats import rate_ci


# --- attacks: per-example scores, higher = "member" --------------------------------------------------------
def loss_score(nats: np.ndarray) -> np.ndarray:
    """Loss threshold (Yeom et al. 2018): low loss = member."""
    return -np.asarray(nats, float)


def reference_score(nats: np.ndarray, ref_nats: np.ndarray) -> np.ndarray:
    """Loss calibrated by a reference model: how much lower the target's loss is than the reference's."""
    return np.asarray(ref_nats, float) - np.asarray(nats, float)


def zlib_ratio_score(nats: np.ndarray, zlib: np.ndarray) -> np.ndarray:
    """Carlini et al. 2021: the target's code length relative to zlib's (bits / bits); low = member."""
    return -(np.asarray(nats, float) / math.log(2)) / np.asarray(zlib, float)


def min_k_score(logprobs: np.ndarray, k: float = 0.2) -> np.ndarray:
    """Min-K% probability (Shi et al. 2023): mean log-probability of the k fraction of least likely tokens."""
    lp = np.asarray(logprobs, float)
    n = max(1, math.ceil(k * lp.shape[-1]))
    return np.sort(lp, -1)[..., :n].mean(-1)


def lira_offline_score(nats: np.ndarray, ref_nats: np.ndarray, fixed_variance: bool = False) -> np.ndarray:
    """Offline LiRA (Carlini et al. 2022): how many standard deviations below the reference models' losses
    (all trained without the example: the "out" distribution, a Gaussian per example) the target's loss
    lies; one-sided, so monotone in this z-score. ref_nats: (R, N). With few references, Carlini et al.
    recommend one variance shared by all examples (`fixed_variance`)."""
    ref = np.asarray(ref_nats, float)
    mu = ref.mean(0)
    sd = np.full_like(mu, np.sqrt(ref.var(0, ddof=1).mean())) if fixed_variance else ref.std(0, ddof=1)
    return (mu - np.asarray(nats, float)) / np.maximum(sd, 1e-6)


def blind_zlib_score(zlib: np.ndarray) -> np.ndarray:
    """Blind baseline: never queries the target; low zlib entropy = "member"."""
    return -np.asarray(zlib, float)


def in_out_gap(nats: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Per example: the mean loss of the models that held it out minus that of the models that trained on it.

    nats, inside: (models, examples); NaN where an example is in every model or in none."""
    with np.errstate(invalid="ignore"):
        return (np.where(~inside, nats, 0).sum(0) / (~inside).sum(0)) - (np.where(inside, nats, 0).sum(0) / inside.sum(0))


# --- metrics of an attack: members' scores vs non-members' scores ------------------------------------------
def _labelled(member: np.ndarray, nonmember: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores): 1 for each member, 0 for each non-member, and their scores in that order."""
    return np.r_[np.ones(len(member)), np.zeros(len(nonmember))], np.r_[member, nonmember]


def auc(member: np.ndarray, nonmember: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a member outscores a non-member, ties counting one half."""
    check(len(member) > 0 and len(nonmember) > 0, "member, nonmember", (len(member), len(nonmember)),
          "at least one score of each")
    return float(roc_auc_score(*_labelled(member, nonmember)))


def loss_auc(member_nats: np.ndarray, nonmember_nats: np.ndarray) -> float:
    """AUC of the loss attack: members' code lengths against non-members'."""
    return auc(loss_score(member_nats), loss_score(nonmember_nats))


def pair_auc(nats: np.ndarray, inside: np.ndarray) -> float:
    """The loss attack's AUC over (model, example) pairs, members being the pairs where the model trained on the example.

    nats, inside: (models, examples)."""
    return loss_auc(nats[inside], nats[~inside])


def pair_auc_difference(a: tuple, b: tuple, n_boot: int, rng: np.random.Generator) -> dict:
    """`pair_auc` of condition a minus condition b on the same examples, with a 95% bootstrap interval over examples
    (columns). a, b: (nats, inside), each (models, examples)."""
    n = a[0].shape[1]
    diffs = []
    for _ in range(n_boot):
        i = rng.integers(0, n, n)
        diffs.append(pair_auc(a[0][:, i], a[1][:, i]) - pair_auc(b[0][:, i], b[1][:, i]))
    lo, hi = np.quantile(diffs, [0.025, 0.975]) if diffs else (np.nan, np.nan)
    return {"a": pair_auc(*a), "b": pair_auc(*b), "ci_low": float(lo), "ci_high": float(hi)}


def distance_to_reference(nats: np.ndarray, ref: np.ndarray, ref_heldout: np.ndarray) -> float:
    """How far one model's losses on some examples lie from reference models that never saw them, in units of the
    references' own seed-to-seed spread (in unlearning: the models retrained without a forget set):

        sqrt( mean_{i in F} (ℓ_i − μ_i)²  /  mean_{j in F ∪ T} s_j² )

    ℓ_i the model's loss on example i of F; μ_j and s_j² the mean and variance (ddof 1) over the references of their
    loss on example j, for F (`ref`, references x F) and a held-out set T (`ref_heldout`, references x T) that none of
    them saw either (T is in the unit because on easy examples every reference is certain, s_i² = 0). A draw from the
    references' own distribution scores about sqrt(1 + 1/R)."""
    check(ref.shape[0] >= 2 and ref_heldout.shape[0] == ref.shape[0], "retrained", (ref.shape, ref_heldout.shape),
          "at least 2 retrained models, on the forget and held-out sets")
    mu = ref.mean(0)
    unit = np.r_[ref.var(0, ddof=1), ref_heldout.var(0, ddof=1)].mean()
    return float(np.sqrt(((nats - mu) ** 2).mean() / unit))


def null_auc_se(n_member, n_nonmember):
    """The AUC's standard error when the scores carry no signal, √((n1 + n2 + 1) / (12·n1·n2)) (Mann–Whitney)."""
    return np.sqrt((n_member + n_nonmember + 1) / (12 * n_member * n_nonmember))


def roc(member: np.ndarray, nonmember: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of the ROC curve, for a figure."""
    fpr, tpr, _ = roc_curve(*_labelled(member, nonmember))
    return fpr, tpr


def tpr_at_fpr(member: np.ndarray, nonmember: np.ndarray, target: float) -> dict:
    """The largest TPR among thresholds whose FPR does not exceed `target` (ties count together: a threshold
    cannot split tied scores), the FPR that threshold reaches, and a Clopper–Pearson 95% interval of the TPR."""
    fpr, tpr, _ = roc_curve(*_labelled(member, nonmember), drop_intermediate=False)
    i = np.flatnonzero(fpr <= target + 1e-12).max()  # fpr and tpr are non-decreasing: the last is the largest
    tp = int(round(tpr[i] * len(member)))
    rate, lo, hi = rate_ci(tp, len(member))
    return {"tpr": rate, "fpr_reached": float(fpr[i]), "ci_low": lo, "ci_high": hi}


def calibration_split(n_member: int, n_nonmember: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (calibration) over members and over non-members: a random half of each."""
    g = np.random.default_rng([seed, 5])
    out = []
    for n in (n_member, n_nonmember):
        m = np.zeros(n, bool)
        m[g.permutation(n)[:n // 2]] = True
        out.append(m)
    return out[0], out[1]


def calibrated_f1(member: np.ndarray, nonmember: np.ndarray, seed: int = 0) -> dict:
    """F1 on an evaluation half, the threshold set on the other (calibration) half of members and non-members.

    - `f1`: threshold = the calibration scores' median, i.e. call the top half "members" (the classes are
      balanced): a blind guess scores 0.5, perfect separation 1, the range of the paper's law;
    - `f1_best_threshold`: threshold maximizing F1 on the calibration half. A blind attack reaches 2/3 this
      way by calling everything a member, so it cannot fall to 0.5."""
    cm, cn = calibration_split(len(member), len(nonmember), seed)
    cal_y, cal_s = _labelled(member[cm], nonmember[cn])
    ev_y, ev_s = _labelled(member[~cm], nonmember[~cn])
    med = np.median(cal_s)
    prec, rec, thr = precision_recall_curve(cal_y, cal_s)  # predict "member" at score >= thr, every threshold
    f1s = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(prec), where=prec + rec > 0)[:-1]
    best = thr[np.argmax(f1s)]
    return {"f1": f1_score(ev_y, ev_s > med), "f1_best_threshold": f1_score(ev_y, ev_s >= best),
            "n_calibration": int(len(cal_s)), "n_evaluation": int(len(ev_s))}


def attack_metrics(member: np.ndarray, nonmember: np.ndarray, seed: int = 0) -> dict:
    """AUC, TPR at 1% and 0.1% FPR (with the FPR reached and intervals) and calibrated F1 (calibration split `seed`)."""
    member, nonmember = np.asarray(member, float), np.asarray(nonmember, float)
    out = {"auc": auc(member, nonmember)}
    for name, t in (("1pct", 0.01), ("0_1pct", 0.001)):
        r = tpr_at_fpr(member, nonmember, t)
        out.update({f"tpr_at_{name}_fpr": r["tpr"], f"fpr_reached_{name}": r["fpr_reached"],
                    f"tpr_{name}_ci_low": r["ci_low"], f"tpr_{name}_ci_high": r["ci_high"]})
    out.update(calibrated_f1(member, nonmember, seed))
    return {**out, "n_members": len(member), "n_nonmembers": len(nonmember)}

"""Membership attacks and their metrics (memlib.attacks): each against values computed by hand on tiny arrays."""
import math

import numpy as np
import pytest

from memlib import attacks
from memlib.config import ConfigError


def test_scores_by_hand():
    nats = np.array([1.0, 3.0])
    assert attacks.loss_score(nats).tolist() == [-1.0, -3.0]
    assert attacks.reference_score(nats, np.array([2.0, 2.0])).tolist() == [1.0, -1.0]
    # 8 bits of code length against 16 bits of zlib: ratio 0.5
    assert attacks.zlib_ratio_score(np.array([8 * math.log(2)]), np.array([16.0])) == pytest.approx([-0.5])
    assert attacks.blind_zlib_score(np.array([16.0])).tolist() == [-16.0]


def test_min_k_averages_the_least_likely_fraction_of_tokens():
    lp = np.array([[-1.0, -5.0, -2.0, -3.0, -4.0]])
    assert attacks.min_k_score(lp, 0.4).tolist() == [-4.5]  # ceil(0.4 * 5) = 2 tokens: -5, -4
    assert attacks.min_k_score(lp, 0.2).tolist() == [-5.0]
    assert attacks.min_k_score(lp, 0.01).tolist() == [-5.0]  # at least one token


def test_lira_offline_is_a_z_score_below_the_references():
    ref = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])  # 3 references, 2 examples: mean (2, 4), sd (1, 2)
    assert attacks.lira_offline_score(np.zeros(2), ref).tolist() == [2.0, 2.0]
    fixed = attacks.lira_offline_score(np.zeros(2), ref, fixed_variance=True)  # one sd: sqrt((1 + 4) / 2)
    assert fixed == pytest.approx([2 / math.sqrt(2.5), 4 / math.sqrt(2.5)])


def test_in_out_gap_by_hand():
    nats = np.array([[1.0, 5.0, 9.0], [2.0, 6.0, 9.0], [4.0, 7.0, 9.0]])
    inside = np.array([[True, False, False], [False, True, False], [False, False, False]])
    gap = attacks.in_out_gap(nats, inside)
    assert gap[:2].tolist() == [(2 + 4) / 2 - 1, (5 + 7) / 2 - 6] and np.isnan(gap[2])  # the third: in no model


def test_auc_counts_ties_as_one_half():
    assert attacks.auc(np.array([3.0, 2.0]), np.array([1.0, 2.0])) == 3.5 / 4  # pairs: 1, 1, 1, 1/2
    assert attacks.auc(np.array([1.0]), np.array([1.0])) == 0.5
    assert attacks.loss_auc(np.array([0.5]), np.array([1.0, 2.0])) == 1.0  # low loss = member
    with pytest.raises(ConfigError):
        attacks.auc(np.array([1.0]), np.array([]))


def test_pair_auc_and_its_bootstrap_difference():
    nats = np.array([[1.0, 3.0], [2.0, 0.0]])
    inside = np.array([[True, False], [False, True]])  # members' losses 1 and 0, non-members' 3 and 2
    assert attacks.pair_auc(nats, inside) == 1.0
    assert attacks.pair_auc(-nats, inside) == 0.0
    d = attacks.pair_auc_difference((nats, inside), (-nats, inside), 0, np.random.default_rng(0))
    assert d["a"] == 1.0 and d["b"] == 0.0 and np.isnan(d["ci_low"]) and np.isnan(d["ci_high"])
    d = attacks.pair_auc_difference((nats, inside), (-nats, inside), 20, np.random.default_rng(0))
    assert d["ci_low"] <= 1.0 <= d["ci_high"] + 1e-12  # any resample with both classes differs by exactly 1


def test_null_auc_standard_error_and_roc():
    assert attacks.null_auc_se(2, 2) == pytest.approx(math.sqrt(5 / 48))
    fpr, tpr = attacks.roc(np.array([2.0]), np.array([1.0]))
    assert fpr.tolist() == [0.0, 0.0, 1.0] and tpr.tolist() == [0.0, 1.0, 1.0]


def test_tpr_at_low_fpr_never_splits_ties_and_reports_the_fpr_reached():
    non = np.r_[3.0, np.zeros(99)]  # one non-member tied with the members' 3s
    r = attacks.tpr_at_fpr(np.array([3.0, 3.0, 3.0, -1.0]), non, 0.01)
    assert r["tpr"] == 0.75 and r["fpr_reached"] == 0.01  # the tied threshold is allowed at 1%
    r = attacks.tpr_at_fpr(np.array([3.0, 3.0, 3.0, -1.0]), non, 0.001)
    assert r["tpr"] == 0.0 and r["fpr_reached"] == 0.0  # ...not at 0.1%: the three 3s cannot be called alone
    assert r["ci_low"] == 0.0 and r["ci_high"] == pytest.approx(1 - 0.025 ** 0.25)  # Clopper-Pearson, 0 of 4: 0.602
    r = attacks.tpr_at_fpr(np.array([5.0, 3.0, 3.0, -1.0]), non, 0.001)
    assert r["tpr"] == 0.25 and r["fpr_reached"] == 0.0


def test_f1_threshold_comes_from_the_calibration_half():
    cm, cn = attacks.calibration_split(10, 12, seed=3)
    assert cm.sum() == 5 and cn.sum() == 6
    m = attacks.calibrated_f1(np.array([10.0, 11, 12, 13]), np.array([0.0, 1, 2, 3]))
    assert m["f1"] == 1.0 and m["f1_best_threshold"] == 1.0 and m["n_calibration"] == m["n_evaluation"] == 4
    m = attacks.calibrated_f1(np.ones(4), np.ones(4))  # tied scores: nobody is above the median, no member called
    assert m["f1"] == 0.0 and m["f1_best_threshold"] == pytest.approx(2 / 3)  # everyone a member: P 1/2, R 1
    g = np.random.default_rng(0)
    m = attacks.calibrated_f1(g.normal(0, 1, 2000), g.normal(0, 1, 2000))
    assert abs(m["f1"] - 0.5) < 0.04 and m["f1_best_threshold"] > 0.6  # the median threshold: a blind attack scores 0.5


def test_distance_is_in_units_of_the_references_seed_spread():
    R = np.array([[1.0, 3.0], [3.0, 5.0]])  # two references, two examples: mu = (2, 4), var = (2, 2)
    T = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 3.0]])  # and three held-out examples: var = (0, 0, 4.5)
    unit = (2 + 2 + 0 + 0 + 4.5) / 5
    assert attacks.distance_to_reference(np.array([2.0, 4.0]), R, T) == 0.0
    assert attacks.distance_to_reference(np.array([4.0, 6.0]), R, T) == pytest.approx(math.sqrt(4 / unit))
    rng = np.random.default_rng(0)  # a draw from the references' distribution scores about sqrt(1 + 1/n)
    mu, sd = rng.normal(0, 3, 500), 0.5
    R, T = mu + sd * rng.standard_normal((8, 500)), sd * rng.standard_normal((8, 300))
    assert attacks.distance_to_reference(mu + sd * rng.standard_normal(500), R, T) == pytest.approx(math.sqrt(1 + 1 / 8), rel=0.1)
    with pytest.raises(ConfigError, match="retrained"):
        attacks.distance_to_reference(np.zeros(2), R[:1, :2], T[:1])


def test_attack_metrics_on_a_perfect_attack():
    m = attacks.attack_metrics(np.arange(100.0, 110.0), np.arange(10.0))  # far apart: any calibration threshold works
    assert m["auc"] == 1.0 and m["tpr_at_1pct_fpr"] == 1.0 and m["fpr_reached_1pct"] == 0.0
    assert m["f1"] == 1.0 and m["n_members"] == m["n_nonmembers"] == 10

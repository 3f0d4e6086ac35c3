"""Notebook 01's intervals and saturation table on known cases (no training)."""
import numpy as np
import pandas as pd
import pytest

from memlib.capacity import (PAPER_TABLE1, bootstrap_alpha, capacities, fit_capacity_split, lower_bound, matched_capacities,
                             param_split, predicted_capacity, paper_targets, precision_ratio, saturation, vocab_dependence)


def caps(alpha=3.0, noise=0.0, precisions=("fp32",), bf16_factor=0.9, seeds=(0, 1, 2), sizes=(1000, 2000, 4000, 8000)):
    rng = np.random.default_rng(1)
    rows = []
    for p in precisions:
        for s in seeds:
            for d, n in enumerate(sizes):
                c = alpha * n * (bf16_factor if p == "bf16" else 1.0) * (1 + noise * rng.standard_normal())
                rows.append(dict(n_layer=1, d_model=d, vocab_size=64, seq_len=16, tied=True, precision=p, seed=s,
                                 n_params=n, capacity_bits=c, bits_per_param=c / n))
    return pd.DataFrame(rows)


def test_alpha_interval_is_a_point_without_noise_and_covers_the_truth_with_it():
    exact = bootstrap_alpha(caps())
    assert exact["slope"] == pytest.approx(3.0) and exact["slope_ci_low"] == pytest.approx(3.0)
    assert exact["mean"] == pytest.approx(3.0) and exact["mean_ci_high"] == pytest.approx(3.0)
    noisy = bootstrap_alpha(caps(noise=0.05, seeds=tuple(range(10))))
    assert noisy["slope_ci_low"] < 3.0 < noisy["slope_ci_high"] and noisy["mean_ci_low"] < 3.0 < noisy["mean_ci_high"]
    assert noisy["slope_ci_high"] - noisy["slope_ci_low"] < 0.3  # 40 models, 5% noise: a tight interval
    assert noisy["slope_ci_low_seeds"] < 3.0 < noisy["slope_ci_high_seeds"] and noisy["n_shapes"] == 4


def test_slope_and_mean_differ_when_small_models_store_less_per_parameter():
    c = caps()
    c.loc[c.n_params == 1000, "capacity_bits"] = 1000 * 1.5  # the smallest model: 1.5 bits/param, the rest 3
    a = bootstrap_alpha(c)
    assert a["mean"] < a["slope"] < 3.0  # the mean weighs the small model as much as the big ones


def test_bf16_over_fp32_ratio_covers_a_known_factor():
    r = precision_ratio(caps(noise=0.03, precisions=("fp32", "bf16"), bf16_factor=0.9, seeds=tuple(range(6))))
    assert r["n_pairs"] == 24 and r["ci_low"] < 0.9 < r["ci_high"] and r["ci_high"] - r["ci_low"] < 0.06
    assert precision_ratio(caps()) is None  # no bf16 runs: no ratio


def run_rows(spec):
    """A run table: spec = [(d_model, seed, n_seqs, memorized_bits, gain_last_doubling, precision)]."""
    return pd.DataFrame([dict(n_layer=1, d_model=d, vocab_size=64, seq_len=16, tied=True, precision=p, seed=s,
                              n_params=1000 * (d + 1), n_seqs=n, dataset_bits=n * 96.0, memorized_bits=b, steps=100 * n,
                              gain_last_doubling=g, stop_reason="plateau", saturated=g is not None and g < 0.01)
                         for d, s, n, b, g, p in spec])


def test_saturation_table_names_the_shapes_still_gaining():
    """A shape is at a measured plateau only when no run at or above its maximum's dataset size still moved (rising
    or falling by >= 1%), and data-bound when its maximum sits at the largest dataset."""
    runs = run_rows([(0, 0, 10, 900, 0.02, "fp32"), (0, 0, 20, 1500, 0.004, "fp32"), (0, 0, 40, 1480, -0.003, "fp32"),
                     (1, 0, 10, 900, 0.0, "fp32"), (1, 0, 20, 1500, 0.005, "fp32"), (1, 0, 40, 1400, -0.05, "fp32"),
                     (2, 0, 10, 900, 0.0, "fp32"), (2, 0, 20, 1000, 0.0, "fp32"), (2, 0, 40, 1100, 0.0, "fp32")])
    t = {r["d_model"]: r for r in saturation(runs, capacities(runs))}
    assert (t[0]["saturated"], t[0]["data_bound"], t[0]["steps_max"]) == (True, False, 4000)  # below the max: ignored
    assert t[0]["n_unsaturated_runs"] == 1 and t[0]["gain_last_doubling"] == 0.004
    assert (t[1]["saturated"], t[1]["max_abs_gain_at_or_above"]) == (False, 0.05)  # a larger N still falling
    assert (t[2]["saturated"], t[2]["data_bound"]) == (True, True)  # flat, but its max is at the largest dataset
    assert lower_bound(runs, capacities(runs)) and not lower_bound(runs[runs.d_model == 0], capacities(runs[runs.d_model == 0]))


def test_bf16_ratio_compares_the_same_dataset_sizes():
    """fp32 trained on more dataset sizes than bf16: the ratio takes fp32's maximum over bf16's sizes only."""
    runs = run_rows([(0, s, n, b, 0.0, "fp32") for s in (0, 1) for n, b in ((10, 900), (20, 1000), (80, 1600))]
                    + [(0, s, n, 0.9 * b, 0.0, "bf16") for s in (0, 1) for n, b in ((10, 900), (20, 1000))]
                    + [(1, s, n, b, 0.0, "fp32") for s in (0, 1) for n, b in ((10, 800), (20, 1200))]
                    + [(1, s, n, 0.9 * b, 0.0, "bf16") for s in (0, 1) for n, b in ((10, 800), (20, 1200))])
    r = precision_ratio(matched_capacities(runs), n_boot=50)
    assert r["ratio"] == pytest.approx(0.9) and r["n_pairs"] == 4  # unmatched, fp32's 1600 at N = 80 would give 0.72
    assert precision_ratio(capacities(runs), n_boot=50)["ratio"] < 0.8


def test_paper_targets_are_table_1_on_our_estimators():
    x = np.array([v[0] for v in PAPER_TABLE1.values()])
    b32, b16 = (np.array([v[k] for v in PAPER_TABLE1.values()]) for k in (1, 2))
    t = paper_targets()
    assert t["slope_fp32"] == pytest.approx(x @ b32 / (x @ x)) and t["slope_bf16"] == pytest.approx(x @ b16 / (x @ x))
    assert t["mean_fp32"] == pytest.approx((b32 / x).mean()) and t["bf16_fp32_mean_ratio"] == pytest.approx((b16 / b32).mean())
    assert t["bf16_fp32_slope_ratio"] == pytest.approx((x @ b16) / (x @ b32))
    assert abs(t["slope_fp32"] - t["stated"]["headline"]) > 0.2  # the headline 3.6 is not the fp32 slope
    one = [k for k in PAPER_TABLE1 if k[0] == 1]
    x1, y1 = np.array([PAPER_TABLE1[k][0] for k in one]), np.array([PAPER_TABLE1[k][1] for k in one])
    assert t["slope_fp32_1layer"] == pytest.approx(x1 @ y1 / (x1 @ x1)) and t["mean_fp32_1layer"] == pytest.approx((y1 / x1).mean())


def sweep(bpp, saturated=True, fill=0.5):
    """Vocabulary-sweep capacities: {(V, S): [bits/param per seed]}."""
    return pd.DataFrame([dict(vocab_size=v, seq_len=s, seed=i, bits_per_param=b, saturated_at_max=saturated,
                              gain_at_max=0.001 if saturated else 0.03, fill_at_max=fill)
                         for (v, s), bs in bpp.items() for i, b in enumerate(bs)])


def test_vocabulary_verdict_agrees_disagrees_or_is_not_settled():
    flat = {(16, 16): [2.00, 2.01, 2.0], (64, 16): [2.00, 2.01, 2.0], (256, 16): [2.01, 2.00, 2.0],
            (64, 32): [2.0, 2.01, 2.0]}
    d = vocab_dependence(sweep(flat), 64, 16, n_boot=300)
    assert d["vocab"]["verdict"] == "agrees" and d["seq_len"]["verdict"] == "agrees"
    two = {k: v[:2] for k, v in flat.items()}  # two seeds a cell: a bootstrap of two cannot bound the seed spread
    d = vocab_dependence(sweep(two), 64, 16, n_boot=300)
    assert d["vocab"]["verdict"] == "not settled at this scale" and "fewer than 3 seeds" in d["vocab"]["why"]
    rising = {(16, 16): [1.70, 1.71, 1.70], (64, 16): [2.00, 2.01, 2.0], (256, 16): [2.40, 2.41, 2.4]}
    d = vocab_dependence(sweep(rising), 64, 16, n_boot=300)
    assert d["vocab"]["verdict"] == "disagrees" and d["vocab"]["max_abs_change"] == pytest.approx(0.2 + 0.004, abs=0.01)
    assert d["seq_len"] is None  # one S: nothing to say about S
    dip = {(16, 16): [2.0, 2.0, 2.0], (64, 16): [1.5, 1.5, 1.5], (256, 16): [2.0, 2.0, 2.0]}  # extremes equal, the middle not
    assert vocab_dependence(sweep(dip), 16, 16, n_boot=300)["vocab"]["verdict"] == "disagrees"
    assert vocab_dependence(sweep(rising, saturated=False), 64, 16, n_boot=300)["vocab"]["verdict"] == \
        "not settled at this scale"  # still gaining: V-dependent under-training would look like V-dependence
    assert vocab_dependence(sweep(rising, fill=0.95), 64, 16, n_boot=300)["vocab"]["verdict"] == "not settled at this scale"
    falling = sweep(rising).assign(gain_at_max=-0.05)  # a run that lost 5% over its last doubling is no plateau either
    assert vocab_dependence(falling, 64, 16, n_boot=300)["vocab"]["verdict"] == "not settled at this scale"
    noisy = {(16, 16): [1.8, 2.3, 2.0], (64, 16): [1.9, 2.2, 2.0]}
    assert vocab_dependence(sweep(noisy), 64, 16, n_boot=300)["vocab"]["verdict"] == "not settled at this scale"


def test_embedding_and_other_parameters_are_priced_apart():
    """Capacities made from known prices (1 bit per embedding parameter, 3 per other) come back, and predict a
    model of another mix; a single mix cannot be split."""
    from memlib.models import GPTConfig, n_params
    shapes = [(64, 16, d) for d in (4, 8, 12, 16)] + [(v, 16, 8) for v in (16, 256, 2048)]
    rows = []
    for (v, s_, d) in shapes:
        m = GPTConfig(vocab_size=v, seq_len=s_, n_layer=1, d_model=d)
        emb, rest = param_split(m)
        assert emb + rest == n_params(m) and emb == (v + 1 + s_) * d
        for seed in (0, 1):
            rows.append(dict(n_layer=1, d_model=d, vocab_size=v, seq_len=s_, tied=True, seed=seed, n_params=n_params(m),
                             capacity_bits=1.0 * emb + 3.0 * rest))
    fit = fit_capacity_split(pd.DataFrame(rows), n_boot=50)
    assert fit["bits_per_embedding_param"] == pytest.approx(1.0) and fit["bits_per_other_param"] == pytest.approx(3.0)
    other = GPTConfig(vocab_size=512, seq_len=32, n_layer=2, d_model=16)
    emb, rest = param_split(other)
    assert predicted_capacity(other, fit) == pytest.approx(emb + 3 * rest)
    with pytest.raises(Exception, match="embedding share"):
        fit_capacity_split(pd.DataFrame(rows[:2]), n_boot=5)

"""Extraction and exposure: memorized sequences are extracted, unseen canaries sit at chance, the statistics hold."""
import math

import numpy as np
import pytest

from memlib import canaries as can
from memlib import corpus
from memlib.bits import capacity_monitor
from memlib.config import ConfigError
from memlib.data import RandomTokens
from memlib.engine import Run, Subset, TrainConfig, evaluate, stack_of, sweep
from memlib.extraction import ExtractionConfig, suffix_match
from memlib.models import GPTConfig
from memlib.stats import bootstrap_slope, rate_ci
from memlib.store import RunStore
from memlib.text import TextConfig

TC = TrainConfig(lr=1e-2, batch_size=64, warmup=0, stop="steps", max_steps=400, eval_every=100)


def test_a_model_that_memorized_a_handful_of_sequences_extracts_them_exactly(tmp_path):
    st = RunStore(tmp_path)
    cfg = GPTConfig(vocab_size=16, seq_len=12, d_model=32)
    run = Run(model=cfg, data=RandomTokens(16, 12, 6, 0), train=TC)
    sweep([run], capacity_monitor, st, device="cpu", progress=False)
    s = stack_of([run], st)
    seqs = s.y[:6].unsqueeze(0)  # (1, 6, 12): its own training sequences
    for k in (2, 4, 8):
        assert (suffix_match(s, seqs, k) == 12 - k).all(), k
    unseen = RandomTokens(16, 12, 6, 1).load_pool(6)[1].unsqueeze(0)
    assert (suffix_match(s, unseen, 4) < 8).all()  # random sequences it never saw are not reproduced


def test_exposure_is_log2_of_the_candidates_over_the_rank():
    cand = np.array([5.0, 1.0, 3.0, 3.0, 7.0, 9.0, 2.0, 8.0])
    assert can.exposure(cand, 1.0)[0] == pytest.approx(3.0)  # ranked first of 8
    assert can.exposure(cand, 9.0)[0] == pytest.approx(0.0)  # ranked last
    assert can.exposure(cand, 3.0)[0] == pytest.approx(3 - math.log2(3.5))  # tied 3rd/4th: mid-rank 3.5


def test_extrapolated_exposure_matches_the_exact_one_on_a_smooth_distribution():
    rng = np.random.default_rng(0)
    cand = rng.normal(100, 5, 200_000)
    canary = np.array([100 - 3.5 * 5, 100 - 2 * 5, 100.0])
    exact = can.exposure(cand, canary)
    est = can.extrapolated_exposure(rng.choice(cand, 2000, replace=False), canary)
    assert np.allclose(est, exact, atol=0.6), (est, exact)


def test_canary_never_seen_has_chance_exposure_and_a_repeated_one_more(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    t = TextConfig.from_params("smoke")
    c = corpus.load(t.corpus())  # built by conftest for the smoke notebooks
    secrets = can.random_secrets(41, 3, seed=5)
    data = can.CanaryText(text=corpus.TextSequences(corpus=t.corpus(), digest=c.digest, n_seqs=32), secrets=secrets)
    pos = data.canary_positions()
    run = Run(model=t.model(1, 16), data=data, train=TC.replace(max_steps=300), seed=0,
              subset=Subset(exclude=tuple(pos[1:]), repeat=((pos[0], 16),)))  # canary 0 seen 16 times, 40 never
    st = RunStore(tmp_path)
    sweep([run], capacity_monitor, st, device="cpu", progress=False)
    from memlib.data import lm_pair
    x, y = lm_pair(data.sequences(can.all_secrets(3)), bos=t.vocab_size)
    nats = evaluate([run], (x, y), st, device="cpu", outputs=("nats",))["nats"][0]  # (1000,)
    exp = can.exposure(nats, nats[[int(s) for s in secrets]])
    chance = math.log2(1000) - np.mean(np.log2(np.arange(1, 1001)))  # ≈ 1/ln 2
    assert abs(exp[1:].mean() - chance) < 0.9, exp[1:].mean()  # 40 unseen canaries: sd of the mean ≈ 0.23 bits
    assert exp[0] > 5  # the repeated canary ranks near the top of 1,000


def test_rates_and_slopes_carry_intervals_that_cover_the_truth():
    r, lo, hi = rate_ci(30, 100)
    assert r == 0.3 and lo < 0.3 < hi and hi - lo < 0.2
    assert rate_ci(0, 0)[1:] == (0.0, 1.0)
    rng = np.random.default_rng(1)
    levels = np.array([1, 2, 4, 8, 16])
    p = 0.1 + 0.1 * np.log2(levels)  # 0.1 per doubling
    fit = bootstrap_slope(levels, [(rng.random(400) < q).astype(float) for q in p], n_boot=500)
    assert fit["ci_low"] < 0.1 < fit["ci_high"] and abs(fit["slope"] - 0.1) < 0.03


def test_bad_extraction_parameters_fail_naming_the_field(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    with pytest.raises(ConfigError, match="ks"):
        ExtractionConfig.from_params("laptop", ks=[4, 40])
    with pytest.raises(ConfigError, match="canary_repeats"):
        ExtractionConfig.from_params("laptop", canary_repeats=[1, 4])
    with pytest.raises(ConfigError, match="group"):
        ExtractionConfig.from_params("laptop", group=400)


def test_extraction_builds_notebook_03s_config_once_and_quotes_the_middle_prefix():
    e = ExtractionConfig.from_params("smoke")
    assert e.text() is e.text() and e.text() == TextConfig.from_params("smoke")
    assert e.k_mid == 8 and ExtractionConfig.from_params("smoke", ks=(8, 2, 4)).k_mid == 4

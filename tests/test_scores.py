"""Per-example scores: EL2N and GraNd identities, the memorization estimator on planted effects, selection,
AUROC and rank correlations; and the data-diet experiment's configuration."""
import math

import numpy as np
import pytest
import torch

from memlib import diet, models, scores
from memlib.config import ConfigError
from memlib.engine import Run, Stack, Subset, TrainConfig, evaluate, stack_of, sweep
from memlib.images import Images, accuracy_monitor
from memlib.stats import spearman_ci
from memlib.store import RunStore

MLP = models.MLPConfig(in_shape=(1, 8, 8), n_classes=10, width=16)


def test_el2n_of_a_perfect_prediction_is_zero_and_of_a_uniform_one_is_known():
    y = np.array([3, 0, 9])
    perfect = np.full((2, 3, 10), -1e4)
    perfect[:, np.arange(3), y] = 1e4
    assert np.array_equal(scores.el2n(perfect, y), np.zeros(3))
    uniform = np.zeros((2, 3, 10))
    assert np.allclose(scores.el2n(uniform, y), math.sqrt(0.9 ** 2 + 9 * 0.01))
    wrong = perfect.copy()
    wrong[:, 0] = np.roll(perfect[:, 0], 1, axis=-1)  # all mass on another class: the largest possible, sqrt(2)
    assert np.isclose(scores.el2n(wrong, y)[0], math.sqrt(2))


def test_grand_equals_the_norm_of_each_examples_gradient_computed_the_slow_way():
    spec = Images(dataset="digits")
    rs = [Run(model=MLP, data=spec, train=TrainConfig(batch_size=32, lr=1e-2), seed=s) for s in (0, 1, 2)]
    s = Stack(rs)
    for _ in range(5):
        s.train_step()
    x, y = spec.load_pool(12)
    fast = scores.grand(s, x, y, chunk=5)
    slow = np.zeros((3, 12))
    for k in range(3):  # one model, one example at a time, plain autograd
        m = models.build(MLP, 0)
        m.load_state_dict(s.model_weights(k))
        for i in range(12):
            loss = torch.nn.functional.cross_entropy(m(x[i:i + 1]), y[i:i + 1])
            g = torch.autograd.grad(loss, list(m.parameters()))
            slow[k, i] = torch.sqrt(sum(t.pow(2).sum() for t in g)).item()
    assert fast.shape == (12,) and (fast > 0).all()
    assert np.allclose(fast, slow.mean(0), rtol=1e-4)
    assert not np.allclose(fast, slow[0], rtol=1e-3)  # it is the average over the models, not one model's


def test_memorization_estimator_is_unbiased_with_calibrated_standard_errors():
    """Planted per-example P(correct | in) and P(correct | out); 400 models, each holding 70% of examples."""
    g = np.random.default_rng(0)
    R, N = 400, 300
    p_in = np.r_[np.full(100, 0.95), np.full(100, 0.9), np.full(100, 0.99)]
    p_out = np.r_[np.full(100, 0.15), np.full(100, 0.9), np.full(100, 0.6)]  # true mem: 0.8, 0, 0.39
    inside = g.random((R, N)) < 0.7
    correct = g.random((R, N)) < np.where(inside, p_in, p_out)
    m = scores.memorization(correct, inside)
    assert np.array_equal(m["n_in"] + m["n_out"], np.full(N, R)) and np.array_equal(m["n_in"], inside.sum(0))
    z = (m["mem"] - (p_in - p_out)) / m["se"]
    assert abs(z.mean()) < 0.2 and 0.8 < z.std() < 1.2  # unbiased, and the standard error is the right size
    assert abs(m["mem"][:100].mean() - 0.8) < 0.02 and abs(m["mem"][100:200].mean()) < 0.02


def test_memorization_of_planted_mislabeled_examples_through_the_engine(tmp_path):
    """Toy problem: 10 of 200 digits get a wrong label. Models that train on one fit its wrong label; models
    that do not predict its true class. So those 10 are memorized (score near 1), typical digits are not."""
    st = RunStore(tmp_path)
    spec = Images(dataset="digits", n_train=200, noise=0.05)
    tc = TrainConfig(lr=1e-2, batch_size=256, warmup=0, stop="steps", max_steps=300, eval_every=300, decay_frac=0.0)
    rs = [Run(model=MLP.replace(width=64), data=spec, train=tc, seed=s, subset=Subset(frac=0.5, seed=s)) for s in range(16)]
    sweep(rs, accuracy_monitor, st, device="cpu", progress=False)
    correct = evaluate(rs, spec, st, device="cpu", outputs=("correct",))["correct"]
    m = scores.memorization(correct, scores.held_in(rs, spec.indices().numpy()))
    planted = spec.noisy()
    assert planted.sum() == 10 and (m["n_out"] >= 2).all()
    assert np.nanmean(m["mem"][planted]) > 0.8 and np.nanmean(m["mem"][~planted]) < 0.3  # measured: 0.99, 0.17
    assert scores.auroc(np.nan_to_num(m["mem"]), planted) > 0.95


def test_held_in_follows_each_runs_subset():
    spec = Images(dataset="digits", n_train=50)
    pos = spec.indices().numpy()
    rs = [Run(model=MLP, data=spec), Run(model=MLP, data=spec, subset=Subset(frac=0.5, seed=3)),
          Run(model=MLP, data=spec, subset=Subset(include=tuple(int(p) for p in pos[:7])))]
    h = scores.held_in(rs, pos)
    assert h[0].all() and h[1].sum() == 25 and h[2].tolist() == [True] * 7 + [False] * 43
    assert np.array_equal(np.sort(pos[h[1]]), np.sort(Subset(frac=0.5, seed=3).apply(spec.indices()).numpy()))


def test_select_keeps_highest_lowest_random_and_offsets():
    v = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 0.0, 8.0, 2.0, 6.0, 4.0])
    assert scores.select(v, "highest", 0.3).tolist() == [2, 4, 6]  # 9, 7, 8
    assert scores.select(v, "lowest", 0.2).tolist() == [1, 5]
    assert scores.select(v, "highest", 0.3, offset=0.2).tolist() == [0, 4, 8]  # drop 9, 8; keep 7, 6, 5
    r = scores.select(v, "random", 0.5, seed=1)
    assert len(r) == 5 and r.tolist() == scores.select(v, "random", 0.5, seed=1).tolist()
    assert r.tolist() != scores.select(v, "random", 0.5, seed=2).tolist()
    with pytest.raises(ConfigError, match="offset"):
        scores.select(v, "highest", 0.9, offset=0.2)
    with pytest.raises(ConfigError, match="keep"):
        scores.select(v, "hardest", 0.5)


def test_auroc_and_spearman():
    pos = np.array([False] * 6 + [True] * 4)
    assert scores.auroc(np.arange(10.0), pos) == 1.0 and scores.auroc(-np.arange(10.0), pos) == 0.0
    g = np.random.default_rng(1)
    a = g.normal(size=500)
    same = spearman_ci(a, np.exp(a), n_boot=200)
    assert same["rho"] == pytest.approx(1.0) and same["ci_low"] == pytest.approx(1.0)
    indep = spearman_ci(a, g.normal(size=500), n_boot=200)
    assert indep["ci_low"] < 0 < indep["ci_high"] and indep["ci_high"] - indep["ci_low"] < 0.25 and indep["n"] == 500


# --- the experiment's configuration ------------------------------------------------------------
def test_diet_config_scales_and_bad_values(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE")  # conftest sets smoke
    lap = diet.DietConfig.from_params("laptop")
    assert lap.dataset == "mnist" and lap.n_inits >= 10 and len(lap.seeds) >= 3
    assert diet.DietConfig.from_params("paper").dataset == "fashion"
    for kw, field in [(dict(n_inits=5), "n_inits"), (dict(model="resnet"), "model"), (dict(fracs=(0.5, 1.0)), "fracs"),
                      (dict(prune_scores=("loss",)), "prune_scores"), (dict(offsets=(0.5,)), "offsets"),
                      (dict(mem_frac=1.0), "mem_frac"), (dict(dataset="cifar"), "dataset")]:
        with pytest.raises(ConfigError, match=f"invalid {field}="):
            diet.DietConfig(**kw)


def test_diet_runs_differ_only_in_seed_or_subset_and_share_a_stack():
    cfg = diet.DietConfig.from_params("smoke")
    for noisy in (False, True):
        early, mems = cfg.scorers(noisy), cfg.mem_models(noisy)
        assert len({r.replace(seed=0) for r in early}) == 1 and len({r.seed for r in early}) == cfg.n_inits
        assert len({r.replace(seed=0, subset=None) for r in mems}) == 1 and len({r.run_id() for r in mems}) == cfg.n_mem_models
        assert early[0].train.max_steps == cfg.score_epochs * math.ceil(1438 / cfg.batch_size)
    pos = cfg.data().indices().numpy()
    kept = cfg.kept_run(True, pos[:100], 0)
    assert len({r.stack_key("cpu") for r in cfg.mem_models(False) + cfg.mem_models(True) + [kept]}) == 1
    assert cfg.kept_run(False, pos, 0).subset is None and kept.data.noise == cfg.noise

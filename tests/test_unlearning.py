"""Notebook 07 (unlearning): the objectives by hand, the methods as engine runs, the measures, the smoke run."""
import math

import numpy as np
import pytest
import torch

from memlib import unlearning as ul
from memlib.config import ConfigError
from memlib.engine import OBJECTIVES, Objective, Run, Subset, TrainConfig, evaluate, sweep
from memlib.engine.objectives import Terms
from memlib.images import Images, accuracy_monitor
from memlib.models import MLPConfig


def _terms(nats, ref=None, tokens=1):
    return Terms(torch.tensor([nats]), torch.ones(1, len(nats)), tokens, None if ref is None else torch.tensor([ref]))


@pytest.mark.parametrize("method, expected", [
    ("finetune", 2.0),  # nll: mean of the retain batch's nats (1 + 3) / 2
    ("ascent", -1.0),  # −mean of the forget batch's nats (0.5 + 1.5) / 2
    ("graddiff", 1.0),  # 2.0 − 1.0
    # (2/β) mean softplus(β (ref − nats)), β = 1: (ln(1 + e^0.5) + ln(1 + e^-0.5)) / 2 * 2 = 0.974077 + 0.474077;
    # retain_weight 0 (the notebook's NPO): no retain term
    ("npo", 1.448154),
])
def test_each_methods_objective_equals_a_hand_computed_value_on_two_examples(method, expected):
    cfg = ul.UnlearningConfig.from_params("smoke")
    o = cfg.objective(method) or Objective()
    train, forget = _terms([1.0, 3.0]), _terms([0.5, 1.5], ref=[1.0, 1.0])
    got = OBJECTIVES[o.name].fn(train, forget, o)
    assert got.shape == (1,) and got.item() == pytest.approx(expected, abs=1e-5)


def test_objective_settings_by_hand():
    train, forget = _terms([1.0, 3.0], tokens=2), _terms([0.5, 1.5], ref=[1.0, 1.0], tokens=2)
    # per-token means: retain 4 / (2 examples x 2 tokens) = 1.0, forget 2 / 4 = 0.5
    assert OBJECTIVES["graddiff"].fn(train, forget, Objective("graddiff", retain_weight=0.5)).item() == pytest.approx(0.0)
    # NPO with β = 0.1 and the retain term: (2/0.1) mean softplus(0.1 (1 − nats)) + 1.0
    sp = [math.log1p(math.exp(0.1 * (1 - n))) for n in (0.5, 1.5)]
    assert OBJECTIVES["npo"].fn(train, forget, Objective("npo", beta=0.1)).item() == pytest.approx(20 * sum(sp) / 2 + 1.0, rel=1e-6)
    w = torch.tensor([[1.0, 0.0]])  # a padded slot weighs nothing
    assert OBJECTIVES["ascent"].fn(train, Terms(torch.tensor([[0.5, 9.0]]), w, 1), None).item() == pytest.approx(-0.5)


def test_distance_is_in_units_of_the_retrained_seed_spread():
    R = np.array([[1.0, 3.0], [3.0, 5.0]])  # two retrained seeds, two forget examples: mu = (2, 4), var = (2, 2)
    T = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 3.0]])  # and three held-out examples: var = (0, 0, 4.5)
    unit = (2 + 2 + 0 + 0 + 4.5) / 5
    assert ul.distance(np.array([2.0, 4.0]), R, T) == 0.0
    assert ul.distance(np.array([4.0, 6.0]), R, T) == pytest.approx(math.sqrt(4 / unit))
    rng = np.random.default_rng(0)  # a draw from the retrained models' distribution scores about sqrt(1 + 1/n)
    mu, sd = rng.normal(0, 3, 500), 0.5
    R, T = mu + sd * rng.standard_normal((8, 500)), sd * rng.standard_normal((8, 300))
    assert ul.distance(mu + sd * rng.standard_normal(500), R, T) == pytest.approx(math.sqrt(1 + 1 / 8), rel=0.1)


def test_without_removes_forget_examples_from_every_part_of_a_subset():
    assert ul.without(None, (3, 5)) == Subset(exclude=(3, 5))
    s = Subset(include=(1, 2, 3, 4), exclude=(9,), repeat=((2, 4), (4, 2)))
    w = ul.without(s, (2, 3))
    assert w.include == (1, 4) and w.exclude == (2, 3, 9) and w.repeat == ((4, 2),)
    assert sorted(w.apply(torch.arange(12)).tolist()) == [1, 4, 4]


def test_config_scales_and_bad_values(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    assert ul.UnlearningConfig.from_params("laptop").budgets == (5, 10, 20, 40, 80, 160)
    with pytest.raises(ConfigError, match="retrain_seeds"):
        ul.UnlearningConfig.from_params("smoke", retrain_seeds=[0, 1])
    with pytest.raises(ConfigError, match="rep_repeats"):
        ul.UnlearningConfig.from_params("smoke", rep_repeats=[16])  # smoke canaries are seen 0, 1 or 4 times
    with pytest.raises(ConfigError, match="methods"):
        ul.UnlearningConfig.from_params("smoke", methods=["magic"])
    with pytest.raises(ConfigError, match="budgets"):
        ul.UnlearningConfig.from_params("smoke", budgets=[16, 4])


# --- the methods as engine runs, on a small digits classifier ----------------------------------------
DATA = Images(dataset="digits")
MODEL = MLPConfig(in_shape=(1, 8, 8), n_classes=10, width=64, depth=1)
TRAIN = TrainConfig(lr=1e-2, batch_size=2000, stop="steps", max_steps=300, eval_every=300, warmup=10, decay_frac=0.25)


@pytest.fixture(scope="module")
def setting():
    cfg = ul.UnlearningConfig.from_params("smoke", lr=1e-3)
    pos = DATA.indices().numpy()
    forget = tuple(sorted(int(i) for i in np.random.default_rng(0).choice(pos, 150, replace=False)))
    original = Run(model=MODEL, data=DATA, train=TRAIN, seed=0)  # full batch: overfits its training set
    return cfg, pos, forget, original


def _forget_nats(runs, pos, forget):
    cols = np.flatnonzero(np.isin(pos, forget))
    return evaluate(runs, DATA, device="cpu", outputs=("nats",))["nats"][:, cols]


def test_gradient_ascent_raises_the_forget_loss_and_fine_tuning_keeps_it_low(setting):
    cfg, pos, forget, original = setting
    runs = [cfg.unlearn(original, m, forget, 20) for m in ("ascent", "finetune")]
    assert runs[0].init.run == original and runs[0].forget == Subset(include=forget) and runs[0].subset == Subset(exclude=forget)
    assert runs[1].forget is None and runs[1].objective is None  # fine-tuning: nll on the retain set
    sweep([original] + runs, accuracy_monitor, device="cpu", progress=False)
    before, ascent, finetune = _forget_nats([original] + runs, pos, forget).mean(1)
    assert ascent > before + 0.5  # 20 steps of ascent at lr 1e-3 push the forget set's loss up by half a nat or more
    assert finetune < ascent


def test_retraining_without_the_forget_set_gives_a_forget_mia_auc_near_one_half(setting):
    cfg = setting[0]
    data = Images(dataset="digits", n_train=400)  # a small training set: the original overfits it visibly
    pos = data.indices().numpy()
    forget = tuple(sorted(int(i) for i in np.random.default_rng(1).choice(pos, 150, replace=False)))
    original = Run(model=MODEL, data=data, train=TRAIN, seed=0)
    retrained = [cfg.retrain(original, forget, s) for s in (0, 1, 2)]
    assert all(r.subset == Subset(exclude=forget) and r.train == original.train for r in retrained)
    sweep([original] + retrained, accuracy_monitor, device="cpu", progress=False)
    cols = np.flatnonzero(np.isin(pos, forget))
    tr = evaluate([original] + retrained, data, device="cpu", outputs=("nats",))["nats"][:, cols]
    te = evaluate([original] + retrained, data.test_split(), device="cpu", outputs=("nats",))["nats"]
    auc = [ul.mia_auc(f, t) for f, t in zip(tr, te)]
    assert all(abs(a - 0.5) < 0.1 for a in auc[1:]), auc  # 150 random forget examples vs 359 test: sd about 0.03
    assert auc[0] > max(auc[1:]), auc  # the original trained on them: its loss gives them away (a little: digits generalize)


def test_forget_sets_are_disjoint_matched_in_size_and_ordered_by_score():
    import pandas as pd
    rng = np.random.default_rng(0)
    t = pd.DataFrame(dict(pos=np.arange(100) * 2, el2n=rng.random(100), grand=rng.random(100), mem=rng.random(100)))
    cfg = ul.UnlearningConfig.from_params("smoke", n_forget=10)
    s = ul.forget_sets(cfg, t)
    assert [len(v) for v in s.values()] == [10, 10, 10] and len(set().union(*map(set, s.values()))) == 30
    ix = t.set_index("pos")
    assert ix.loc[list(s["atypical"])].mem.min() >= ix.drop(list(s["atypical"])).mem.max()
    assert ix.loc[list(s["typical"])].el2n.max() <= ix.drop(list(s["atypical"] + s["typical"])).el2n.min()


def test_unlearning_smoke_run_writes_metrics(tmp_path):
    from test_notebooks import figure, smoke
    m = smoke("07_unlearning", tmp_path)
    assert m["scale"] == "smoke" and m["dataset"] == "digits" and m["n_forget"] == 20
    rows = m["results"]
    keys = {"method", "forget_kind", "seed", "forget_acc", "retain_acc", "test_acc", "forget_mia_auc", "distance_to_retrained"}
    assert all(set(r) >= keys for r in rows)
    assert {r["method"] for r in rows} == {"original", "retrain", "ascent", "graddiff", "npo", "finetune"}
    assert {r["forget_kind"] for r in rows} == {"atypical", "typical", "random"}
    assert len([r for r in rows if r["method"] == "retrain"]) == 3 * 3
    assert all(0 <= r[k] <= 1 for r in rows for k in ("forget_acc", "retain_acc", "test_acc", "forget_mia_auc"))
    assert all(r["distance_to_retrained"] >= 0 for r in rows)
    assert [r["r"] for r in m["repetition"]] == [1, 4] and all({"before", "after"} <= set(r) for r in m["repetition"])
    for s in ("el2n", "grand", "mem"):
        assert -1 <= m["difficulty"][s]["rho"] <= 1 and 50 <= m["difficulty"][s]["n"] <= 3 * 20  # scores may be NaN
    o = m["onion"]
    assert {"before", "after"} <= set(o["removal"]) and {"before", "after", "control"} <= set(o["unlearning"])
    assert {"before", "after"} <= set(o["canaries"]) and m["training"]["wall_s"] > 0
    for name in ("budget", "kinds", "difficulty", "repetition", "onion"):
        assert figure(f"07_unlearning_{name}") > 10_000

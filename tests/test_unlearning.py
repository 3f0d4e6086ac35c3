"""Notebook 07 (unlearning): the objectives by hand, the methods as engine runs, the measures, the smoke run (golden
values: the pre-refactor smoke run). The distance to retrained and the membership AUCs: tests/test_attacks.py."""
import math

import numpy as np
import pytest
import torch

from memlib import attacks
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
    auc = [attacks.loss_auc(f, t) for f, t in zip(tr, te)]
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


def test_upstream_configs_are_built_once():
    cfg = ul.UnlearningConfig.from_params("smoke")
    assert cfg.diet() is cfg.diet() and cfg.extraction() is cfg.extraction()
    assert ul.UnlearningConfig.from_params("smoke").diet() is cfg.diet()  # equal configs share them


# The pre-refactor code's smoke run (/work/smoke-base): (forget kind, method) at its best budget -> distance to
# retrained, forget-set membership AUC, test accuracy
GOLDEN_BEST = {("atypical", "npo"): (1.76387, 0.110724, 0.905292), ("atypical", "original"): (1.78878, 0.118175, 0.908078),
               ("atypical", "retrain"): (2.10008, 0.11156, 0.898793), ("random", "finetune"): (0.868009, 0.501532, 0.906685),
               ("random", "retrain"): (1.31831, 0.488347, 0.903435), ("typical", "graddiff"): (0.0366005, 0.951323, 0.906685)}


def test_unlearning_smoke_run_writes_metrics(tmp_path):
    from test_notebooks import figure, smoke
    m = smoke("07_unlearning", tmp_path)
    assert m["scale"] == "smoke" and m["dataset"] == "digits" and m["n_forget"] == 20
    rows = m["results"]
    assert {r["method"] for r in rows} == {"original", "retrain", "ascent", "graddiff", "npo", "finetune"}
    assert {r["forget_kind"] for r in rows} == {"atypical", "typical", "random"}
    assert len(rows) == 3 * (2 * (1 + 4 * 2) + 3)  # per kind: 2 originals x (itself + 4 methods x 2 budgets), 3 retrained
    best = {(r["forget_kind"], r["method"]): r for r in m["best_budget"]}
    for key, v in GOLDEN_BEST.items():
        got = best[key]
        assert (got["distance_to_retrained"], got["forget_mia_auc"], got["test_acc"]) == pytest.approx(v, rel=1e-5), key
    d = m["difficulty"]
    assert (d["el2n"]["rho"], d["el2n"]["ci_low"], d["el2n"]["ci_high"]) == pytest.approx((0.404813, 0.135724, 0.596994), rel=1e-5)
    assert d["el2n"]["n"] == 60 and d["mem"]["rho"] == pytest.approx(0.156752, rel=1e-5)
    assert [r["r"] for r in m["repetition"]] == [1, 4]
    assert [v for r in m["repetition"] for v in (r["before"], r["after"])] == pytest.approx(
        [3.25318, 3.07921, 5.35137, 5.35137], rel=1e-5)
    o = m["onion"]
    assert (o["removal"]["before"], o["removal"]["after"]) == pytest.approx((0.549716, 0.542593), rel=1e-5)
    assert (o["removal"]["ci_low"], o["removal"]["ci_high"]) == pytest.approx((-0.106132, 0.0852978), rel=1e-5)
    assert (o["unlearning"]["before"], o["unlearning"]["after"], o["unlearning"]["control"]) == pytest.approx(
        (0.225627, 0.232103, 0.229979), rel=1e-5)
    assert (o["canaries"]["forgotten_r"], o["canaries"]["measured_r"]) == (4, 1)
    assert o["canaries"]["after"] == pytest.approx(3.19041, rel=1e-5) and m["training"]["wall_s"] > 0
    for name in ("budget", "kinds", "difficulty", "repetition", "onion"):
        assert figure(f"07_unlearning_{name}") > 10_000

"""Membership inference (notebook 05): the attacks (memlib.attacks) separate what a model memorized and nothing else,
the law fit recovers known constants, the smoke run writes its metrics (golden values: the pre-refactor smoke run)."""
import numpy as np
import pytest
import torch
from test_notebooks import figure, smoke

from memlib import attacks, corpus, mia
from memlib.config import ConfigError
from memlib.data import lm_pair
from memlib.engine import Run, Subset, TrainConfig, evaluate, sweep
from memlib.store import RunStore
from memlib.text import TextConfig, TextMonitor

ATTACKS = ("loss", "reference", "zlib_ratio", "min_k", "lira", "lira_fixed_variance")


@pytest.fixture(scope="module")
def memorizer(tmp_path_factory):
    """A 1x16 GPT trained 400 steps on 16 smoke-corpus sequences (it memorizes them), a reference and four LiRA
    references of its shape trained on 64 other sequences each; scores of members, unseen sequences, and a
    second set of unseen sequences."""
    t = TextConfig.from_params("smoke")
    c = corpus.load(t.corpus())  # built by conftest
    assert len(c.train) >= 700
    data = corpus.TextSequences(corpus=t.corpus(), digest=c.digest, n_seqs=700)
    tc = TrainConfig(lr=5e-3, batch_size=16, stop="steps", max_steps=400, eval_every=100, warmup=20)
    model = t.model(1, 16)
    target = Run(model=model, data=data, train=tc, seed=0, subset=Subset(include=tuple(range(16))))
    pop = lambda j: tuple(sorted(np.random.default_rng(j).choice(np.arange(300, 700), 64, replace=False).tolist()))
    refs = [Run(model=model, data=data, train=tc, seed=j + 1, subset=Subset(include=pop(j))) for j in range(5)]
    st = RunStore(tmp_path_factory.mktemp("runs"))
    sweep([target, *refs], TextMonitor(c.heldout, t.vocab_size, 16), st, device="cpu", progress=False)
    rows = np.concatenate([c.train[:16], c.train[100:164], c.train[200:264]])  # members, unseen, unseen
    res = evaluate([target, *refs], lm_pair(torch.from_numpy(rows), bos=t.vocab_size), st, device="cpu",
                   outputs=("nats", "logprobs"))
    return {"nats": res["nats"], "logprobs": res["logprobs"], "zlib": mia.zlib_bits(c, rows)}


def _scores(s, sel):
    nats, lp, z = s["nats"][:, sel], s["logprobs"][:, sel], s["zlib"][sel]
    return {"loss": attacks.loss_score(nats[0]), "reference": attacks.reference_score(nats[0], nats[1]),
            "zlib_ratio": attacks.zlib_ratio_score(nats[0], z), "min_k": attacks.min_k_score(lp[0], 0.2),
            "lira": attacks.lira_offline_score(nats[0], nats[2:]),
            "lira_fixed_variance": attacks.lira_offline_score(nats[0], nats[2:], fixed_variance=True),
            "blind_zlib": attacks.blind_zlib_score(z)}


def test_every_attack_finds_what_a_model_memorized(memorizer):
    members, unseen = np.arange(16), np.arange(16, 80)
    sc = _scores(memorizer, np.r_[members, unseen])
    for a in ATTACKS:
        m = attacks.attack_metrics(sc[a][:16], sc[a][16:])
        assert m["auc"] > 0.95, (a, m["auc"])
    blind = attacks.attack_metrics(sc["blind_zlib"][:16], sc["blind_zlib"][16:])["auc"]
    assert abs(blind - 0.5) < 0.25  # the blind baseline finds nothing: members are random pool sequences


def test_every_attack_is_at_chance_on_identical_distributions(memorizer):
    a_set, b_set = np.arange(16, 80), np.arange(80, 144)  # both never seen by the target: labels are arbitrary
    sc = _scores(memorizer, np.r_[a_set, b_set])
    for a in (*ATTACKS, "blind_zlib"):
        auc = attacks.attack_metrics(sc[a][:64], sc[a][64:])["auc"]
        assert abs(auc - 0.5) < 0.15, (a, auc)  # 64 vs 64: sd of the AUC under no signal ≈ 0.05


@pytest.mark.parametrize("form,true", [("linear", (1.0, 0.02, -100.0)), ("log10", (0.95, 4.0, -1.8))])
def test_law_fit_recovers_known_constants(form, true):
    g = np.random.default_rng(1)
    ratio = np.geomspace(1, 3000, 48)
    x = mia.FORMS[form][1](ratio)
    y = mia.law(x, *true) + g.normal(0, 0.005, len(x))
    f = mia.fit_law(x, y)
    assert np.allclose([f["c1"], f["c2"], f["c3"]], true, rtol=0.1), f
    assert f["r2"] > 0.99
    b = mia.bootstrap_law(x, y, f, 100, x)
    for k, v in zip(("c1", "c2", "c3"), true):
        assert abs(f[k] - v) < 4 * b["se"][k] + 1e-9, (k, f[k], v, b["se"][k])


def test_the_printed_constants_read_literally_give_the_documented_inconsistency():
    # REFERENCE.md §5: with capacity = 3.6 params, the printed constants give 0.84 / 0.64 / 0.50 on the 1.5B rows
    got = [float(mia.law(mia.PAPER_ALPHA * p / d, **mia.PAPER_CONSTANTS)) for p, d, _, _ in mia.PAPER_TABLE2[:3]]
    assert np.allclose(got, [0.84, 0.64, 0.50], atol=0.01), got


def test_extrapolation_inverts_the_law():
    c = (1.0, 0.02, -100.0)
    x = mia._x_at(0.55, *c)
    assert abs(mia.law(x, *c) - 0.55) < 1e-9
    assert np.isnan(mia._x_at(0.55, 0.05, 0.02, -100.0))  # a curve that never falls to 0.55 gives no answer


def test_bad_mia_parameters_fail_naming_the_field(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    with pytest.raises(ConfigError, match="lira_size"):
        mia.MiaConfig.from_params("laptop", lira_size=(1, 64))
    with pytest.raises(ConfigError, match="n_trains"):
        mia.MiaConfig.from_params("laptop", n_trains=(64,))
    with pytest.raises(ConfigError, match="min_k"):
        mia.MiaConfig.from_params("laptop", min_k=0)
    with pytest.raises(ConfigError, match="unknown parameter"):
        mia.MiaConfig.from_params("laptop", n_ref=3)
    cfg = mia.MiaConfig.from_params("smoke", lira_population=10**7)
    c = corpus.load(cfg.text().corpus())
    with pytest.raises(ConfigError, match="lira_population"):
        cfg.bounds(c)


# The smoke run's values: AUC and F1 do not depend on notebook 01's α, so they hold whether or not 01's smoke run
# wrote its metrics first, nor on how the runs were stacked (LiRA's references used to: 0.857747 vs 0.857096).
GOLDEN_MEAN_AUC = {"loss": 0.989909, "reference": 0.99528, "zlib_ratio": 0.963216, "min_k": 0.984375,
                   "blind_zlib": 0.465983, "blind_reference": 0.48291, "lira_fixed_variance": 0.984701}
GOLDEN_LIRA_AUC = 0.860677
GOLDEN_LOSS = {(1520, 64): (0.944336, 0.8), (3424, 64): (0.995117, 0.9375)}  # (n_params, n): AUC, F1 of the loss attack


def test_mia_smoke_run_writes_metrics(tmp_path):
    m = smoke("05_mia_scaling_law", tmp_path)
    assert m["scale"] == "smoke" and m["seq_len"] == 16
    cfg = mia.MiaConfig.from_params("smoke")
    by_attack = {a: [r for r in m["grid"] if r["attack"] == a] for a in {r["attack"] for r in m["grid"]}}
    assert set(by_attack) == set(mia.TARGET_ATTACKS) | set(mia.BLIND_ATTACKS)
    assert len(by_attack["loss"]) == len(cfg.sizes) * len(cfg.n_trains) * len(cfg.seeds)
    assert len(by_attack["lira"]) == len(cfg.n_trains) * len(cfg.seeds)
    auc = {a["attack"]: a["mean_auc"] for a in m["attacks"]}
    assert {a: auc[a] for a in GOLDEN_MEAN_AUC} == pytest.approx(GOLDEN_MEAN_AUC, rel=1e-5)
    assert auc["lira"] == pytest.approx(GOLDEN_LIRA_AUC, rel=1e-5)
    loss = {(r["n_params"], r["n_train"]): (r["auc"], r["f1"]) for r in by_attack["loss"]}
    for cell, (auc, f1) in GOLDEN_LOSS.items():
        assert loss[cell] == pytest.approx((auc, f1), rel=1e-5), cell
    assert all(loss[(p, n)] == (1.0, 1.0) for p in (1520, 3424) for n in (4, 16))  # 4 or 16 sequences: memorized
    for r in m["grid"]:
        assert r["n_members"] == r["n_nonmembers"] == min(r["n_train"], cfg.n_eval)
        assert r["x"] == pytest.approx(m["alpha_bits_per_param"] * r["n_params"] / r["n_train"], rel=1e-5)
        assert r["fpr_reached_1pct"] <= 0.01 and r["tpr_1pct_ci_low"] <= r["tpr_at_1pct_fpr"] <= r["tpr_1pct_ci_high"]
    for form in ("linear", "log10"):
        assert m["law_fit"][form]["r2"] > 0.98  # F1 = 1 at n <= 16, below at n = 64: the sigmoid fits
    p = m["paper_constants_check"]
    assert p["printed_constants_rmse_on_paper_table2"] == pytest.approx(0.322296, rel=1e-5)  # the paper's numbers only
    assert p["law_refit_to_paper_table2"]["rmse"] == pytest.approx(0.0171667, rel=1e-4)
    assert len(p["paper_table2"]) == 6 and len(p["ours"]) == len(cfg.sizes) * len(cfg.n_trains)
    assert {(r["form"], r["n_params"]) for r in m["extrapolation"]} == {(f, n) for f in ("linear", "log10")
                                                                          for n in (123.7e6, 1.556e9)}
    assert m["training"]["n_runs_trained_here"] == 2 and m["training"]["n_runs_shared_with_03"] == 8
    for name in ("law", "attacks", "roc", "predicted"):
        assert figure(f"05_mia_{name}") > 10_000

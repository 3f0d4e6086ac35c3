"""The capacity experiment's stopping rule and paper point bookkeeping."""
import math
import random

import pytest

from memlib import capacity as cap
from memlib.capacity import CapacityConfig
from memlib.config import ConfigError
from memlib.engine import TrainConfig
from memlib.engine.stopping import plateaued as _plateaued


def history(fn, steps, every=100):
    return [{"step": t, "score": fn(t)} for t in range(every, steps + 1, every)]


# The ablation's base at smoke is notebook 01's check_runs: its capacity is the smoke baseline's
# check_longer.capacity_bits (metrics/01_capacity.json at smoke).
BASE_SMOKE_BITS = 218.868

LOG = lambda t: 1000 * math.log(t)  # memorized bits that keep rising ~log(steps): never a true plateau
FLAT = lambda t: 5000 * (1 - math.exp(-t / 500))  # saturates: gains vanish after ~3000 steps


def test_default_rule_is_unchanged():
    """window_frac=0 is today's rule: the gain over the last `patience` evaluations."""
    tc = TrainConfig(eval_every=100, patience=6, tol=0.005)
    h = history(LOG, 20000)
    assert _plateaued(h, tc)  # at t=20000 the last 6 evaluations of log growth gain 0.3% (< 0.5%)
    scores = [x["score"] for x in h]
    assert (scores[-1] - scores[-7]) <= 0.005 * scores[-1]
    assert not _plateaued(h[:6], tc)  # too few evaluations to judge
    old = lambda h, tc: (len(h) > tc.patience and h[-1]["score"] > 0
                         and h[-1]["score"] - h[-1 - tc.patience]["score"] <= tc.tol * abs(h[-1]["score"]))
    rng = random.Random(0)
    for _ in range(300):  # random histories, with off-grid evaluation steps: the same decision as the old rule
        steps = sorted(rng.sample(range(1, 5000), rng.randint(1, 30)))
        score = 0.0
        h = [{"step": t, "score": (score := score + rng.uniform(-5, 20))} for t in steps]
        tc = TrainConfig(patience=rng.randint(1, 8), tol=rng.choice([0.0, 0.005, 0.05, 0.2]))
        assert _plateaued(h, tc) == old(h, tc)


def test_relative_window_does_not_stop_on_log_growth():
    """With window_frac the gain is measured over a share of all steps so far, so slow steady
    growth (here +6 to +9% per doubling of steps) is not mistaken for a plateau, where the short
    window stops it."""
    tc = TrainConfig(eval_every=100, patience=6, tol=0.005, window_frac=0.5)
    for steps in (2000, 20000, 200000):
        assert not _plateaued(history(LOG, steps), tc), steps
    assert _plateaued(history(LOG, 20000), tc.replace(window_frac=0.0))  # the short window would stop


def test_relative_window_stops_on_a_real_plateau():
    tc = TrainConfig(eval_every=100, patience=6, tol=0.005, window_frac=0.5)
    assert not _plateaued(history(FLAT, 1000), tc)
    assert _plateaued(history(FLAT, 8000), tc)


def test_relative_window_needs_history_that_reaches_back():
    """The reference evaluation must lie at or before (1 - window_frac) * steps; otherwise no decision."""
    tc = TrainConfig(eval_every=100, patience=2, tol=0.5, window_frac=0.9)
    h = [{"step": t, "score": 1000.0} for t in (500, 600, 700)]  # evaluations began late (e.g. resumed)
    assert not _plateaued(h, tc)
    assert _plateaued([{"step": 50, "score": 1000.0}] + h, tc)


def test_window_frac_is_validated_and_reaches_the_train_config(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    with pytest.raises(ConfigError, match="window_frac"):
        TrainConfig(window_frac=1.0)
    with pytest.raises(ConfigError, match="window_frac"):
        CapacityConfig.from_params("laptop", window_frac=-0.1)
    cfg = CapacityConfig.from_params("laptop")
    assert cfg.train_config("fp32").window_frac == cfg.window_frac
    assert all(r.train.window_frac == cfg.window_frac for r in cfg.paper_point_runs())
    with pytest.raises(ConfigError, match="paper_point_checkpoint_every"):
        CapacityConfig.from_params("laptop", paper_point_checkpoint_every=-1)


def test_sweeps_follow_their_scale_switches_and_caps(monkeypatch):
    """The vocabulary sweep trains under its own tol and cap; the tied/untied sweep runs only where tied_sweep is on
    (None, not an empty table, where the scale leaves it out); a bad cap is named."""
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    cfg = CapacityConfig.from_params("laptop", sweep_max_steps=1234)
    assert {(r.train.tol, r.train.max_steps) for r in cfg.vocab_runs()} == {(cfg.sweep_tol, 1234)}
    assert {r.data.vocab_size for r in cfg.vocab_runs()} == set(cfg.vocab_sweep) | {cfg.vocab_size}
    assert not cfg.tied_sweep and cfg.tied_runs() == [] and cap.tied_comparison(cfg) is None
    on = cfg.replace(tied_sweep=True).tied_runs()
    assert sorted({r.model.tied for r in on}) == [False, True] and len(on) == 2 * len(cfg.sweep_fracs) * len(cfg.seeds)
    with pytest.raises(ConfigError, match="sweep_max_steps"):
        CapacityConfig.from_params("laptop", sweep_max_steps=0)


def test_default_train_config_hash_is_unchanged():
    """Adding window_frac (default 0) must not rename any stored run."""
    assert "window_frac" not in TrainConfig().non_default()
    assert TrainConfig(window_frac=0.0).run_id() == TrainConfig().run_id()


def test_longer_check_trains_the_same_runs_longer_on_a_fixed_schedule(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    cfg = CapacityConfig.from_params("laptop")
    base = cfg.check_runs()
    assert len(cfg.longer_runs(5000)) == len(base) * len(cfg.longer_factors) and len(cfg.longer_factors) >= 2  # a ladder
    for f in cfg.longer_factors:
        longer = cfg.longer_runs(5000, f)
        assert [(r.model, r.data, r.seed) for r in base] == [(r.model, r.data, r.seed) for r in longer]
        assert all(r.train.stop == "steps" and r.train.max_steps == math.ceil(f * 5000) for r in longer)
        assert all(r.train.replace(stop="plateau", max_steps=cfg.max_steps) == b.train for r, b in zip(longer, base))
    pp = cfg.paper_point_longer_runs(15250)
    assert [r.data for r in pp] == [r.data for r in cfg.paper_point_runs()]
    assert all(r.train.stop == "steps" and r.train.max_steps == 30500 for r in pp)


def test_longer_gain_compares_capacity_per_seed():
    import pandas as pd

    from memlib.capacity import longer_gain
    base = pd.DataFrame(dict(seed=[0, 0, 1, 1], memorized_bits=[90.0, 100, 80, 100], steps=[10, 20, 10, 30],
                             saturated=[False, True, False, True], gain_last_doubling=[0.2, 0.005, 0.3, 0.004]))
    longer = base.assign(memorized_bits=[95.0, 103, 80, 105], steps=[60] * 4)
    g = longer_gain(base, longer)
    assert g["capacity_bits"] == 100 and g["capacity_bits_longer"] == 104
    assert math.isclose(g["relative_gain"], 0.04) and g["steps"] == 30 and g["steps_longer"] == 60
    assert g["base_saturated"] is False and g["base_max_gain_last_doubling"] == 0.3


def test_cosine_schedule_warms_up_then_falls_to_zero_and_needs_a_fixed_budget():
    from memlib.engine.stopping import lr_factor
    tc = TrainConfig(schedule="cosine", stop="steps", warmup=100, max_steps=1100)
    state = {"decay_start": None, "decay_len": None}
    assert lr_factor(50, state, tc) == pytest.approx(0.5)  # warmup
    assert lr_factor(100, state, tc) == pytest.approx(1.0)
    assert lr_factor(600, state, tc) == pytest.approx(0.5)  # half-way through the cosine
    assert lr_factor(1100, state, tc) == pytest.approx(0.0, abs=1e-12)
    assert "schedule" not in TrainConfig().non_default()  # the default adds nothing to stored runs' hashes
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(schedule="cosine")  # stop="plateau" has no end for the cosine to reach
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(schedule="linear", stop="steps")


def test_ablation_changes_one_training_choice_at_a_time(monkeypatch):
    from memlib.ablation import FULL_BATCH, AblationConfig
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    ab = AblationConfig.from_params("laptop")
    cfg = ab.capacity()
    assert cfg == CapacityConfig.from_params("laptop") and ab.capacity() is cfg  # the grid's, built once
    plan = ab.plan(base_steps=7000)
    (name, _, base), rest = plan[0], plan[1:]
    assert name == "base" and base == cfg.runs(*ab.size, fracs=cfg.sweep_fracs)
    in_grid = set(cfg.sweep_fracs) & set(cfg.fracs)  # the base's sizes that the grid trains too: its own stored runs
    assert in_grid and sum(r in cfg.grid() for r in base) == len(base) * len(in_grid) // len(cfg.sweep_fracs)
    settings = {s for s, _, _ in rest}
    assert settings == {"lr", "batch_size", "tol", "weight_decay", "dataset_sizes", "schedule"} | (
        {"length"} if ab.lengths else set())  # at laptop, length is notebook 01's ladder
    b = base[0].train
    for setting, value, runs in rest:
        if setting == "dataset_sizes":
            assert {r.data.n_seqs for r in runs} > {r.data.n_seqs for r in base}
            assert all(r.train == b for r in runs)
            continue
        assert [(r.model, r.data, r.seed) for r in runs] == [(r.model, r.data, r.seed) for r in base]
        t = runs[0].train
        changed = {k for k, v in t.non_default().items() if b.non_default().get(k) != v} | \
                  {k for k in b.non_default() if k not in t.non_default()}
        expect = {"lr": {"lr", "max_steps"}, "batch_size": {"batch_size", "max_steps"}, "tol": {"tol", "max_steps"},
                  "weight_decay": {"weight_decay", "max_steps"}, "length": {"stop", "max_steps"},
                  "schedule": {"stop", "max_steps", "schedule", "decay_frac"}}[setting]
        assert changed == expect, (setting, changed)
        if setting == "batch_size" and value == "full":
            assert t.batch_size == FULL_BATCH > max(r.data.n_seqs for r in runs)
        if setting in ("length", "schedule"):
            assert t.max_steps == math.ceil(float(str(value).rstrip("x")) * 7000 if setting == "length" else 7000)
    assert [s for s, _, _ in ab.plan()] == ["base", "lr", "batch_size", "batch_size", "tol",
                                            "weight_decay", "dataset_sizes"]  # no fixed lengths without steps


def test_ablation_plan_keeps_its_run_ids(monkeypatch):
    """The stage's runs (moved from memlib.capacity to memlib.ablation) keep their names in the run store."""
    import hashlib
    import json

    from memlib.ablation import AblationConfig
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    ids = lambda scale, steps, **kw: hashlib.sha256(json.dumps([[s, str(v), [r.run_id() for r in runs]] for s, v, runs in
                                                                AblationConfig.from_params(scale, **kw).plan(steps)]).encode()).hexdigest()
    old = dict(lrs=(1e-3, 3e-3), lengths=(4.0,))  # the laptop plan before lr 1e-3 and the 4x length left it
    assert ids("laptop", None, **old) == "de0be90d3453e332783cf97ccd3db7df04b69fe82361d02492ea80185d85af20"
    assert ids("laptop", 7250, **old) == "44b7a9e7fc59418cbb1b764ee7a2c3255ceac2e41a72afe4f03466c238923c4e"
    assert ids("smoke", None) == "230f0173d3be329cab2c0ce3c75e550708cd730d5dbdfb118fe4094f24f63a26"
    assert ids("smoke", 300) == "a2f9273915c9e8237650a2de01cc7eabd6cfb703a22ef05e87bc8396b42ada0b"


@pytest.mark.parametrize("kw, field", [({"size": (1,)}, "size"), ({"lrs": (0.0,)}, "lrs"),
                                        ({"batch_sizes": (-1,)}, "batch_sizes"), ({"schedules": ("linear",)}, "schedules"),
                                        ({"max_steps": 0}, "max_steps"), ({"weight_decays": (-0.1,)}, "weight_decays")])
def test_bad_ablation_params(kw, field, monkeypatch):
    from memlib.ablation import AblationConfig
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    with pytest.raises(ConfigError, match=rf"invalid {field}="):
        AblationConfig.from_params("laptop", **kw)


def test_ablation_smoke_run_reports_every_setting(monkeypatch):
    from memlib import ablation
    from memlib.report.capacity import describe_ablation
    cfg = ablation.AblationConfig.from_params("smoke", device="cpu")
    ab = ablation.measure(cfg)
    assert ab["scale"] == "smoke" and ab["training"]["wall_s"] > 0
    assert ab["base_steps"] == 300 and (ab["n_layer"], ab["d_model"], ab["vocab_size"], ab["seq_len"]) == (1, 4, 16, 8)
    assert [(r["setting"], r["value"]) for r in ab["ablation"]] == [(s, v) for s, v, _ in cfg.plan(ab["base_steps"])]
    for r in ab["ablation"]:
        assert set(r) >= {"setting", "value", "n_params", "capacity_bits", "bits_per_param", "seeds"}
        assert len(r["seeds"]) == len(cfg.capacity().seeds) and r["n_params"] == 352
        assert r["bits_per_param"] == pytest.approx(r["capacity_bits"] / r["n_params"])
    base = ab["ablation"][0]
    assert base["setting"] == "base" and base["capacity_bits"] == pytest.approx(BASE_SMOKE_BITS, rel=1e-4)
    t = ablation.table(ab)
    assert t.loc[t.setting == "base", "change_pct"].item() == 0
    text = describe_ablation(ab)
    assert all(s in text for s in ("lr", "batch_size", "schedule", "dataset_sizes"))
    assert "No ablation" in describe_ablation(None)

"""A run's result depends on its config alone: for every monitor in the package, a run trained alone and the same
run trained in a stack beside a very small-n and a large-n run stop at the same step with bit-identical metrics,
history and weights (on CPU). Each stack here holds models whose monitored subsets differ in size (the small
model has fewer examples than the monitor reads), the case that used to leak one model's count into another's
score. The partners share the target's batch rows (`Run.batch_rows`), so they do share its stack."""
import pytest
import torch

from memlib import corpus, grokking
from memlib.bits import capacity_monitor
from memlib.data import RandomTokens
from memlib.engine import Objective, Run, Subset, TrainConfig, load_weights, sweep
from memlib.engine.runs import Init, batch_rows
from memlib.engine.stopping import SATURATION_GAIN, gain_last_doubling, stop_info
from memlib.images import Images, accuracy_monitor
from memlib.models import CNNConfig, GPTConfig, MLPConfig
from memlib.store import RunStore
from memlib.tasks import FactsAndICL, answer_monitor
from memlib.text import TextConfig, TextMonitor

PLATEAU = TrainConfig(lr=3e-3, batch_size=16, warmup=5, stop="plateau", max_steps=240, eval_every=10, patience=2,
                      tol=0.02)
SIZES = (9, 12, 300)  # small (fewer than the monitors read), the target, large: all batch rows 16


def _capacity(d_model=8):
    m = GPTConfig(vocab_size=16, seq_len=8, d_model=d_model)
    return (lambda n, s: Run(model=m, data=RandomTokens(16, 8, n, s), train=PLATEAU, seed=s)), capacity_monitor


def _text():
    t = TextConfig.from_params("smoke")
    c = corpus.load(t.corpus())  # built by conftest
    m = t.model(1, 8)
    mk = lambda n, s: Run(model=m, data=corpus.TextSequences(corpus=t.corpus(), digest=c.digest, n_seqs=n),
                          train=PLATEAU.replace(max_steps=120), seed=s)
    return mk, TextMonitor(c.heldout, t.vocab_size, 64)


def _images(model):
    data = Images(dataset="digits")
    idx = data.indices().tolist()
    mk = lambda n, s: Run(model=model, data=data, train=PLATEAU.replace(max_steps=120), seed=s,
                          subset=Subset(include=tuple(idx[s * 7:s * 7 + n])))
    return mk, lambda stack: accuracy_monitor(stack, n=64)


def _grokking():
    m = grokking.GrokGPTConfig(vocab_size=13, seq_len=3, n_layer=1, d_model=16)
    tc = TrainConfig(lr=3e-3, batch_size=16, warmup=5, stop="steps", max_steps=60, eval_every=20, weight_decay=1.0)
    return (lambda n, s: Run(model=m, data=grokking.ModularAddition(13, min(n, 150), s), train=tc, seed=s)), \
        grokking.monitor


def _facts():
    task = FactsAndICL(n_values=8, n_keys=8, n_names=10, n_facts=48, n_pairs=2, fact_copies=4, n_icl=300, n_test=32)
    m = GPTConfig(vocab_size=task.vocab_size, seq_len=task.seq_len, n_layer=1, d_model=16)
    idx = task.indices().tolist()
    mk = lambda n, s: Run(model=m, data=task, train=PLATEAU.replace(max_steps=120), seed=s,
                          subset=Subset(include=tuple(idx[:n])))
    return mk, lambda stack: answer_monitor(stack, n=64)


MONITORS = {"capacity": _capacity, "capacity-d6": lambda: _capacity(6),  # d = 6: bmm rounds K = 1 apart from K >= 2
            "text": _text, "images-mlp": lambda: _images(MLPConfig((1, 8, 8), 10, 16)),
            "images-cnn": lambda: _images(CNNConfig((1, 8, 8), 10, 4)), "grokking": _grokking, "facts": _facts}


def _same(run, a: RunStore, b: RunStore, ma: dict, mb: dict):
    assert (ma["steps"], ma["plateau_step"], ma["stop_reason"]) == (mb["steps"], mb["plateau_step"], mb["stop_reason"])
    assert ma["history"] == mb["history"]  # every evaluation, bit for bit
    assert ma["gain_last_doubling"] == mb["gain_last_doubling"]
    wa, wb = load_weights(run, a), load_weights(run, b)
    assert all(torch.equal(wa[n], wb[n]) for n in wa)


@pytest.mark.parametrize("name", sorted(MONITORS))
def test_a_run_trained_alone_equals_it_trained_beside_small_and_large_runs(name, tmp_path):
    mk, monitor = MONITORS[name]()
    small, target, large = (mk(n, s) for s, n in enumerate(SIZES))
    assert len({r.stack_key("cpu") for r in (small, target, large)}) == 1  # they can share a stack...
    alone, together = RunStore(tmp_path / "alone"), RunStore(tmp_path / "together")
    (ma,) = sweep([target], monitor, alone, device="cpu", progress=False, stacking="never")
    mb = sweep([small, target, large], monitor, together, device="cpu", progress=False, stacking="always")
    assert [m["stack_size"] for m in mb] == [3, 3, 3]  # ...and did
    assert ma["stack_size"] == 1
    _same(target, alone, together, ma, mb[1])


def test_different_objectives_in_one_stack_equal_their_results_alone(tmp_path):
    """Unlearning methods from one stored run (fine-tuning without a forget set among them) train in one stack,
    each bit for bit as alone."""
    m = GPTConfig(vocab_size=16, seq_len=8, d_model=8)
    data = RandomTokens(16, 8, 24, 0)
    st = RunStore(tmp_path / "together")
    base = Run(model=m, data=data, train=PLATEAU.replace(stop="steps", max_steps=60), seed=0)
    forget, retain = Subset(include=(0, 1, 2, 3)), Subset(exclude=(0, 1, 2, 3))
    tc = PLATEAU.replace(stop="steps", max_steps=8)
    methods = [Run(model=m, data=data, train=tc, seed=0, init=Init(base), subset=retain)]
    methods += [Run(model=m, data=data, train=tc, seed=0, init=Init(base), subset=retain, forget=forget,
                    objective=Objective(name=n)) for n in ("ascent", "graddiff", "npo")]
    ms = sweep(methods, capacity_monitor, st, device="cpu", progress=False, stacking="always")
    assert {x["stack_size"] for x in ms} == {4}  # fine-tuning (no forget set) joined the unlearning stack
    alone = RunStore(tmp_path / "alone")
    for r, mb in zip(methods, ms):
        (ma,) = sweep([r], capacity_monitor, alone, device="cpu", progress=False, stacking="never")
        _same(r, alone, st, ma, mb)


def test_automatic_stacking_is_decided_by_the_runs_not_by_a_timing(tmp_path):
    """sweep(stacking="auto") on CPU stacks the laptop shapes and trains the paper's smallest alone, whatever the
    machine's load; the choice leaves each model's result unchanged (the tests above)."""
    from memlib.engine import cpu_stack_size
    small = [Run(model=GPTConfig(vocab_size=64, seq_len=16, d_model=8), data=RandomTokens(64, 16, 256, s),
                 train=TrainConfig(batch_size=64), seed=s) for s in range(5)]
    paper = [Run(model=GPTConfig(vocab_size=2048, seq_len=64, d_model=32), data=RandomTokens(2048, 64, 4096, s),
                 train=TrainConfig(batch_size=2048), seed=s) for s in range(5)]
    assert cpu_stack_size(small, 64) == 5 and cpu_stack_size(small, 3) == 3
    assert cpu_stack_size(paper, 64) == 1


def test_batch_rows_depend_on_the_run_alone():
    assert {batch_rows(n, 64) for n in (1, 2, 3, 9, 42, 64, 65, 10**6)} == {64}  # a shape's runs share a stack
    full = 10**9  # "full batch" (e.g. every pair of a modular-addition table): a power of two at or above n
    assert [batch_rows(n, full) for n in (1, 3, 9, 16, 17, 1000)] == [16, 16, 16, 16, 32, 1024]
    assert batch_rows(3, 8) == 8 and batch_rows(3000, 1024) == 1024  # never more than batch_size


def test_stop_information_says_which_rule_fired_and_whether_the_score_still_rose():
    hist = [{"step": s, "score": v} for s, v in ((100, 50.0), (200, 90.0), (300, 99.0), (400, 99.5))]
    assert gain_last_doubling(hist) == pytest.approx((99.5 - 90.0) / 99.5)  # from the last evaluation at <= step 200
    assert gain_last_doubling(hist, until=320) == pytest.approx((99 - 50) / 99)  # step 300 against step 100
    info = stop_info({"steps": 400, "plateau_step": 320, "decay_start": 320, "history": hist}, "plateau")
    assert info == {"stop_reason": "plateau", "saturated": False,
                    "gain_last_doubling": pytest.approx((99 - 50) / 99, abs=1e-6),  # before the decay at 320
                    "decay_gain": pytest.approx((99.5 - 99) / 99.5, abs=1e-6),
                    "gain_last_doubling_with_decay": pytest.approx(0.095477, abs=1e-6)}
    # a flat stable phase is saturated, however much the final decay then adds
    flat_then_decay = [{"step": s, "score": v} for s, v in ((100, 99.0), (200, 99.2), (300, 99.5), (400, 106.0))]
    info = stop_info({"steps": 400, "plateau_step": 300, "decay_start": 300, "history": flat_then_decay}, "plateau")
    assert info["saturated"] is True and info["decay_gain"] == pytest.approx(6.5 / 106, abs=1e-6)
    flat = hist[:2] + [{"step": 300, "score": 90.5}, {"step": 400, "score": 90.6}]
    assert stop_info({"steps": 400, "plateau_step": None, "history": flat}, "plateau")["stop_reason"] == "max_steps"
    assert stop_info({"steps": 400, "plateau_step": None, "history": flat}, "plateau")["saturated"] is True
    assert (90.6 - 90.0) / 90.6 < SATURATION_GAIN
    assert stop_info({"steps": 400, "history": flat}, "steps")["stop_reason"] == "steps"
    assert stop_info({"steps": 0, "history": hist[:1]}, "steps")["stop_reason"] == "untrained"
    assert gain_last_doubling([{"step": 100, "score": 5.0}]) is None  # no evaluation at half the steps


def test_a_plateau_stop_that_came_while_the_score_still_rose_is_not_called_saturated(tmp_path):
    """The loose rule (patience 2, tol 2%) fires while the bits still rise by ~20% over the last doubling."""
    run = _capacity()[0](8, 0).replace(train=PLATEAU.replace(max_steps=2000))
    (m,) = sweep([run], capacity_monitor, RunStore(tmp_path), device="cpu", progress=False)
    assert m["stop_reason"] == "plateau" and m["steps"] < 2000
    assert m["gain_last_doubling"] > 0.05 and m["saturated"] is False


def test_fine_tuning_keeps_training_after_the_unlearning_runs_of_its_stack_stop(tmp_path):
    """A stack of fine-tuning and ascent runs where ascent stops first: fine-tuning goes on without forget batches,
    bit for bit as alone."""
    m = GPTConfig(vocab_size=16, seq_len=8, d_model=8)
    data = RandomTokens(16, 8, 24, 0)
    st = RunStore(tmp_path / "together")
    base = Run(model=m, data=data, train=PLATEAU.replace(stop="steps", max_steps=40), seed=0)
    forget, retain = Subset(include=(0, 1, 2, 3)), Subset(exclude=(0, 1, 2, 3))
    ft = Run(model=m, data=data, train=PLATEAU.replace(max_steps=60), seed=0, init=Init(base), subset=retain)
    asc = ft.replace(forget=forget, objective=Objective(name="ascent"))  # its falling score plateaus at once
    ms = sweep([ft, asc], capacity_monitor, st, device="cpu", progress=False, stacking="always")
    assert ms[1]["steps"] < ms[0]["steps"] and {x["stack_size"] for x in ms} == {2}  # ascent left first
    (alone,) = sweep([ft], capacity_monitor, RunStore(tmp_path / "alone"), device="cpu", progress=False)
    _same(ft, RunStore(tmp_path / "alone"), st, alone, ms[0])

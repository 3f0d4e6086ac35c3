"""The engine: stacked == one by one, GPT's stacked forward, classifiers, store, faults, resume."""
import json
import math
import warnings

import pytest
import torch

from memlib import models
from memlib.bits import capacity_monitor
from memlib.config import ConfigError
from memlib.data import RandomTokens
from memlib.engine import PRECISIONS, DivergedError, Run, Stack, TrainConfig, load_weights, sweep, train_group
from memlib.models import GPTConfig
from memlib.store import CorruptRunWarning, RunStore

GPT = GPTConfig(vocab_size=16, seq_len=8, d_model=8)
TC = TrainConfig(lr=3e-3, batch_size=16, warmup=5, stop="plateau", max_steps=120, eval_every=10, patience=2, tol=0.02)


def runs(ns=(8, 24, 40), seeds=(0, 1), tc=TC):
    return [Run(model=GPT, data=RandomTokens(16, 8, n, s), train=tc, seed=s) for s in seeds for n in ns]


def test_gpt_stacked_forward_equals_module():
    cfg = GPTConfig(vocab_size=20, seq_len=6, n_layer=2, d_model=16, tied=False)
    ms = [models.build(cfg, s) for s in range(3)]
    s = Stack([Run(model=cfg, data=RandomTokens(20, 6, 4, s), seed=s) for s in range(3)])
    x = torch.randint(21, (3, 5, 6))
    out = s.forward(s.p, x)
    for k, m in enumerate(ms):
        assert torch.allclose(out[k], m(x[k]), atol=1e-5)


def test_stacked_training_equals_one_by_one(tmp_path):
    """Each model's result is independent of its stack: K at once == each alone."""
    rs = runs()
    together, alone = RunStore(tmp_path / "a"), RunStore(tmp_path / "b")
    m_together = sweep(rs, capacity_monitor, together, device="cpu", progress=False, stacking="always")
    m_alone = [sweep([r], capacity_monitor, alone, device="cpu", progress=False)[0] for r in rs]
    for r, a, b in zip(rs, m_together, m_alone):  # bit for bit (every monitor: tests/test_stack_independence.py)
        assert a["steps"] == b["steps"] and a["history"] == b["history"]
        wa, wb = load_weights(r, together), load_weights(r, alone)
        for n in wa:
            assert torch.equal(wa[n], wb[n]), n


def test_training_memorizes_and_stops_on_plateau(tmp_path):
    tc = TC.replace(max_steps=2000)
    (m,) = sweep(runs(ns=(8,), seeds=(0,), tc=tc), capacity_monitor, RunStore(tmp_path), device="cpu", progress=False)
    assert m["stop_reason"] == "plateau" and m["steps"] < 2000
    assert m["final"]["memorized_bits"] > 0.5 * 8 * 8 * 4  # most of 256 bits stored


@pytest.mark.parametrize("cfg, shape", [(models.MLPConfig(in_shape=(1, 6, 6), n_classes=3, width=16), (1, 6, 6)),
                                        (models.CNNConfig(in_shape=(1, 6, 6), n_classes=3, width=4), (1, 6, 6))])
def test_classifiers_train_stacked(cfg, shape, tmp_path):
    """The same engine trains classifiers through vmap(functional_call): loss falls."""
    from dataclasses import dataclass

    from memlib.config import Config

    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, *shape, generator=g)
    Y = torch.bucketize(X.mean((1, 2, 3)), torch.tensor([-0.05, 0.05]))  # 3 classes by mean intensity

    @dataclass(frozen=True)
    class Toy(Config):
        n: int = 64

        def check_model(self, m): pass
        def source(self): return "toy"
        def indices(self): return torch.arange(self.n)
        def load_pool(self, n): return X[:n], Y[:n]

    rs = [Run(model=cfg, data=Toy(n), train=TC.replace(stop="steps", max_steps=150, lr=1e-2), seed=s)
          for s, n in [(0, 64), (1, 32)]]
    s = Stack(rs)
    x = s.x[torch.stack(s.own[:1] * 2)[:, :5]]  # (K, 5, ...): the stacked forward equals each module's
    ref = [models.build(cfg, r.seed)(x[k]) for k, r in enumerate(rs)]
    assert torch.allclose(s.forward(s.p, x), torch.stack(ref), atol=1e-5)
    first = [s.train_step() for _ in range(2)][0]
    for _ in range(148):
        last = s.train_step()
    assert (last < 0.6 * first).all()


def test_bf16_parameters_stay_bf16_valued(tmp_path):
    tc = TC.replace(precision="bf16", stop="steps", max_steps=20)
    r = runs(ns=(8,), seeds=(0,), tc=tc)
    sweep(r, capacity_monitor, RunStore(tmp_path), device="cpu", progress=False)
    w = load_weights(r[0], RunStore(tmp_path))
    assert all(v.dtype == torch.bfloat16 for v in w.values())
    s = Stack(r)
    s.train_step()
    for v in s.p.values():
        assert torch.equal(v, v.bfloat16().float())


def test_cpu_stacks_fp32_and_bf16_runs_together(tmp_path):
    """Off CUDA, bf16 runs ride in fp32 stacks (emulated by rounding): one stack for both precisions,
    each run's result as when trained in a stack of its own precision, bf16 weights bf16-valued."""
    rs = [r.replace(train=r.train.replace(precision=p)) for p in ("fp32", "bf16") for r in runs(ns=(8, 24))]
    assert len({r.stack_key("cpu") for r in rs}) == 1 and len({r.stack_key("cuda") for r in rs}) == 2
    mixed, apart = RunStore(tmp_path / "a"), RunStore(tmp_path / "b")
    m_mixed = sweep(rs, capacity_monitor, mixed, device="cpu", progress=False, stacking="always")
    assert {m["stack_size"] for m in m_mixed} == {len(rs)}
    half = len(rs) // 2
    m_apart = (sweep(rs[:half], capacity_monitor, apart, device="cpu", progress=False, stacking="always")
               + sweep(rs[half:], capacity_monitor, apart, device="cpu", progress=False, stacking="always"))
    assert {m["stack_size"] for m in m_apart} == {half}
    for r, a, b in zip(rs, m_mixed, m_apart):
        assert a["steps"] == b["steps"]
        wa, wb = load_weights(r, mixed), load_weights(r, apart)
        for n in wa:
            assert wa[n].dtype == PRECISIONS[r.train.precision]
            assert torch.allclose(wa[n].float(), wb[n].float(), atol=1e-5), n
        assert math.isclose(a["final"]["memorized_bits"], b["final"]["memorized_bits"], rel_tol=1e-4, abs_tol=1e-3)
    bf = [load_weights(r, mixed) for r in rs[half:]]
    assert any(not torch.equal(w[n].float(), load_weights(r, mixed)[n].float())
               for r, w in zip(rs[:half], bf) for n in w)  # the precisions did train differently


def test_corrupt_run_is_detected_and_recomputed(tmp_path):
    st = RunStore(tmp_path)
    r = runs(ns=(8,), seeds=(0,))
    (m1,) = sweep(r, capacity_monitor, st, device="cpu", progress=False)
    f = st.dir(r[0].run_id()) / "weights.safetensors"
    f.write_bytes(f.read_bytes()[:-10])  # truncate
    with pytest.warns(CorruptRunWarning, match=str(f.name)):
        assert st.load(r[0].run_id()) is None
    (m2,) = sweep(r, capacity_monitor, st, device="cpu", progress=False)
    assert m2["final"] == m1["final"] and st.done(r[0].run_id())


def test_divergence_names_run_and_step_and_writes_nothing(tmp_path):
    st = RunStore(tmp_path)
    bad = runs(ns=(8,), seeds=(0,), tc=TC.replace(lr=1e6, stop="steps", max_steps=50))
    with pytest.raises(DivergedError, match=rf"run {bad[0].run_id()} diverged at step \d+"):
        sweep(bad, capacity_monitor, st, device="cpu", progress=False)
    assert not (st.dir(bad[0].run_id()) / "metrics.json").exists()


def test_checkpoint_resume_is_bit_identical(tmp_path):
    """Kill mid-run (simulated: stop after a checkpoint), resume: same weights as uninterrupted."""
    tc = TC.replace(stop="steps", max_steps=60)
    r = runs(ns=(24,), seeds=(0,), tc=tc)
    full = RunStore(tmp_path / "full")
    sweep(r, capacity_monitor, full, device="cpu", progress=False, checkpoint_every=20)

    part = RunStore(tmp_path / "part")
    s = Stack(r)
    for _ in range(30):
        s.train_step()
        if s.step == 20:
            part.save_checkpoint(r[0].run_id(), *s.checkpoint(0))
    ck = part.load_checkpoint(r[0].run_id())
    assert ck[1]["step"] == 20
    sweep(r, capacity_monitor, part, device="cpu", progress=False, checkpoint_every=20)  # resumes from step 20
    a, b = load_weights(r[0], full), load_weights(r[0], part)
    assert part.load_metrics(r[0].run_id())["resumed_from"] == 20
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert json.loads((full.dir(r[0].run_id()) / "metrics.json").read_text())["final"] == \
        json.loads((part.dir(r[0].run_id()) / "metrics.json").read_text())["final"]


def test_same_seed_same_metrics(tmp_path):
    r = runs(ns=(24,), seeds=(3,))
    a = sweep(r, capacity_monitor, RunStore(tmp_path / "a"), device="cpu", progress=False)
    b = sweep(r, capacity_monitor, RunStore(tmp_path / "b"), device="cpu", progress=False)
    assert a[0]["final"] == b[0]["final"] and a[0]["history"] == b[0]["history"]


def test_stack_of_reloads_trained_models(tmp_path):
    """A stack rebuilt from the store scores each model's data as the trained stack did."""
    from memlib.engine import stack_of
    st = RunStore(tmp_path)
    rs = runs(ns=(8, 24), seeds=(0,), tc=TC.replace(stop="steps", max_steps=40))
    ms = sweep(rs, capacity_monitor, st, device="cpu", progress=False)
    got = capacity_monitor(stack_of(rs, st))["memorized_bits"].tolist()
    assert got == pytest.approx([m["final"]["memorized_bits"] for m in ms], rel=1e-5)
    with pytest.raises(FileNotFoundError, match="not in the store"):
        stack_of(runs(ns=(9,), seeds=(0,)), st)


def test_stack_size_is_capped_by_gpu_memory():
    """On CUDA a sweep stacks only as many GPTs as 80% of free memory holds; on CPU, max_stack."""
    from memlib.engine import stack_limit, train_bytes_per_model
    small = Run(model=GPTConfig(vocab_size=2048, seq_len=64, n_layer=1, d_model=32),
                data=RandomTokens(2048, 64, 4096, 0), train=TrainConfig(batch_size=2048))  # a batch of 2048 rows
    big = small.replace(model=GPTConfig(vocab_size=2048, seq_len=64, n_layer=8, d_model=256))
    gb = 1 << 30
    assert 3 * gb < train_bytes_per_model(small) < 5 * gb  # measured 3.6 GB on an H100
    assert 20 * gb < train_bytes_per_model(big) < 26 * gb  # measured 23 GB
    assert stack_limit(small, "cpu", 64) == 64
    assert stack_limit(small, "cuda", 64, free_bytes=78 * gb) == 16
    assert stack_limit(big, "cuda", 64, free_bytes=78 * gb) == 2
    assert stack_limit(big, "cuda", 64, free_bytes=1 * gb) == 1


def test_an_unknown_stacking_mode_is_refused(tmp_path):
    rs = runs()
    with pytest.raises(ConfigError, match="stacking"):
        sweep(rs, capacity_monitor, RunStore(tmp_path), device="cpu", stacking="sometimes")

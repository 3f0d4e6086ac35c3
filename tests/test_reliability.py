"""Interrupted sweeps, concurrent sweeps, no network, safe loading, deterministic notebooks."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memlib.bits import capacity_monitor
from memlib.engine import resolve_device, sweep
from memlib.config import ConfigError
from memlib import store as store_mod
from memlib.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from sweep_job import RUNS  # noqa: E402


def job(store, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "sweep_job.py"), str(store)], env=env, **kw)


def finished(store):
    return [r for r in RUNS if (store.dir(r.run_id()) / "manifest.json").exists()]


def test_sigkilled_sweep_resumes_and_matches_uninterrupted(tmp_path):
    ref = RunStore(tmp_path / "ref")
    expected = sweep(RUNS, capacity_monitor, ref, device="cpu", progress=False)

    st = RunStore(tmp_path / "killed")
    p = job(st.root)
    deadline = time.time() + 120
    while len(finished(st)) < 2 and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = {r.run_id(): (st.dir(r.run_id()) / "manifest.json").stat().st_mtime_ns for r in finished(st)}
    assert 2 <= len(done) < len(RUNS), "the kill must land part-way through the sweep"

    got = sweep(RUNS, capacity_monitor, st, device="cpu", progress=False)  # the rerun
    for rid, mtime in done.items():  # finished runs were kept, not retrained
        assert (st.dir(rid) / "manifest.json").stat().st_mtime_ns == mtime
    for a, b in zip(got, expected):
        assert a["final"] == b["final"] and a["history"] == b["history"]


def test_two_processes_share_a_sweep(tmp_path):
    st = RunStore(tmp_path / "shared")
    ps = [job(st.root, stderr=subprocess.PIPE) for _ in range(2)]
    for p in ps:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]
    assert len(finished(st)) == len(RUNS)
    ref = sweep(RUNS, capacity_monitor, RunStore(tmp_path / "ref"), device="cpu", progress=False)
    got = sweep(RUNS, capacity_monitor, st, device="cpu", progress=False)  # loads, verifying hashes
    assert [g["final"] for g in got] == [r["final"] for r in ref]
    assert not list(st.root.glob("*.corrupt-*")) and not list(st.root.glob("*/claim"))


def test_claims_are_exclusive_and_stale_claims_are_taken_over(tmp_path):
    st = RunStore(tmp_path)
    assert st.claim("abc")
    (st.dir("abc") / "claim").write_text(f"{socket.gethostname()} 1")  # pid 1: alive, not us
    assert not st.claim("abc")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (st.dir("abc") / "claim").write_text(f"{socket.gethostname()} {dead.pid}")
    assert st.claim("abc")


def test_abandoned_claims_from_another_machine_do_not_block_a_sweep(tmp_path):
    """A claim left by a trainer on another host (e.g. a stopped cluster node) that has not refreshed it
    for CLAIM_STALE_S is taken over: the sweep trains the run instead of waiting for ever; a fresh one
    from another host is respected, and a live trainer's heartbeat keeps its claim fresh."""
    st, r = RunStore(tmp_path), RUNS[0]
    lock = st.dir(r.run_id()) / "claim"
    lock.parent.mkdir(parents=True)
    lock.write_text("another-host 4242")
    assert not st.abandoned(r.run_id()) and not st.claim(r.run_id())
    old = time.time() - store_mod.CLAIM_STALE_S - 60
    os.utime(lock, (old, old))
    assert st.abandoned(r.run_id())
    got = sweep([r], capacity_monitor, st, device="cpu", progress=False, poll_s=0.01)
    assert got[0]["steps"] > 0 and not lock.exists()
    lock.write_text("another-host 4242")
    os.utime(lock, (old, old))
    st.heartbeat(r.run_id())
    assert not st.abandoned(r.run_id())


def test_altered_metrics_file_is_not_loaded(tmp_path):
    st = RunStore(tmp_path)
    r = RUNS[:1]
    sweep(r, capacity_monitor, st, device="cpu", progress=False)
    f = st.dir(r[0].run_id()) / "metrics.json"
    f.write_text(f.read_text().replace('"saturated"', '"saturatex"'))
    with pytest.warns(UserWarning, match="metrics.json does not match"):
        assert st.load(r[0].run_id()) is None


def test_corrupt_checkpoint_restarts_training(tmp_path):
    st = RunStore(tmp_path)
    r = RUNS[0]
    st.save_checkpoint(r.run_id(), {"x": __import__("torch").zeros(3)}, {"step": 5})
    (st.dir(r.run_id()) / "ckpt.safetensors").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="ignoring corrupt checkpoint"):
        assert st.load_checkpoint(r.run_id()) is None


def test_no_network_during_a_sweep(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("memlib tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from memlib.capacity import CapacityConfig, run_table
    cfg = CapacityConfig.from_params("smoke")
    df = run_table(cfg, cfg.grid() + cfg.vocab_runs(), store=RunStore(tmp_path), progress=False)
    assert len(df) > 0


def unsafe_loads(src: str) -> list[str]:
    """Calls in `src` that could unpickle data: pickle at all, np.load without allow_pickle=False, torch.load
    without weights_only=True."""
    bad = ["pickle"] if "pickle" in re.sub(r"allow_pickle=False", "", src) else []
    bad += [c for c in re.findall(r"torch\.load\([^)]*\)", src) if "weights_only=True" not in c]
    bad += [c for c in re.findall(r"np\.load\([^)]*\)", src) if "allow_pickle=False" not in c]
    return bad


def test_weights_load_only_safely():
    """Every module of the package, the engine and every subpackage included."""
    files = sorted((ROOT / "memlib").rglob("*.py"))
    assert {"memlib/engine/stack.py", "memlib/store.py", "memlib/plots/__init__.py"} <= {
        str(p.relative_to(ROOT)) for p in files}
    for p in files:
        assert not unsafe_loads(p.read_text()), (p, unsafe_loads(p.read_text()))
    assert "safetensors" in (ROOT / "memlib" / "store.py").read_text()
    assert unsafe_loads("torch.load(f)") and unsafe_loads("import pickle") and unsafe_loads("np.load(path)")
    assert not unsafe_loads("torch.load(f, weights_only=True)\nnp.load(p, allow_pickle=False)")


def test_unknown_device_is_named():
    with pytest.raises(ConfigError, match="invalid device='tpu'"):
        resolve_device("tpu")


def test_notebook_twice_gives_identical_metrics(tmp_path):
    """Two smoke runs of notebook 01 from empty run stores write the same metrics (timings aside)."""
    import papermill as pm
    outs = []
    for i in range(2):
        env = {"MEMLIB_RUNS": str(tmp_path / f"runs{i}"), "MEMLIB_METRICS": str(tmp_path / f"m{i}"),
               "MEMLIB_FIGURES": str(tmp_path / f"f{i}")}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            pm.execute_notebook(str(ROOT / "notebooks" / "01_capacity.ipynb"), str(tmp_path / f"{i}.ipynb"),
                                parameters={"scale": "smoke", "device": "cpu"}, kernel_name="python3",
                                progress_bar=False, cwd=str(ROOT))
        finally:
            for k, v in old.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        text = (tmp_path / f"m{i}" / "01_capacity.json").read_text()
        outs.append(re.sub(r'"wall_s": [0-9.e+-]+', '"wall_s": 0', text))
    assert outs[0] == outs[1]


def test_dask_local_cluster_equals_in_process(tmp_path):
    """A sweep spread over a two-worker dask LocalCluster gives exactly the in-process results."""
    from memlib.engine import executor
    here = sweep(RUNS, capacity_monitor, RunStore(tmp_path / "here"), device="cpu", progress=False, max_stack=2)
    there = sweep(RUNS, capacity_monitor, RunStore(tmp_path / "dask"), device="cpu", progress=False, max_stack=2,
                  executor=executor("local"))
    assert [a["final"] for a in here] == [b["final"] for b in there]
    assert [a["history"] for a in here] == [b["history"] for b in there]

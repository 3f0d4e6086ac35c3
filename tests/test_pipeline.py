"""The DVC pipeline as a new user meets it: a fresh clone agrees with dvc.lock, and each stage's memlib deps are
exactly what its command imports."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from memlib import pipeline

ROOT = Path(__file__).resolve().parent.parent
STAGES = pipeline.load_stages(ROOT)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_are_what_its_command_imports(stage):
    want, have = pipeline.stage_deps(stage, ROOT), pipeline.listed_deps(stage, ROOT)
    assert have == want, (f"dvc.yaml's memlib deps of {stage} differ from its imports: missing "
                          f"{sorted(set(want) - set(have))}, not imported {sorted(set(have) - set(want))}; "
                          "`python -m memlib.pipeline sync-deps` rewrites them")


def test_plots_list_is_every_figure_the_stages_write():
    """`dvc plots show` draws what the stages make: dvc.yaml's top-level plots are exactly the figure outs, so a
    figure a notebook stopped writing (or a new one) cannot linger in (or be missing from) the list."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    outs = [next(iter(o)) if isinstance(o, dict) else o for st in dvc["stages"].values() for o in st.get("outs", [])]
    figures = {o for o in outs if o.startswith("figures/")}
    plots = set(dvc.get("plots", []))
    assert plots == figures, (f"dvc.yaml's plots list differs from the stages' figure outs: missing "
                              f"{sorted(figures - plots)}, written by no stage {sorted(plots - figures)}")


def _package(tmp_path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_import_follower_finds_function_level_relative_and_notebook_imports(tmp_path):
    root = _package(tmp_path, {
        "memlib/__init__.py": "",
        "memlib/a.py": "import numpy\ndef f():\n    from memlib import b\n",
        "memlib/b.py": "from memlib.sub import c\n",
        "memlib/sub/__init__.py": "from .d import x\n",
        "memlib/sub/c.py": "",
        "memlib/sub/d.py": "x = 1\n",
        "memlib/unused.py": "",
        "nb.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": ["%matplotlib inline\n",
                                                                            "from memlib import a\n"]}]}),
    })
    got = pipeline.imported_files([root / "nb.ipynb"], root)
    assert got == {"memlib/__init__.py", "memlib/a.py", "memlib/b.py", "memlib/sub/__init__.py",
                   "memlib/sub/c.py", "memlib/sub/d.py"}
    assert pipeline.imported_files([root / "memlib/b.py"], root) == got - {"memlib/a.py"}


def test_deps_check_fails_when_a_dep_is_dropped(tmp_path):
    """The comparison bites: a dvc.yaml missing one imported file is caught."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    stages["stages"]["grokking"]["deps"].remove("memlib/data.py")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(stages))
    for p in ["memlib", "notebooks"]:
        os.symlink(ROOT / p, tmp_path / p)
    assert pipeline.listed_deps("grokking", tmp_path) != pipeline.stage_deps("grokking", tmp_path)


def _cached_outs() -> set[str]:
    out = set()
    for s in STAGES.values():
        for o in s.get("outs", []):
            path, opts = (next(iter(o.items())) if isinstance(o, dict) else (o, {}))
            if (opts or {}).get("cache", True):
                out.add(path)
    return out


def stale(status: dict) -> dict:
    """What in `dvc status --json` is more than a cached output missing from a fresh clone."""
    cached = _cached_outs()
    bad = {}
    for stage, entries in status.items():
        for e in entries:
            for kind, changes in (e.items() if isinstance(e, dict) else [(e, None)]):
                if not isinstance(changes, dict):
                    bad.setdefault(stage, []).append(kind)
                    continue
                for path, what in changes.items():
                    missing_cache = path in cached and what in ("not in cache", "deleted")
                    if not (kind in ("changed outs", "changed deps") and missing_cache):
                        bad.setdefault(stage, []).append(f"{kind}: {path} {what}")
    return bad


def test_stale_reads_dvc_status():
    assert stale({"text_data": [{"changed outs": {"data/text": "not in cache"}}],
                  "extraction": [{"changed deps": {"data/text": "deleted"}}]}) == {}
    assert stale({"capacity": [{"changed deps": {"memlib/engine": "modified"}}]}) == {
        "capacity": ["changed deps: memlib/engine modified"]}
    assert stale({"grokking": ["changed command"]}) == {"grokking": ["changed command"]}
    assert stale({"grokking": [{"changed deps": {"params.yaml": {"grokking.scale": "modified"}}}]})


def test_fresh_clone_of_head_agrees_with_dvc_lock(tmp_path):
    """Clone the committed HEAD, import every memlib module there (so interpreter caches exist, as on any machine
    that ran something), then `dvc status`: no stage may report a changed dependency, parameter or command."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    modules = sorted(".".join(p.relative_to(clone).with_suffix("").parts)
                     for p in (clone / "memlib").rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    subprocess.run([sys.executable, "-c", "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]",
                    *modules], cwd=clone, env={**env, "PYTHONPATH": str(clone)}, check=True)
    assert list((clone / "memlib" / "engine").glob("__pycache__/*.pyc")), "the import left no caches to ignore"
    (clone / "notebooks" / ".ipynb_checkpoints").mkdir()
    (clone / "notebooks" / ".ipynb_checkpoints" / "01_capacity-checkpoint.ipynb").write_text("{}")
    res = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=clone, env=env, check=True,
                         capture_output=True, text=True)
    assert stale(json.loads(res.stdout or "{}")) == {}, res.stdout


def test_gpu_stage_is_frozen_and_refuses_a_cpu():
    assert pipeline.gpu_stages(ROOT) == ["capacity_paper_point"]
    if __import__("torch").cuda.is_available():
        pytest.skip("the refusal is for machines without CUDA")
    res = subprocess.run([sys.executable, "-m", "memlib.capacity", "paper-point", "laptop"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "MEMLIB_PAPER_POINT_CPU"})
    assert res.returncode != 0 and "needs CUDA" in res.stderr and "make paper-point" in res.stderr


def test_repro_all_runs_every_cpu_stage_after_its_inputs():
    todo = [n for n in pipeline.order(ROOT) if n not in pipeline.gpu_stages(ROOT)]
    assert sorted(todo) == sorted(set(STAGES) - {"capacity_paper_point"})
    assert todo.index("text_data") < todo.index("text_generalization") < todo.index("extraction")
    assert todo.index("data_diet") < todo.index("unlearning") and todo.index("extraction") < todo.index("unlearning")
    assert set(todo) <= set(pipeline.STAGE_MINUTES), "every stage needs its expected time"

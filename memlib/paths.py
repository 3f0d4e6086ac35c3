"""Where everything lives: one module, rooted at the repository (or $MEMLIB_ROOT).

Results go to the tracked `metrics/` and `figures/` only from a DVC stage (`dvc repro`, which sets $DVC_STAGE) at
its own scale. Any other run, a notebook opened in JupyterLab, papermill by hand, or a stage with $MEMLIB_SCALE
overriding its scale, writes beside them to `explore/<scale>/metrics/` and `explore/<scale>/figures/`
(gitignored) and says so once, so exploring never changes a committed result. $MEMLIB_METRICS / $MEMLIB_FIGURES
name other folders (the tests use a temp dir). Reading a result (`results.read_metrics`) looks in the folder
being written first, then, while exploring, in the tracked `metrics/` (e.g. notebook 01's α for notebook 02).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("MEMLIB_ROOT", Path(__file__).resolve().parent.parent))
RUNS = Path(os.environ.get("MEMLIB_RUNS", ROOT / "runs"))  # the run store (gitignored)
METRICS = ROOT / "metrics"  # the tracked results: DVC outputs, the README's table
FIGURES = ROOT / "figures"
EXPLORE = Path(os.environ.get("MEMLIB_EXPLORE", ROOT / "explore"))  # results of runs that are not the DVC stage
DATA = Path(os.environ.get("MEMLIB_DATA", ROOT / "data"))  # prepared datasets (DVC outputs)
CACHE = ROOT / ".cache"

_scale: str | None = None  # the scale of the experiment this process runs (set by Experiment.from_params)
_told = False


def use_scale(scale: str) -> None:
    global _scale
    _scale = scale


def in_stage() -> bool:
    """True inside a DVC stage that runs at its own (params.yaml) scale."""
    return bool(os.environ.get("DVC_STAGE")) and not os.environ.get("MEMLIB_SCALE")


def _out(kind: str, env: str, tracked: Path) -> Path:
    global _told
    if os.environ.get(env):
        return Path(os.environ[env])
    if in_stage():
        return tracked
    d = EXPLORE / (_scale or "unscaled") / kind
    if not _told:
        _told = True
        where = d.parent.relative_to(ROOT) if d.parent.is_relative_to(ROOT) else d.parent
        print(f"memlib: not a DVC stage at its own scale, so results go to {where}/ (metrics/, figures/); "
              "only `dvc repro` writes the tracked metrics/ and figures/. $MEMLIB_METRICS and $MEMLIB_FIGURES "
              "choose other folders.", file=sys.stderr)
    return d


def metrics_dir() -> Path:
    """Where this process writes metrics/<name>.json."""
    return _out("metrics", "MEMLIB_METRICS", METRICS)


def figures_dir() -> Path:
    """Where this process writes figures/<name>.png."""
    return _out("figures", "MEMLIB_FIGURES", FIGURES)


def metrics_read_dirs() -> list[Path]:
    """Where a result is looked up, first match wins: the folder being written, then (exploring) the tracked one."""
    first = metrics_dir()
    return [first] if os.environ.get("MEMLIB_METRICS") or first == METRICS else [first, METRICS]


def setup_caches() -> None:
    """Keep tool caches (matplotlib, IPython, Jupyter, torch inductor) inside the project."""
    for var, sub in [("MPLCONFIGDIR", "matplotlib"), ("IPYTHONDIR", "ipython"),
                     ("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("TORCHINDUCTOR_CACHE_DIR", "inductor"),
                     ("DVC_SITE_CACHE_DIR", "dvc")]:
        os.environ.setdefault(var, str(CACHE / sub))

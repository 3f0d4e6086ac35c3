"""Where everything lives: one module, rooted at the repository (or $MEMLIB_ROOT)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("MEMLIB_ROOT", Path(__file__).resolve().parent.parent))
RUNS = Path(os.environ.get("MEMLIB_RUNS", ROOT / "runs"))  # the run store (gitignored)
METRICS = Path(os.environ.get("MEMLIB_METRICS", ROOT / "metrics"))  # tests point these at a temp dir
FIGURES = Path(os.environ.get("MEMLIB_FIGURES", ROOT / "figures"))
DATA = Path(os.environ.get("MEMLIB_DATA", ROOT / "data"))  # prepared datasets (DVC outputs)
CACHE = ROOT / ".cache"


def setup_caches() -> None:
    """Keep tool caches (matplotlib, IPython, Jupyter, torch inductor) inside the project."""
    for var, sub in [("MPLCONFIGDIR", "matplotlib"), ("IPYTHONDIR", "ipython"),
                     ("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("TORCHINDUCTOR_CACHE_DIR", "inductor"),
                     ("DVC_SITE_CACHE_DIR", "dvc")]:
        os.environ.setdefault(var, str(CACHE / sub))

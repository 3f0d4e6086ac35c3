"""Metrics files: metrics/NN_topic.json, written atomically with rounded, sorted numbers."""
from __future__ import annotations

import json
import math

from memlib import paths
from memlib.store import atomic_write


def _clean(x, digits=6):
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(f"{x:.{digits}g}")
    if isinstance(x, dict):
        return {str(k): _clean(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v, digits) for v in x]
    if hasattr(x, "item"):  # numpy / torch scalars
        return _clean(x.item(), digits)
    return x


def write_metrics(name: str, metrics: dict) -> dict:
    """Write <paths.metrics_dir()>/<name>.json (floats to 6 significant digits, NaN -> null) and return what was written."""
    out = _clean(metrics)
    text = json.dumps(out, indent=1, sort_keys=True, allow_nan=False) + "\n"
    path = paths.metrics_dir() / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda t: t.write_text(text))
    return out


def read_metrics(name: str):
    """metrics/<name>.json from the first folder of paths.metrics_read_dirs() that has it, else None."""
    for d in paths.metrics_read_dirs():
        if (d / f"{name}.json").exists():
            return json.loads((d / f"{name}.json").read_text())
    return None

"""Test-session settings, applied before any test or notebook kernel starts.

Notebooks collected by nbval run their stored (laptop) parameters; MEMLIB_SCALE=smoke makes them
run at the smoke scale instead. Runs, metrics, figures and prepared data of the tests go to a temp
dir, so the committed laptop results are never overwritten and no earlier run is reused by accident.
"""
import os
import tempfile

_tmp = tempfile.mkdtemp(prefix="memlib-test-")
os.environ.setdefault("MEMLIB_SCALE", "smoke")
for var, sub in [("MEMLIB_RUNS", "runs"), ("MEMLIB_METRICS", "metrics"), ("MEMLIB_FIGURES", "figures"),
                 ("MEMLIB_DATA", "data")]:
    os.environ.setdefault(var, os.path.join(_tmp, sub))
os.environ.setdefault("OMP_NUM_THREADS", "2")


def pytest_configure(config):
    """Prepare the smoke-scale corpus (a second, seconds) where notebook 03's smoke runs will read it."""
    from memlib import corpus
    from memlib.text import TextConfig
    cfg = TextConfig.from_params("smoke").corpus()
    try:
        corpus.load(cfg)
    except corpus.CorpusError:
        corpus.build(cfg)

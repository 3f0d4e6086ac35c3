"""The base of every notebook's config: its named scales, the run settings all experiments share, and training.

`Experiment` owns `scale`, `device`, `scheduler` and `max_stack` (validated here, for every notebook alike) and
`train(runs, monitor)`, the one place outside the engine that calls `sweep`; `training_seconds(runs)` is the
training time of those runs as the store recorded it; `stop_summary()` how every run it trained stopped (each
notebook's metrics carry it as "stops").
"""
from __future__ import annotations

import dataclasses
import os
from typing import ClassVar

from collections import Counter

from memlib import paths
from memlib.config import Config, ConfigError, check, check_number
from memlib.engine import executor, sweep, train_seconds
from memlib.engine.stopping import SATURATION_GAIN
from memlib.models import n_params

_TRAINED: dict = {}  # run id -> (run, metrics): every run this process trained or loaded through Experiment.train


def stop_summary(items: list | None = None) -> dict:
    """How the runs stopped (every run `Experiment.train` trained or loaded in this process, or `items`, a list of
    (run, metrics)): counts by stop_reason, how many saturated (score gain over the last doubling of steps below
    SATURATION_GAIN), the largest gain, and one row per run (what a notebook's metrics carry as "stops")."""
    items = list(_TRAINED.values()) if items is None else items
    rows = [{"run": r.run_id()[:12], "model": type(r.model).__name__, "params": n_params(r.model),
             "examples": int(len(r.examples())), "steps": m["steps"], "stop_reason": m["stop_reason"],
             "gain_last_doubling": m["gain_last_doubling"], "decay_gain": m["decay_gain"],
             "saturated": m["saturated"]} for r, m in items]
    gains = [x["gain_last_doubling"] for x in rows if x["gain_last_doubling"] is not None]
    return {"saturation_gain": SATURATION_GAIN, "n_runs": len(rows),
            "n_saturated": sum(x["saturated"] is True for x in rows),
            "n_unsaturated": sum(x["saturated"] is False for x in rows),
            "n_unknown": sum(x["saturated"] is None for x in rows),
            "by_reason": dict(sorted(Counter(x["stop_reason"] for x in rows).items())),
            "max_gain_last_doubling": max(gains) if gains else None, "runs": rows}


@dataclasses.dataclass(frozen=True)
class Experiment(Config):
    """An experiment's settings; subclasses give `SCALES`: name -> field overrides."""

    SCALES: ClassVar[dict] = {}
    scale: str = "laptop"  # smoke (CI, seconds) | laptop (2-core CPU, minutes) | paper (GPU)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    scheduler: str = "in-process"  # in-process | local (a 2-worker dask LocalCluster) | a dask scheduler address
    max_stack: int = 64  # at most this many models trained at once in one stack

    def validate(self):
        check(self.scale in self.SCALES, "scale", self.scale, f"one of {sorted(self.SCALES)}")
        check(self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:"), "device", self.device,
              "'auto', 'cpu', 'cuda' or 'cuda:N'")
        check(isinstance(self.scheduler, str) and bool(self.scheduler), "scheduler", self.scheduler,
              "'in-process', 'local' or a dask scheduler address (tcp://host:port)")
        check_number(self.max_stack, "max_stack", 1, integer=True)

    @classmethod
    def from_params(cls, scale: str = "laptop", **overrides):
        """The named scale with `overrides` on top; unknown keys and bad values fail here.

        $MEMLIB_SCALE, when set, replaces `scale` (CI runs the stored notebooks at smoke this way).
        """
        scale = os.environ.get("MEMLIB_SCALE") or scale
        check(scale in cls.SCALES, "scale", scale, f"one of {sorted(cls.SCALES)}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"unknown parameter(s) {unknown} for {cls.__name__}: "
                              f"allowed are {sorted(names)}")
        fields = {**cls.SCALES[scale], **{k: v for k, v in overrides.items() if v is not None}}
        paths.use_scale(scale)  # results of a run outside its DVC stage go to explore/<scale>/
        return cls(scale=scale, **fields)

    def run_settings(self) -> dict:
        """device / scheduler / max_stack, to build another notebook's config with the same settings."""
        return dict(device=self.device, scheduler=self.scheduler, max_stack=self.max_stack)

    def train(self, runs: list, monitor, **kw) -> list[dict]:
        """Every run's metrics: finished runs loaded from the store, the rest trained in stacks (engine.sweep)."""
        res = sweep(runs, monitor, device=self.device, executor=executor(self.scheduler), max_stack=self.max_stack,
                    **kw)
        _TRAINED.update({r.run_id(): (r, m) for r, m in zip(runs, res)})
        return res

    @staticmethod
    def training_seconds(runs: list) -> float:
        """Wall time the store recorded for training `runs` (each training session counted once)."""
        return train_seconds(runs)

"""The capacity ablation: which training choices move a model's capacity (notebook 01's side stage).

Morris et al. 2025 (REFERENCE.md §1) train with Adam at batch 2048 to saturation, up to 1e6 steps, and read
capacity as the maximum over many dataset sizes; notebook 01's grid trains with its own laptop settings. Here
one model shape (`size`, at the grid's V and S) is trained under the grid's settings (the base) and under one
changed choice at a time: learning rate, batch size, a stricter plateau rule, weight decay, a denser grid of
dataset sizes, a fixed longer schedule and warmup + cosine. Capacity is the maximum over a setting's dataset
sizes, per seed. Too slow for notebook 01's budget, it is its own stage, `python -m memlib.ablation <scale>`,
which writes metrics/01_capacity_ablation.json; the notebook reads it (`result`) and draws it (`table`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import pandas as pd

from memlib.capacity import CapacityConfig, capacities, max_gain, run_table
from memlib.config import check, check_number
from memlib.engine import Run
from memlib.experiment import Experiment, stop_summary
from memlib.results import read_metrics, write_metrics

FULL_BATCH = 1 << 30  # a batch larger than any dataset: every model trains full-batch


@dataclass(frozen=True)
class AblationConfig(Experiment):
    """One training choice changed at a time from the capacity grid's (`CapacityConfig` at the same scale)."""

    SCALES = {
        "smoke": dict(size=(1, 4), lrs=(3e-3,), batch_sizes=(0,), lengths=(1.5,), tols=(0.005,), fracs=(1.0,),
                      max_steps=300),
        "laptop": dict(),
        "paper": dict(size=(1, 32), lrs=(1e-3, 3e-3), lengths=(4.0,)),
    }
    size: tuple = (1, 12)  # (n_layer, d_model); V, S, seeds, sweep_fracs and the base settings are the grid's
    # besides the grid's lr. The paper's 1e-3 is left out at laptop: at this shape it does not reach the plateau
    # rule within max_steps, and its runs took half of the stage's time (the paper scale keeps it)
    lrs: tuple = (3e-3,)
    batch_sizes: tuple = (16, 0)  # besides batch_size; 0 = full batch (every sequence each step, as the paper's 2048 at its smallest models)
    # x the base steps on a fixed schedule; none at laptop, where notebook 01's ladder (longer_factors at its
    # check_size) measures capacity against training length
    lengths: tuple = ()
    tols: tuple = (0.01,)  # besides tol: a stricter plateau rule
    schedules: tuple = ("cosine",)  # warmup + cosine to 0 over the base steps, besides warmup-stable-decay
    weight_decays: tuple = (0.1,)  # besides weight_decay 0
    fracs: tuple = (0.5, 0.75, 1.25, 2.0, 3.0)  # dataset sizes added to sweep_fracs: capacity as the max over a denser grid
    max_steps: int = 60_000  # budget of the plateau-rule settings (a slower lr needs more steps)

    def validate(self):
        super().validate()
        check(len(self.size) == 2 and all(isinstance(x, int) and x >= 1 for x in self.size),
              "size", self.size, "an [n_layer, d_model] pair of positive integers")
        for name in ("lrs", "lengths", "tols", "fracs"):
            v = getattr(self, name)
            check(all(isinstance(f, (int, float)) and f > 0 for f in v), name, v, "a list of positive numbers")
        check(all(isinstance(b, int) and b >= 0 for b in self.batch_sizes), "batch_sizes", self.batch_sizes,
              "a list of batch sizes (integers >= 0; 0 = full batch)")
        check(all(w >= 0 for w in self.weight_decays), "weight_decays", self.weight_decays, "a list of numbers >= 0")
        check(all(x in ("wsd", "cosine") for x in self.schedules), "schedules", self.schedules,
              "a list drawn from ['cosine', 'wsd']")
        check_number(self.max_steps, "max_steps", 1, integer=True)

    @functools.cache
    def capacity(self) -> CapacityConfig:
        """The capacity grid's config at this scale, with these run settings: the base of every setting."""
        return CapacityConfig.from_params(self.scale, **self.run_settings())

    def plan(self, base_steps: int | None = None) -> list[tuple[str, object, list[Run]]]:
        """(setting, value, runs): the base runs (`size` over the grid's sweep_fracs and seeds, trained as the
        grid is) and one changed training choice per entry. Fixed-length settings need the steps the plateau
        rule took on the base runs (`base_steps`); without them only the others are listed."""
        cap = self.capacity()
        base_tc = cap.train_config("fp32")
        run = lambda tc, fracs=None: cap.runs(*self.size, fracs=fracs or cap.sweep_fracs, train=tc)
        slow = base_tc.replace(max_steps=self.max_steps)  # plateau-rule settings get room to plateau
        plan = [("base", "current", run(base_tc))]
        plan += [("lr", v, run(slow.replace(lr=v))) for v in self.lrs]
        plan += [("batch_size", v or "full", run(slow.replace(batch_size=v or FULL_BATCH))) for v in self.batch_sizes]
        plan += [("tol", v, run(slow.replace(tol=v))) for v in self.tols]
        plan += [("weight_decay", v, run(slow.replace(weight_decay=v))) for v in self.weight_decays]
        plan += [("dataset_sizes", "dense", run(base_tc, tuple(sorted(set(cap.sweep_fracs) | set(self.fracs)))))]
        if base_steps:
            fixed = lambda k: base_tc.replace(stop="steps", max_steps=math.ceil(k * base_steps))
            plan += [("length", f"{k:g}x", run(fixed(k))) for k in self.lengths]
            plan += [("schedule", v, run(fixed(1).replace(schedule=v, decay_frac=0.0))) for v in self.schedules
                     if v != base_tc.schedule]
        return plan


def row(setting: str, value, runs: list[Run], df: pd.DataFrame) -> dict:
    """One setting's result: capacity (mean over seeds of the max over its dataset sizes) and each seed's."""
    cap = capacities(df)
    return {"setting": setting, "value": value, "n_params": int(cap.n_params.iloc[0]),
            "capacity_bits": float(cap.capacity_bits.mean()), "bits_per_param": float(cap.bits_per_param.mean()),
            "seeds": [{"seed": int(c.seed), "capacity_bits": float(c.capacity_bits),
                       "bits_per_param": float(c.bits_per_param)} for c in cap.itertuples()],
            "saturated": bool(df.saturated.astype(bool).all()),  # every run gained < 1% over its last doubling
            "max_gain_last_doubling": max_gain(df.gain_last_doubling),
            "steps": int(df.steps.max()), "n_dataset_sizes": int(df.n_seqs.nunique())}


def measure(cfg: AblationConfig) -> dict:
    """The stage's metrics: capacity of `size` under each setting of `cfg.plan`, per seed."""
    steps = int(run_table(cfg, cfg.plan()[0][2]).steps.max())  # the fixed lengths are multiples of it
    plan = cfg.plan(steps)
    rows = [row(setting, value, runs, run_table(cfg, runs)) for setting, value, runs in plan]
    cap = cfg.capacity()
    L, d = cfg.size
    return {"scale": cfg.scale, "n_layer": L, "d_model": d, "vocab_size": cap.vocab_size, "seq_len": cap.seq_len,
            "base_steps": steps, "base": {"lr": cap.lr, "batch_size": cap.batch_size, "tol": cap.tol,
                                         "weight_decay": 0.0, "schedule": "wsd", "fracs": list(cap.sweep_fracs)},
            "training": {"wall_s": cfg.training_seconds([r for _, _, runs in plan for r in runs])},
            "ablation": rows, "stops": stop_summary()}


def table(ab: dict) -> pd.DataFrame:
    """One row per setting: capacity (mean over seeds), its seed range, and the change from the base."""
    base = next(r for r in ab["ablation"] if r["setting"] == "base")["bits_per_param"]
    rows = []
    for r in ab["ablation"]:
        per = [s["bits_per_param"] for s in r["seeds"]]
        rows.append({"setting": r["setting"], "value": str(r["value"]), "bits_per_param": r["bits_per_param"],
                     "seed_min": min(per), "seed_max": max(per), "change_pct": 100 * (r["bits_per_param"] / base - 1),
                     "steps": r["steps"], "saturated": r["saturated"]})
    return pd.DataFrame(rows)


def result(scale: str) -> dict | None:
    """The ablation's metrics as its stage wrote them (metrics/01_capacity_ablation.json) at `scale`, else None."""
    m = read_metrics("01_capacity_ablation")
    return m if m and m.get("scale") == scale else None


if __name__ == "__main__":  # python -m memlib.ablation [scale]: the capacity_ablation stage
    import sys
    write_metrics("01_capacity_ablation", measure(AblationConfig.from_params(sys.argv[1] if len(sys.argv) > 1 else "laptop")))

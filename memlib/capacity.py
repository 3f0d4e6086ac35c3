"""Capacity: how many bits a GPT stores per parameter (Morris et al. 2025, REFERENCE.md §1).

Models of several sizes are trained to saturation on uniform random token sequences of
several dataset sizes N. A model's capacity is the plateau (maximum over N) of its total
memorized bits; the slope alpha of capacity against parameter count is bits per parameter.
Dataset sizes are placed relative to each model's predicted capacity (alpha_prior * params),
so every model sees N from well below to well above where it runs out of room.
Side stages: the paper's smallest model (`python -m memlib.capacity paper-point`, a GPU) and the ablation of
training choices (`memlib.ablation`); notebook 01 reads their metrics. Its words are in `memlib.report.capacity`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from memlib.bits import capacity_monitor
from memlib.config import ConfigError, check, check_number
from memlib.experiment import Experiment, stop_summary
from memlib.data import RandomTokens
from memlib.engine import PRECISIONS, Run, TrainConfig
from memlib.engine.stopping import SATURATION_GAIN
from memlib.models import GPTConfig, n_params
from memlib.results import read_metrics, write_metrics

# Table 1 of Morris et al. 2025 (capacity in bits, fp32 / bf16) and their mean bits/param:
# targets to compare with, never results.
PAPER_TABLE1 = {  # (layers, d_model): (params, fp32 bits, bf16 bits)
    (1, 32): (80.4e3, 339e3, 316e3), (1, 64): (185e3, 727e3, 693e3), (1, 128): (469e3, 1.71e6, 1.69e6),
    (1, 256): (1.33e6, 4.15e6, 3.83e6), (2, 32): (93.1e3, 387e3, 331e3), (2, 64): (235e3, 960e3, 927e3),
    (2, 128): (667e3, 2.66e6, 2.60e6), (2, 256): (2.12e6, 8.49e6, 7.76e6), (4, 32): (118e3, 465e3, 399e3),
    (4, 64): (335e3, 1.34e6, 1.14e6), (4, 128): (1.06e6, 4.02e6, 3.75e6), (4, 256): (3.70e6, 13.6e6, 13.0e6),
    (8, 32): (169e3, 512e3, 485e3), (8, 64): (535e3, 2.05e6, 1.71e6), (8, 128): (1.86e6, 7.23e6, 6.49e6),
    (8, 256): (6.86e6, 27.1e6, 25.1e6)}
PAPER_BITS_PER_PARAM = {"fp32": 3.83, "bf16": 3.51, "headline": 3.6}

ALPHA_DEFAULT = 2.0  # bits/param when metrics/01_capacity.json is absent (its laptop-scale order of size)


def measured_alpha(vocab_size: int | None = None, seq_len: int | None = None) -> tuple[float, str]:
    """α (fp32 bits/param, the grid's slope) as notebook 01 measured it, with where it came from; ALPHA_DEFAULT
    before 01 has run. It is the grid's α at the grid's V and S, never rescaled: the vocabulary sweep varies V at
    one small shape, where V also moves the share of embedding parameters, and its cells are lower bounds, so a
    ratio of them is no bound at all. With `vocab_size` / `seq_len` (the caller's), the source says that they
    differ from the grid's and that α was not adjusted; it says "a lower bound" when any shape of the grid was
    still moving over its last doubling of steps or was data-bound (notebook 01's `saturation` table)."""
    m = read_metrics("01_capacity")
    if not (m and m.get("bits_per_param_fp32")):
        return ALPHA_DEFAULT, f"default {ALPHA_DEFAULT} (metrics/01_capacity.json not found)"
    alpha = float(m["bits_per_param_fp32"])
    sat = [r for r in m.get("saturation") or [] if r.get("precision", "fp32") == "fp32"]
    bound = any(not r["saturated"] or r.get("data_bound") for r in sat) if sat else bool(m.get("n_capacity_runs_unsaturated"))
    sizes = [x["n_params"] for x in m.get("models") or []]
    src = f"metrics/01_capacity.json ({m['scale']} scale, V = {m['vocab_size']}, S = {m['seq_len']}"
    src += f", {min(sizes):,}–{max(sizes):,} parameters" if sizes else ""
    src += ", a lower bound)" if bound else ")"
    other = [f"{k} = {v}" for k, v, g in (("V", vocab_size, m["vocab_size"]), ("S", seq_len, m["seq_len"]))
             if v is not None and v != g]
    if other:
        dep = m.get("vocab_dependence") or {}
        cells = "; ".join(f"{c['bits_per_param']:.2f} at V = {c['vocab_size']}, S = {c['seq_len']}" for c in dep.get("cells") or [])
        src += f"; not adjusted to this notebook's {', '.join(other)} (notebook 01's vocabulary sweep: " + (
            ", ".join(f"{d['verdict']} on {n}" for n, d in ((n, dep.get(n)) for n in ("vocab", "seq_len")) if d)
            or "not run") + (f"; its one-shape cells, lower bounds: {cells}" if cells else "") + ")"
    return alpha, src


@dataclass(frozen=True)
class CapacityConfig(Experiment):
    SCALES = {
        "smoke": dict(vocab_size=16, seq_len=8, sizes=((1, 4), (1, 8)), fracs=(0.5, 2.0), seeds=(0,),
                      bf16_fracs=(2.0,), sweep_size=(1, 4), check_size=(1, 4), sweep_fracs=(2.0,), check_fracs=(2.0,),
                      precisions=("fp32",), max_steps=300, eval_every=25, patience=2, tol=0.02,
                      vocab_sweep=(8, 32), seq_sweep=(8,), sweep_seeds=(0,), sweep_tol=0.02, longer_factors=(2.0,),
                      sweep_max_steps=300, tied_sweep=True, paper_point=False),
        "laptop": dict(),
        "paper": dict(vocab_size=2048, seq_len=64, sizes=tuple((l, d) for l in (1, 2, 4, 8) for d in (32, 64, 128, 256)),
                      fracs=(0.25, 0.5, 1.0, 1.5, 2.0, 4.0), seeds=(0, 1, 2, 3, 4), batch_size=2048, lr=1e-3,
                      max_steps=1_000_000, eval_every=1000,
                      tol=0.01,  # the ablation: a stricter plateau (or 4x the steps) stores 5-7% more at 1 x 12
                      bf16_fracs=(0.25, 0.5, 1.0, 1.5, 2.0, 4.0), bf16_seeds=(0, 1, 2, 3, 4),
                      vocab_sweep=(16, 64, 256, 2048), seq_sweep=(32, 64), sweep_max_steps=1_000_000, tied_sweep=True,
                      check_longer=False, paper_point=True, paper_point_max_steps=1_000_000),
    }
    vocab_size: int = 64  # V of the main grid
    seq_len: int = 16  # S of the main grid: a sequence holds S*log2(V) bits
    # (n_layer, d_model): 576-2.9K params (5x). Saturating a model costs ~params^2 of compute, so the span
    # starts small: at 1.5K-15K params (d_model 8-32) a grid trained for 40 min on a 2-core CPU, six shapes up to
    # 1 x 20 (6.7K) over 6 dataset sizes took about 17 min, and 1 x 16 (4.6K) alone took 3.3 of the 20
    sizes: tuple = ((1, 4), (1, 6), (1, 8), (1, 12))
    # dataset bits / (alpha_prior * params), fp32 grid: up to 3 x 2.5 = 7.5 bits/param of data, about twice the paper's
    # 3.83, meant to keep the largest dataset from capping capacity (a shape whose max sits at the largest size, or fills more
    # than 90% of its data, is flagged data-bound)
    # (0.25, 0.5 and 1.5 are left out at laptop, for time: 0.25 and 0.5 never set a capacity in the six-size
    # design, 1.5 sometimes did, so the max can miss the peak; the ablation's dense grid measures by how much)
    fracs: tuple = (1.0, 2.0, 3.0)
    bf16_fracs: tuple = (1.0, 2.0, 3.0)  # bf16 / fp32 compares fp32's max over these same sizes (all of them here)
    bf16_seeds: tuple = (0, 1)  # and the same seeds
    alpha_prior: float = 2.5  # bits/param used only to place dataset sizes around capacity
    seeds: tuple = (0, 1)  # model and data seeds
    precisions: tuple = ("fp32", "bf16")
    tied: bool = True  # tied input/output embeddings (GPT-2, the paper)
    lr: float = 1e-2  # beat 3e-3 and 5e-3 in capacity reached per second on this grid (measured)
    batch_size: int = 64
    max_steps: int = 20000
    eval_every: int = 100
    # Saturation rule (tested by the longer-training check on check_size, see notebook): constant LR until the memorized bits gained
    # less than tol (relative) over the last window_frac of all steps so far (and over >= patience
    # evaluations), then linear decay to 0 over decay_frac of the steps taken.
    patience: int = 6
    tol: float = 0.05
    window_frac: float = 0.5  # 0.5: "the second half of training so far added < tol"
    decay_frac: float = 0.25
    longer_factors: tuple = (2.0, 4.0)  # the check's ladder: the same runs on fixed schedules this many times as long
    # V values at fixed shape (sweep_size) and the grid's S: does alpha depend on V? V = 2048 at 1 x 8 alone took
    # 30 min of training here (its 2048-wide softmax), so `laptop` stops at 256 and the `paper` scale adds 2048
    vocab_sweep: tuple = (16, 64, 256)
    seq_sweep: tuple = (16, 32)  # S values at the grid's V and the same shape: does it depend on S?
    sweep_size: tuple = (1, 8)  # (n_layer, d_model) of the vocabulary and tied/untied sweeps
    check_size: tuple = (1, 8)  # (n_layer, d_model) of the longer-training ladder
    check_fracs: tuple = (2.0,)  # its dataset size: around capacity, and more than one batch (80 sequences at 1 x 8)
    # its seeds: one at laptop, for time (the grid's two seeds at 1 x 8 differ by 0.2-0.3% in capacity, a tenth of a
    # rung's gain)
    check_seeds: tuple = (0,)
    sweep_fracs: tuple = (1.0, 1.5)  # dataset sizes of the sweeps (capacity = max over them)
    sweep_seeds: tuple = (0, 1, 2)  # seeds of the vocabulary sweep: a verdict on V needs >= MIN_SEEDS_FOR_VERDICT
    sweep_tol: float = 0.01  # its plateau rule's tol: every cell trained to the same, stricter saturation criterion
    sweep_max_steps: int = 8000  # and the same cap (decay forced at 6,000; a run stopped there is "max_steps")
    tied_sweep: bool = False  # tied against untied embeddings at sweep_size (smoke and paper; off at laptop for time)
    check_longer: bool = True  # retrain check_size for longer_factor x the steps the rule took: does capacity rise?
    paper_point: bool = False  # train the paper's smallest model here; False: read its own stage's metrics file
    paper_point_fracs: tuple = (0.75, 1.5)  # dataset bits / the paper's capacity for it (339K bits)
    paper_point_max_steps: int = 100_000  # a GPU budget (~2.5 ms/step on an H100, ~170 ms on a 2-core CPU)
    paper_point_checkpoint_every: int = 2000  # checkpoints let the paper point resume across sessions
    paper_point_check_longer: bool = True  # also train it longer_factor x as long on a fixed schedule

    def validate(self):
        super().validate()
        check_number(self.vocab_size, "vocab_size", 2, integer=True)
        check_number(self.seq_len, "seq_len", 1, integer=True)
        check(len(self.sizes) >= 1 and all(len(s) == 2 and all(isinstance(v, int) and v >= 1 for v in s)
                                           for s in self.sizes),
              "sizes", self.sizes, "a non-empty list of [n_layer, d_model] pairs of positive integers")
        for name in ("fracs", "bf16_fracs", "sweep_fracs", "check_fracs", "paper_point_fracs"):
            v = getattr(self, name)
            check(len(v) >= 1 and all(isinstance(f, (int, float)) and f > 0 for f in v), name, v,
                  "a non-empty list of positive numbers")
        for name in ("seeds", "bf16_seeds", "sweep_seeds", "check_seeds"):
            v = getattr(self, name)
            check(len(v) >= 1 and all(isinstance(s, int) and s >= 0 for s in v), name, v,
                  "a non-empty list of integers >= 0")
        check(len(self.precisions) >= 1 and all(p in PRECISIONS for p in self.precisions), "precisions",
              self.precisions, f"a non-empty list drawn from {sorted(PRECISIONS)}")
        check(all(isinstance(v, int) and v >= 1 for v in self.seq_sweep), "seq_sweep", self.seq_sweep,
              "a list of integers >= 1")
        check(all(isinstance(v, int) and v >= 2 for v in self.vocab_sweep), "vocab_sweep", self.vocab_sweep,
              "a list of integers >= 2")
        for name in ("sweep_size", "check_size"):
            v = getattr(self, name)
            check(len(v) == 2 and all(isinstance(x, int) and x >= 1 for x in v), name, v,
                  "an [n_layer, d_model] pair of positive integers")
        check_number(self.alpha_prior, "alpha_prior", 0, lo_open=True)
        check_number(self.sweep_tol, "sweep_tol", 0, lo_open=True)
        check_number(self.sweep_max_steps, "sweep_max_steps", 1, integer=True)
        check(len(self.longer_factors) >= 1 and all(isinstance(f, (int, float)) and f > 1 for f in self.longer_factors),
              "longer_factors", self.longer_factors, "a non-empty list of numbers > 1 (multiples of the rule's steps)")
        check_number(self.paper_point_max_steps, "paper_point_max_steps", 1, integer=True)
        check_number(self.paper_point_checkpoint_every, "paper_point_checkpoint_every", 0, integer=True)
        self.train_config("fp32")  # validates the optimisation fields with their names

    def train_config(self, precision: str) -> TrainConfig:
        """The grid's optimisation and plateau rule in `precision`."""
        return TrainConfig(lr=self.lr, batch_size=self.batch_size, max_steps=self.max_steps,
                           eval_every=self.eval_every, patience=self.patience, tol=self.tol, window_frac=self.window_frac,
                           decay_frac=self.decay_frac, precision=precision, warmup=min(100, self.max_steps // 10))

    def runs(self, n_layer, d_model, vocab_size=None, seq_len=None, fracs=None, precision="fp32",
             seeds=None, tied=None, train=None) -> list[Run]:
        """Runs of one model shape over dataset sizes (placed by `fracs`) and seeds."""
        V, S = vocab_size or self.vocab_size, seq_len or self.seq_len
        m = GPTConfig(vocab_size=V, seq_len=S, n_layer=n_layer, d_model=d_model,
                      tied=self.tied if tied is None else tied)
        per_seq = S * math.log2(V)
        out = []
        for seed in seeds or self.seeds:
            for f in fracs or self.fracs:
                n = max(1, round(f * self.alpha_prior * n_params(m) / per_seq))
                out.append(Run(model=m, data=RandomTokens(V, S, n, seed), train=train or self.train_config(precision),
                               seed=seed))
        return out


    # --- the notebook's experiments, as lists of runs --------------------------------------
    def grid(self) -> list[Run]:
        """The main grid: every size over dataset sizes and seeds, in each precision."""
        out = []
        for L, d in self.sizes:
            for p in self.precisions:
                bf = p == "bf16"
                out += self.runs(L, d, precision=p, fracs=self.bf16_fracs if bf else self.fracs,
                                 seeds=self.bf16_seeds if bf else self.seeds)
        return out

    def check_runs(self) -> list[Run]:
        """The runs the longer-training ladder starts from: check_size over check_fracs, under the plateau rule."""
        return self.runs(*self.check_size, fracs=self.check_fracs, seeds=self.check_seeds)

    def longer_runs(self, steps: int, factor: float | None = None) -> list[Run]:
        """check_runs on a fixed schedule of `factor` (default: each of longer_factors) x `steps` (the steps the
        rule took): same warmup, constant LR, then the same linear decay over the last decay_frac."""
        out = []
        for f in (self.longer_factors if factor is None else (factor,)):
            tc = self.train_config("fp32").replace(stop="steps", max_steps=math.ceil(f * steps))
            out += self.runs(*self.check_size, fracs=self.check_fracs, seeds=self.check_seeds, train=tc)
        return out

    def notebook_runs(self, check: dict | None = None) -> list[Run]:
        """Every run notebook 01 trains here; the longer check's only with its result `check` (check_longer's),
        since their length is a multiple of the steps its base runs took."""
        out = self.grid() + self.vocab_runs() + self.tied_runs()
        return out + (self.check_runs() + self.longer_runs(check["steps"]) if check else [])

    def vocab_runs(self) -> list[Run]:
        """sweep_size over sweep_fracs at each V of vocab_sweep (the grid's S) and each S of seq_sweep (the grid's V)."""
        cells = [(V, self.seq_len) for V in self.vocab_sweep] + [(self.vocab_size, S) for S in self.seq_sweep]
        cells = list(dict.fromkeys(cells))  # the grid's (V, S) once
        tc = self.train_config("fp32").replace(tol=self.sweep_tol, max_steps=self.sweep_max_steps)
        return [r for V, S in cells for r in self.runs(*self.sweep_size, vocab_size=V, seq_len=S, fracs=self.sweep_fracs,
                                                       seeds=self.sweep_seeds, train=tc)]

    def tied_runs(self) -> list[Run]:
        """sweep_size over sweep_fracs, tied and untied; none unless tied_sweep."""
        if not self.tied_sweep:
            return []
        return [r for t in (True, False) for r in self.runs(*self.sweep_size, fracs=self.sweep_fracs, tied=t)]

    def paper_point_runs(self) -> list[Run]:
        """The paper's smallest model (1 x 32, V=2048, S=64), N placed around the paper's own 339K bits."""
        alpha_paper = PAPER_TABLE1[(1, 32)][1] / PAPER_TABLE1[(1, 32)][0]
        cfg = self.replace(alpha_prior=alpha_paper, max_steps=self.paper_point_max_steps)
        return cfg.runs(1, 32, vocab_size=2048, seq_len=64, fracs=self.paper_point_fracs, seeds=self.seeds[:1])

    def paper_point_longer_runs(self, steps: int) -> list[Run]:
        """The paper point on a fixed schedule of longer_factor x `steps`."""
        tc = self.replace(max_steps=self.paper_point_max_steps).train_config("fp32")
        return [r.replace(train=tc.replace(stop="steps", max_steps=math.ceil(self.longer_factors[0] * steps)))
                for r in self.paper_point_runs()]


def num(x) -> float | None:
    """x as a float, None where it is missing (a gain without an evaluation at half the steps)."""
    return None if x is None or pd.isna(x) else float(x)


def max_gain(col: pd.Series) -> float | None:
    """The largest of a column of gains, None where none was measured."""
    return num(pd.to_numeric(col, errors="coerce").max())


def table(runs: list[Run], results: list[dict]) -> pd.DataFrame:
    """One row per trained run: shape, data, memorized bits, training length."""
    rows = []
    for r, m in zip(runs, results):
        d = r.data
        rows.append(dict(n_layer=r.model.n_layer, d_model=r.model.d_model, vocab_size=d.vocab_size,
                         seq_len=d.seq_len, tied=r.model.tied, precision=r.train.precision, seed=r.seed,
                         n_params=m["n_params"], n_seqs=d.n_seqs, dataset_bits=d.n_seqs * d.seq_len * math.log2(d.vocab_size),
                         memorized_bits=m["final"]["memorized_bits"], steps=m["steps"], saturated=m["saturated"],
                         history=[(h["step"], h["memorized_bits"]) for h in m["history"]],
                         stop_reason=m["stop_reason"], gain_last_doubling=m["gain_last_doubling"],
                         wall_s=m.get("wall_s", m["stack_wall_s"]), device=m.get("device", "unrecorded"),
                         decay_start=m["decay_start"],
                         max_steps=r.train.max_steps, tol=r.train.tol, patience=r.train.patience,
                         window_frac=r.train.window_frac, decay_frac=r.train.decay_frac))
    return pd.DataFrame(rows)


def run_table(cfg: Experiment, runs: list[Run], **kw) -> pd.DataFrame:
    """Train (or load) `runs` with cfg's run settings and tabulate them."""
    return table(runs, cfg.train(runs, capacity_monitor, **kw))


def tied_comparison(cfg: CapacityConfig) -> pd.DataFrame | None:
    """Capacities of cfg.tied_runs(), tied beside untied; None when the scale leaves the sweep out (tied_sweep)."""
    return capacities(run_table(cfg, cfg.tied_runs())) if cfg.tied_sweep else None


def capacities(df: pd.DataFrame) -> pd.DataFrame:
    """Capacity of each (shape, V, S, tied, precision, seed): the maximum memorized bits over N."""
    keys = ["n_layer", "d_model", "vocab_size", "seq_len", "tied", "precision", "seed", "n_params"]
    g = df.groupby(keys, as_index=False)
    out = g.agg(capacity_bits=("memorized_bits", "max"), all_saturated=("saturated", "all"))
    best = df.loc[df.groupby(keys).memorized_bits.idxmax()]
    best = best.assign(fill_at_max=best.memorized_bits / best.dataset_bits)[
        keys + ["gain_last_doubling", "stop_reason", "saturated", "fill_at_max"]]
    out = out.merge(best.rename(columns={"gain_last_doubling": "gain_at_max", "stop_reason": "stop_reason_at_max",
                                         "saturated": "saturated_at_max"}), on=keys)
    out["bits_per_param"] = out.capacity_bits / out.n_params
    return out


def fit_alpha(cap: pd.DataFrame) -> dict:
    """Least-squares slope of capacity on params, through the origin and with an intercept."""
    x, y = cap.n_params.to_numpy(float), cap.capacity_bits.to_numpy(float)
    alpha0 = float(x @ y / (x @ x))
    r2 = lambda pred: float(1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()) if len(y) > 1 else float("nan")
    slope, icpt = (np.polyfit(x, y, 1) if len(set(x)) > 1 else (float("nan"), float("nan")))
    per_seed = [float(s.n_params @ s.capacity_bits / (s.n_params @ s.n_params)) for _, s in cap.groupby("seed")]
    return {"alpha": alpha0, "r2": r2(alpha0 * x), "alpha_with_intercept": float(slope),
            "intercept_bits": float(icpt), "r2_with_intercept": r2(slope * x + icpt),
            "alpha_per_seed": per_seed, "alpha_seed_std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0}


def _cluster_draws(cap: pd.DataFrame, n_boot: int, seed: int, shapes: bool = True) -> list[np.ndarray]:
    """Row indices of `n_boot` bootstrap draws of `capacities` rows: shapes drawn with replacement, then seeds within
    each drawn shape (a two-stage cluster bootstrap); shapes=False keeps every shape once and redraws only seeds
    (the measurement noise of this fixed grid of shapes)."""
    rng = np.random.default_rng(seed)
    groups = [g.index.to_numpy() for _, g in cap.reset_index(drop=True).groupby(["n_layer", "d_model", "vocab_size",
                                                                                   "seq_len", "tied"])]
    out = []
    for _ in range(n_boot):
        picked = [groups[k] for k in rng.integers(0, len(groups), len(groups))] if shapes else groups
        out.append(np.concatenate([rng.choice(g, len(g)) for g in picked]))
    return out


def _slope(x, y) -> float:
    return float(x @ y / (x @ x))


def bootstrap_alpha(cap: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """α two ways, as the paper's Table 1 gives them: the least-squares slope through the origin of capacity on
    parameters, and the mean of capacity / params over models. Each with two 95% percentile intervals: a two-stage
    cluster bootstrap (shapes, then seeds within shape: how much the grid of shapes chosen moves it, the wider) and
    a seed-only one over this fixed grid (measurement noise). The mean is over this grid's shapes, not the paper's."""
    cap = cap.reset_index(drop=True)
    x, y = cap.n_params.to_numpy(float), cap.capacity_bits.to_numpy(float)
    check(len(x) >= 2, "capacities", len(x), "at least 2 models for an interval")
    q = [(1 - level) / 2, (1 + level) / 2]
    out = {"slope": _slope(x, y), "mean": float((y / x).mean()), "n_models": int(len(x)),
           "n_shapes": int(cap.groupby(["n_layer", "d_model", "vocab_size", "seq_len", "tied"]).ngroups),
           "n_boot": n_boot, "level": level}
    for tag, shapes in (("", True), ("_seeds", False)):
        draws = _cluster_draws(cap, n_boot, seed, shapes)
        slopes = [_slope(x[d], y[d]) for d in draws]
        means = [float((y[d] / x[d]).mean()) for d in draws]
        (out[f"slope_ci_low{tag}"], out[f"slope_ci_high{tag}"]) = map(float, np.quantile(slopes, q))
        (out[f"mean_ci_low{tag}"], out[f"mean_ci_high{tag}"]) = map(float, np.quantile(means, q))
    out["ci_low"], out["ci_high"] = out["slope_ci_low"], out["slope_ci_high"]  # α is the slope
    out["noise_only"] = True  # these intervals resample shapes and seeds: under-training bias (one-sided) is not in them
    return out


def matched_capacities(df: pd.DataFrame) -> pd.DataFrame:
    """`capacities` over only the runs whose shape, seed and dataset size were trained in both fp32 and bf16: each
    precision's maximum over the same dataset sizes (bf16 trains fewer of them), for `precision_ratio`."""
    keys = ["n_layer", "d_model", "vocab_size", "seq_len", "tied", "seed", "n_seqs"]
    both = df.groupby(keys).precision.transform(lambda p: {"fp32", "bf16"} <= set(p))
    return capacities(df[both])


def precision_ratio(cap: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict | None:
    """bf16 capacity / fp32 capacity on the same shapes, dataset sizes and seeds (pairs of `capacities` rows): the
    ratio of the two slopes (the paper's Table 1: `paper_targets()["bf16_fp32_slope_ratio"]`) and the mean of the
    pairs' ratios, with a cluster bootstrap over shapes, then pairs within shape; None without two pairs."""
    keys = ["n_layer", "d_model", "vocab_size", "seq_len", "tied", "seed"]
    p = cap.pivot_table(index=keys, columns="precision", values="capacity_bits")
    if not {"fp32", "bf16"} <= set(p.columns):
        return None
    p = p.dropna().reset_index().merge(cap[keys + ["n_params"]].drop_duplicates(), on=keys)
    if len(p) < 2:
        return None
    x, a, b = p.n_params.to_numpy(float), p.fp32.to_numpy(float), p.bf16.to_numpy(float)
    draws = _cluster_draws(p, n_boot, seed)
    slope = [(x[d] * b[d]).sum() / (x[d] * a[d]).sum() for d in draws]  # slope(bf16) / slope(fp32), same x
    mean = [float((b[d] / a[d]).mean()) for d in draws]
    q = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = np.quantile(slope, q)
    mlo, mhi = np.quantile(mean, q)
    return {"ratio": float((x @ b) / (x @ a)), "ci_low": float(lo), "ci_high": float(hi),
            "mean_ratio": float((b / a).mean()), "mean_ratio_ci_low": float(mlo), "mean_ratio_ci_high": float(mhi),
            "n_pairs": int(len(x)), "level": level}


def param_split(model: GPTConfig) -> tuple[int, int]:
    """(embedding parameters: token table with its BOS row, position table and an untied head; all the others)."""
    d = model.d_model
    emb = (model.vocab_size + 1) * d + model.seq_len * d + (0 if model.tied else model.vocab_size * d)
    return emb, n_params(model) - emb


def fit_capacity_split(cap: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """capacity = a_emb * embedding params + a_rest * other params, least squares over `capacities` rows (the grid
    varies d_model at one V; the vocabulary sweep varies V at one d_model, so both coefficients are identified),
    with cluster-bootstrap 95% intervals (shapes, then seeds). Predicts a model's capacity from its own split
    (`predicted_capacity`), where one α would carry the grid's mix of embeddings to models that have another."""
    cap = cap.reset_index(drop=True)
    split = np.array([param_split(GPTConfig(vocab_size=int(r.vocab_size), seq_len=int(r.seq_len), n_layer=int(r.n_layer),
                                            d_model=int(r.d_model), tied=bool(r.tied))) for r in cap.itertuples()], float)
    y = cap.capacity_bits.to_numpy(float)
    check(np.linalg.matrix_rank(split) == 2, "capacities", "one embedding share",
          "shapes whose embedding share differs (the grid and the vocabulary sweep together)")
    coef = lambda i: np.linalg.lstsq(split[i], y[i], rcond=None)[0]
    a = coef(np.arange(len(y)))
    boot = np.array([coef(d) for d in _cluster_draws(cap, n_boot, seed)
                     if np.linalg.matrix_rank(split[d]) == 2])
    lo, hi = np.quantile(boot, [0.025, 0.975], axis=0)
    pred = split @ a
    return {"bits_per_embedding_param": float(a[0]), "bits_per_other_param": float(a[1]),
            "emb_ci_low": float(lo[0]), "emb_ci_high": float(hi[0]), "other_ci_low": float(lo[1]), "other_ci_high": float(hi[1]),
            "max_rel_residual": float(np.max(np.abs(pred / y - 1))), "n_models": int(len(y)), "n_boot_used": int(len(boot))}


def predicted_capacity(model: GPTConfig, fit: dict) -> float:
    """Capacity (bits) of `model` from `fit_capacity_split`'s coefficients and the model's own parameter split."""
    emb, rest = param_split(model)
    return fit["bits_per_embedding_param"] * emb + fit["bits_per_other_param"] * rest


def paper_targets() -> dict:
    """The paper's numbers on our estimators' footing, computed from its Table 1 (targets, never results): the slope
    through the origin per precision, the mean bits/param, and bf16/fp32 as a ratio of slopes and a mean of ratios.
    Its headline 3.6 is close to the bf16 slope; the fp32 slope is 3.9."""
    t = pd.DataFrame([dict(n_layer=L, d_model=d, vocab_size=2048, seq_len=64, tied=True, seed=0, precision=prec,
                           n_params=v[0], capacity_bits=v[1 if prec == "fp32" else 2])
                      for (L, d), v in PAPER_TABLE1.items() for prec in ("fp32", "bf16")])
    x32 = t[t.precision == "fp32"]
    x16 = t[t.precision == "bf16"]
    r = precision_ratio(t, n_boot=2)
    one = {}  # Table 1's one-layer row: the depth of every model of our grid
    for prec, x in (("fp32", x32), ("bf16", x16)):
        x1 = x[x.n_layer == 1]
        one[f"slope_{prec}_1layer"] = _slope(x1.n_params.to_numpy(float), x1.capacity_bits.to_numpy(float))
        one[f"mean_{prec}_1layer"] = float((x1.capacity_bits / x1.n_params).mean())
    return {"slope_fp32": _slope(x32.n_params.to_numpy(float), x32.capacity_bits.to_numpy(float)),
            "slope_bf16": _slope(x16.n_params.to_numpy(float), x16.capacity_bits.to_numpy(float)),
            "mean_fp32": float((x32.capacity_bits / x32.n_params).mean()),
            "mean_bf16": float((x16.capacity_bits / x16.n_params).mean()),
            **one, "bf16_fp32_slope_ratio": r["ratio"], "bf16_fp32_mean_ratio": r["mean_ratio"],
            "stated": dict(PAPER_BITS_PER_PARAM)}


def moving(gain) -> bool:
    """A run's score still moved over its last doubling of steps (|gain| >= SATURATION_GAIN, or no gain measured):
    rising, it had not saturated; falling, its maximum came earlier and its end is no plateau either."""
    return gain is None or pd.isna(gain) or abs(float(gain)) >= SATURATION_GAIN


def saturation(df: pd.DataFrame, cap: pd.DataFrame) -> list[dict]:
    """Per shape and precision: steps taken, capacity (mean over seeds), and whether it is a measured plateau.
    A shape's capacity is a lower bound when any of its runs at the dataset size that set a seed's maximum or at a
    larger one was still moving over its last doubling of steps (`moving`): the maximum over N may sit on a run
    that had not finished, or a larger N might still climb past it. It is data-bound when a seed's maximum sits at
    the largest dataset trained or fills more than 90% of its dataset's bits: more data could show more."""
    out = []
    keys = ["n_layer", "d_model", "vocab_size", "seq_len", "tied", "precision"]
    for k, g in df.groupby(keys):
        c = cap.merge(pd.DataFrame([dict(zip(keys, k))]), on=keys)
        at_or_above, at_largest = [], False
        for _, gs in g.groupby("seed"):
            n_max = gs.loc[gs.memorized_bits.idxmax(), "n_seqs"]
            at_or_above.append(gs[gs.n_seqs >= n_max])
            at_largest |= bool(n_max == gs.n_seqs.max())
        tail = pd.concat(at_or_above)
        out.append({**{n: (v.item() if hasattr(v, "item") else v) for n, v in zip(keys, k)},
                    "n_params": int(g.n_params.iloc[0]), "n_runs": int(len(g)),
                    "steps_median": float(g.steps.median()), "steps_max": int(g.steps.max()),
                    "capacity_bits": float(c.capacity_bits.mean()),
                    "gain_last_doubling": max_gain(c.gain_at_max),
                    "max_abs_gain_at_or_above": max_gain(tail.gain_last_doubling.abs()),
                    "saturated": not any(moving(x) for x in tail.gain_last_doubling),
                    "fill_at_max": float(c.fill_at_max.max()),
                    "data_bound": bool(at_largest or (c.fill_at_max > 0.9).any()),
                    "n_unsaturated_runs": int(sum(moving(x) for x in g.gain_last_doubling))})
    return out


def lower_bound(df: pd.DataFrame, cap: pd.DataFrame, precision: str = "fp32") -> bool:
    """Whether α in `precision` is a lower bound: a shape of the grid not at a measured plateau (`saturation`)."""
    rows = [r for r in saturation(df, cap) if r["precision"] == precision]
    return any(not r["saturated"] or r["data_bound"] for r in rows)


def _dependence(cells: dict, along: int, ref, n_boot: int, rng, tol: float) -> dict | None:
    """Largest |bits/param(cell) / bits/param(reference cell) - 1| over `cells` ({(V, S): per-seed values}) when the
    key entry `along` (0: V, 1: S) moves and the other stays, with a seed bootstrap; the verdict against `tol`."""
    pairs = [(k, tuple(ref if i == along else k[i] for i in range(2))) for k in cells]
    pairs = [(k, r) for k, r in pairs if r in cells and r != k]
    if not pairs:
        return None
    point = max(abs(np.mean(cells[k]) / np.mean(cells[r]) - 1) for k, r in pairs)
    draw = lambda v: rng.choice(v, len(v)).mean()
    boot = [max(abs(draw(cells[k]) / draw(cells[r]) - 1) for k, r in pairs) for _ in range(n_boot)]
    lo, hi = np.quantile(boot, [0.025, 0.975])
    verdict = "agrees" if hi <= tol else "disagrees" if lo > tol else "not settled at this scale"
    return {"reference": ref, "max_abs_change": float(point), "ci_low": float(lo), "ci_high": float(hi),
            "verdict": verdict}


MIN_SEEDS_FOR_VERDICT = 3  # a verdict on the V or S dependence needs at least this many seeds per (V, S) cell


def vocab_dependence(vocab: pd.DataFrame, ref_vocab: int, ref_seq: int, n_boot: int = 1000, seed: int = 0,
                     tol: float = 0.03) -> dict | None:
    """Does bits/param depend on V (or S) at the sweep's shape? Per (V, S) cell the mean over seeds; the largest
    change from the reference V (and S) over the sweep with a seed-bootstrap interval; "agrees" with the paper
    (V and S moved its predictions by ~2-3%: `tol`) when the whole interval is within tol, "disagrees" when it is
    beyond, else "not settled at this scale", which is also the verdict whenever a capacity-setting run of the
    sweep was still gaining or filled > 90% of its dataset's bits (then the data, not the model, may bound it), and
    whenever a cell has fewer than MIN_SEEDS_FOR_VERDICT seeds. The statistic is not the paper's: its 2-3% is how
    much V and S moved its fitted predictions of memorized bits, not a bound on the change of bits/param."""
    if vocab is None or len(vocab) == 0:
        return None
    cells = {k: g.bits_per_param.to_numpy(float) for k, g in vocab.groupby(["vocab_size", "seq_len"])}
    vs, ss = sorted({k[0] for k in cells}), sorted({k[1] for k in cells})
    ref_v = ref_vocab if ref_vocab in vs else vs[0]
    ref_s = ref_seq if ref_seq in ss else ss[0]
    rng = np.random.default_rng(seed)
    # the grid's |gain| >= 1% test (`moving`), but on the capacity-setting run of each cell only (the saturation
    # table also looks at larger-N runs and at a maximum on the largest dataset), or a fill above 90%
    doubt = any(moving(g) for g in vocab.gain_at_max) or bool((vocab.fill_at_max > 0.9).any())
    out = {"cells": [{"vocab_size": int(k[0]), "seq_len": int(k[1]), "bits_per_param": float(v.mean()),
                      "seed_min": float(v.min()), "seed_max": float(v.max()), "n": int(len(v))}
                     for k, v in sorted(cells.items())],
           "tolerance": tol, "all_saturated": not any(moving(g) for g in vocab.gain_at_max),
           "max_fill_at_max": float(vocab.fill_at_max.max())}
    few = min(len(v) for v in cells.values()) < MIN_SEEDS_FOR_VERDICT
    out["min_seeds"] = int(min(len(v) for v in cells.values()))
    for name, along, ref in (("vocab", 0, ref_v), ("seq_len", 1, ref_s)):
        d = _dependence(cells, along, ref, n_boot, rng, tol)
        if d and (doubt or few):
            d["verdict"] = "not settled at this scale"
            d["why"] = "; ".join(w for w, on in (
                ("a capacity-setting run was still moving or filled > 90% of its data", doubt),
                (f"fewer than {MIN_SEEDS_FOR_VERDICT} seeds per cell (a bootstrap of {out['min_seeds']} cannot bound "
                 "the seed spread)", few)) if on)
        out[name] = d
    return out


def paper_comparison(cap: pd.DataFrame) -> pd.DataFrame:
    """Our capacities beside Table 1 where the shape matches, else beside the paper's mean bits/param."""
    rows = []
    for (L, d, V, S, prec), g in cap.groupby(["n_layer", "d_model", "vocab_size", "seq_len", "precision"]):
        ours = g.capacity_bits.mean()
        paper = PAPER_TABLE1.get((L, d)) if (V, S) == (2048, 64) else None
        rows.append(dict(n_layer=L, d_model=d, vocab_size=V, seq_len=S, precision=prec, n_params=int(g.n_params.iloc[0]),
                         capacity_bits=ours, bits_per_param=ours / g.n_params.iloc[0],
                         paper_capacity_bits=(paper[1] if prec == "fp32" else paper[2]) if paper else None,
                         paper_bits_per_param=PAPER_BITS_PER_PARAM[prec]))
    return pd.DataFrame(rows)


def paper_point(df: pd.DataFrame) -> dict:
    """Capacity of the paper's smallest model as we measured it, with the training time."""
    c = capacities(df).iloc[0]
    return {"n_params": int(c.n_params), "vocab_size": int(c.vocab_size), "seq_len": int(c.seq_len),
            "capacity_bits": float(c.capacity_bits), "bits_per_param": float(c.bits_per_param),
            "saturated": bool(c.saturated_at_max), "gain_last_doubling": num(c.gain_at_max),
            "stop_reason": str(c.stop_reason_at_max), "wall_s": float(df.wall_s.max()), "device": str(df.device.iloc[0]),
            "steps": int(df.steps.max()), "max_steps": int(df.max_steps.max()), "decay_start": int(df.decay_start.max()),
            "plateau_rule": {k: df[k].iloc[0].item() for k in ("tol", "patience", "window_frac", "decay_frac")},
            "paper_capacity_bits": PAPER_TABLE1[(1, 32)][1], "paper_bits_per_param": PAPER_TABLE1[(1, 32)][1] / PAPER_TABLE1[(1, 32)][0]}


def longer_gain(base: pd.DataFrame, longer: pd.DataFrame) -> dict:
    """Capacity (mean over seeds of the max over N) under the plateau rule and when trained longer."""
    cap = lambda df: float(df.groupby("seed").memorized_bits.max().mean())
    out = {"capacity_bits": cap(base), "capacity_bits_longer": cap(longer),
           "steps": int(base.steps.max()), "steps_longer": int(longer.steps.max()),
           "base_saturated": bool(base.saturated.all()),  # did every base run gain < 1% over its last doubling?
           "base_max_gain_last_doubling": max_gain(base.gain_last_doubling)}
    out["relative_gain"] = out["capacity_bits_longer"] / out["capacity_bits"] - 1
    return out


def check_longer(cfg: CapacityConfig) -> dict | None:
    """Capacity against training length: check_runs under the plateau rule (T steps), then on fixed schedules of
    each longer_factors x T (each with its own final decay). Returns the first rung's `longer_gain` keys, the
    `ladder` (factor, steps, capacity per rung), the gain per doubling between successive rungs, and whether the
    last doubling gained < 1% (`engine.stopping.SATURATION_GAIN`: then capacity at this shape has saturated in
    training length; else the longest rung is a lower bound). None when cfg.check_longer is off."""
    if not cfg.check_longer:
        return None
    base = run_table(cfg, cfg.check_runs())
    T = int(base.steps.max())
    rungs = [(1.0, base)] + [(f, run_table(cfg, cfg.longer_runs(T, f))) for f in cfg.longer_factors]
    out = longer_gain(base, rungs[1][1])
    cap = lambda df: float(df.groupby("seed").memorized_bits.max().mean())
    out["ladder"] = [{"factor": f, "steps": int(df.steps.max()), "capacity_bits": cap(df)} for f, df in rungs]
    out["gain_per_doubling"] = [(b["capacity_bits"] / a["capacity_bits"] - 1) / math.log2(b["factor"] / a["factor"])
                                for a, b in zip(out["ladder"], out["ladder"][1:])]
    out["total_gain"] = out["ladder"][-1]["capacity_bits"] / out["ladder"][0]["capacity_bits"] - 1  # T to the longest rung
    out["length_saturated"] = bool(abs(out["gain_per_doubling"][-1]) < SATURATION_GAIN)
    out["shape"] = list(cfg.check_size)
    out["dataset_fracs"] = list(cfg.check_fracs)
    out["seeds"] = list(cfg.check_seeds)
    return out


def alpha_intervals(cfg: CapacityConfig, caps: pd.DataFrame) -> pd.DataFrame:
    """`bootstrap_alpha` of each of cfg's precisions, one row each: slope and mean bits/param with 95% intervals."""
    return pd.DataFrame({p: bootstrap_alpha(caps[caps.precision == p]) for p in cfg.precisions
                         if (caps.precision == p).sum() > 1}).T


def fit_alphas(cfg: CapacityConfig, caps: pd.DataFrame) -> dict:
    """`fit_alpha` of each of cfg's precisions: precision -> fit."""
    return {p: fit_alpha(caps[caps.precision == p]) for p in cfg.precisions}


@dataclass
class CapacityResult:
    """What notebook 01 measured, for `summarize`."""

    grid: pd.DataFrame  # run_table of cfg.grid(): one row per run
    capacities: pd.DataFrame  # capacities(grid): one row per (shape, precision, seed)
    fits: dict  # fit_alphas(cfg, capacities)
    vocab: pd.DataFrame  # capacities of cfg.vocab_runs()
    tied: pd.DataFrame | None  # tied_comparison(cfg): None where the scale leaves the tied/untied sweep out
    check_longer: dict | None  # check_longer(cfg)
    paper_point: dict | None  # paper_point_result(cfg)
    ablation: dict | None = None  # the ablation stage's metrics at this scale (memlib.ablation.result)


def _split_or_none(cap: pd.DataFrame) -> dict | None:
    try:
        return fit_capacity_split(cap)
    except ConfigError:  # one embedding share only (a single V and a fixed mix): nothing to separate
        return None


def summarize(cfg: CapacityConfig, res: CapacityResult) -> dict:
    """The notebook's metrics: fitted alpha per precision, every model's capacity, the side studies."""
    df, fits = res.grid, res.fits
    get = lambda p, k: fits[p][k] if p in fits else None
    caps32, caps16 = (res.capacities[res.capacities.precision == p] for p in ("fp32", "bf16"))
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "vocab_size": cfg.vocab_size, "seq_len": cfg.seq_len,
        "bits_per_param_fp32": get("fp32", "alpha"), "bits_per_param_bf16": get("bf16", "alpha"),
        "fit_r2_fp32": get("fp32", "r2"), "fits": fits,
        "all_saturated": bool(df.saturated.all()), "n_runs": int(len(df)),
        "n_unsaturated": int(len(df) - df.saturated.astype(bool).sum()),  # grid runs that gained >= 1% over their last doubling
        # alpha is a lower bound when a run that holds a model's capacity (its max over N) was still gaining
        "n_capacity_runs_unsaturated": int((~res.capacities.saturated_at_max.astype(bool)).sum()),
        "max_gain_at_capacity": max_gain(res.capacities.gain_at_max),
        # training time of every run this notebook used, from an empty run store
        "training": {"wall_s": cfg.training_seconds(cfg.notebook_runs(res.check_longer))},
        "models": [{"n_params": int(r.n_params), "n_layer": int(r.n_layer), "d_model": int(r.d_model),
                    "precision": r.precision, "seed": int(r.seed), "capacity_bits": float(r.capacity_bits),
                    "saturated": bool(r.saturated_at_max), "gain_last_doubling": num(r.gain_at_max),
                    "stop_reason": r.stop_reason_at_max} for r in res.capacities.itertuples()],
        "check_longer": res.check_longer,
        # intervals: slope against the paper's 3.6 slope, mean against its 3.83 / 3.51 means (bootstrap over models)
        "paper_targets": paper_targets(),  # Table 1 on our estimators: compare slope with slope, mean with mean
        "alpha_fp32": bootstrap_alpha(caps32) if len(caps32) > 1 else None,
        "alpha_bf16": bootstrap_alpha(caps16) if len(caps16) > 1 else None,
        # same shapes, dataset sizes and seeds: fp32's max over bf16's dataset sizes only
        "bf16_fp32_ratio": precision_ratio(matched_capacities(df)),
        "saturation": saturation(df, res.capacities),
        "vocab": [{"vocab_size": int(r.vocab_size), "seq_len": int(r.seq_len), "seed": int(r.seed),
                   "n_params": int(r.n_params), "bits_per_param": float(r.bits_per_param),
                   "gain_last_doubling": num(r.gain_at_max), "saturated": bool(r.saturated_at_max)}
                  for r in res.vocab.itertuples()],
        "vocab_dependence": vocab_dependence(res.vocab, cfg.vocab_size, cfg.seq_len),
        # embeddings and the rest priced apart, from the fp32 grid and the vocabulary sweep together
        "capacity_split": _split_or_none(pd.concat([caps32, res.vocab])),
        "tied_vs_untied": [{"tied": bool(r.tied), "n_params": int(r.n_params),
                            "bits_per_param": float(r.bits_per_param)} for r in res.tied.itertuples()] if res.tied is not None else None,
        "paper_point": res.paper_point,
        # the ablation stage's rows (metrics/01_capacity_ablation.json; its own training time is there)
        "ablation": res.ablation["ablation"] if res.ablation else None,
        "paper": {"bits_per_param_fp32": PAPER_BITS_PER_PARAM["fp32"], "bits_per_param_bf16": PAPER_BITS_PER_PARAM["bf16"],
                  "headline": PAPER_BITS_PER_PARAM["headline"]},
    }


def paper_point_result(cfg: CapacityConfig) -> dict | None:
    """The paper's smallest model: trained here if cfg.paper_point, else the result its own pipeline
    stage wrote (metrics/01_capacity_paper_point.json; too slow for the laptop budget), else None."""
    if cfg.paper_point:
        kw = dict(checkpoint_every=cfg.paper_point_checkpoint_every)
        df = run_table(cfg, cfg.paper_point_runs(), **kw)
        out = paper_point(df)
        if cfg.paper_point_check_longer:
            longer = run_table(cfg, cfg.paper_point_longer_runs(int(df.steps.max())), **kw)
            out["longer"] = {**longer_gain(df, longer), "wall_s": float(longer.wall_s.max()),
                             "device": str(longer.device.iloc[0])}
        return out
    return _no_old_saturation(read_metrics("01_capacity_paper_point"))


def _no_old_saturation(pp: dict | None) -> dict | None:
    """A paper point trained before runs recorded their gain over the last doubling of steps: its `saturated` then
    meant only that the plateau rule fired, so it is unknown (None) on today's meaning (gain < 1%)."""
    if not pp or pp.get("gain_last_doubling") is not None:
        return pp
    out = dict(pp, saturated=None)
    if out.get("longer"):
        out["longer"] = dict(out["longer"], base_saturated=None)
    return out


def require_cuda_for_paper_point() -> None:
    """The paper point is GPU work (100,000 steps at batch 2048: ~20 h on a 2-core CPU). Without CUDA it stops
    at once, naming how to run it, unless $MEMLIB_PAPER_POINT_CPU=1 asks for the CPU on purpose."""
    import torch
    if torch.cuda.is_available() or os.environ.get("MEMLIB_PAPER_POINT_CPU") == "1":
        return
    last = read_metrics("01_capacity_paper_point") or {}
    gpu_s = float(last.get("wall_s", 0)) + float(last.get("longer", {}).get("wall_s", 0))
    raise SystemExit(
        "capacity_paper_point needs CUDA: it trains the paper's smallest model (80K params, V=2048, S=64, batch 2048) "
        "for up to 100,000 steps, " + (f"about {gpu_s / 60:.0f} min on one {last['device']} (the committed run), "
                                       if gpu_s else "minutes on one GPU, ") +
        "about 20 hours on a 2-core CPU. On a GPU machine: `make paper-point` (this command, then `dvc commit` of the "
        "stage; it is frozen in dvc.yaml, so `dvc repro` anywhere keeps its committed result). On this CPU anyway: "
        "MEMLIB_PAPER_POINT_CPU=1 python -m memlib.capacity paper-point laptop.")


if __name__ == "__main__":  # python -m memlib.capacity paper-point [scale]: notebook 01's GPU stage
    import sys
    check(len(sys.argv) >= 2 and sys.argv[1] == "paper-point", "command", sys.argv[1:], "'paper-point [scale]'")
    require_cuda_for_paper_point()
    scale = sys.argv[2] if len(sys.argv) > 2 else "laptop"
    write_metrics("01_capacity_paper_point", paper_point_result(CapacityConfig.from_params(scale, paper_point=True)))

"""Grokking on modular addition, and whether it starts where capacity runs out.

Power et al. 2022 and Nanda et al. 2023 (REFERENCE.md §2): a small transformer trained full-batch
with AdamW and weight decay on a + b mod p first fits its training pairs, then, much later,
generalizes. Morris et al. 2025 explain the onset by capacity: a model generalizes once its
training set holds more bits (N_train * log2 p) than it can store (alpha * params).

The test is made within each width: for each width the smallest training-set size N* from which it generalizes
(test accuracy >= 99% held for 10 evaluations) within a budget, per seed on a fixed grid, censored where the grid
ends (`onset`); then the slope of log(N* bits) on log(params) (`onset_fit`): the hypothesis predicts 1.
Every weight-decay run stops once it has generalized (TrainConfig(stop="target")), at a constant learning rate,
so its history up to B/2 is what a budget of B/2 would have given: N* at B/2 tells whether N* at B is
set by the budget.

Each example is the token sequence [a, b, =] and the label c = (a + b) mod p, predicted at "=";
"=" is the GPT's BOS id (p), so the model is memlib's GPT with vocab_size = p and seq_len = 3.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from memlib import models
from memlib.config import Config, check, check_number
from memlib.experiment import Experiment, stop_summary
from memlib.capacity import measured_alpha
from memlib.engine import Run, TrainConfig
from memlib.models import GPTConfig, class_nats
from memlib.engine.stopping import SATURATION_GAIN
from memlib.onset import NOT_SETTLED, bracket, finite_slope_limit, onset_verdict, open_upper, slope_interval, width_onset


@dataclass(frozen=True)
class GrokGPTConfig(GPTConfig):
    """memlib's GPT, scored only on its prediction at the last position ("=")."""

    vocab_size: int = 59
    seq_len: int = 3


models.REGISTRY[GrokGPTConfig] = models.GPT
models.STACKED[GrokGPTConfig] = models.gpt_stacked
models.EXAMPLE_NATS[GrokGPTConfig] = lambda logits, y: class_nats(logits[..., -1, :], y)


@dataclass(frozen=True)
class ModularAddition(Config):
    """The training pairs of a + b mod p: the first n_train of a seeded permutation of all p^2 pairs."""

    p: int = 59
    n_train: int = 1392
    split_seed: int = 0

    def validate(self):
        check_number(self.p, "p", 2, integer=True)
        check_number(self.n_train, "n_train", 1, self.p * self.p, integer=True)
        check_number(self.split_seed, "split_seed", 0, integer=True)

    def max_train(self) -> int:
        """The most training pairs a split can have and still test on one: p^2 - 1."""
        return self.p * self.p - 1

    def check_model(self, model):
        check(getattr(model, "vocab_size", None) == self.p, "vocab_size", getattr(model, "vocab_size", None),
              f"p = {self.p}")

    def source(self):
        return ("modular_addition", self.p)

    def order(self) -> torch.Tensor:
        return torch.from_numpy(np.random.Generator(np.random.Philox(key=[self.split_seed, self.p]))
                                .permutation(self.p * self.p))

    def indices(self):
        return self.order()[: self.n_train]

    def test_indices(self):
        return self.order()[self.n_train:]

    def load_pool(self, n: int):
        """All p^2 pairs (row a*p + b): inputs [a, b, =] and labels (a + b) mod p.

        The whole table, whatever n: the monitor scores each model on the pairs it did not train on.
        """
        a, b = torch.meshgrid(torch.arange(self.p), torch.arange(self.p), indexing="ij")
        a, b = a.flatten(), b.flatten()
        x = torch.stack([a, b, torch.full_like(a, self.p)], 1)
        return x, (a + b) % self.p


@dataclass(frozen=True)
class RandomLabels(ModularAddition):
    """The same pairs and splits with a label drawn uniformly from 0..p-1 for every pair, once per table (label_seed,
    the same whatever the split): there is no function to learn, so what a model holds about its training pairs is
    what it can store. Its own data type, so these runs never share a stack (or a test set) with a + b mod p."""

    label_seed: int = 0

    def validate(self):
        super().validate()
        check_number(self.label_seed, "label_seed", 0, integer=True)

    def source(self):
        return ("modular_random_labels", self.p, self.label_seed)

    def load_pool(self, n: int):
        x, _ = super().load_pool(n)
        gen = np.random.default_rng([self.label_seed, self.p, 1])  # a stream apart from the split's
        return x, torch.from_numpy(gen.integers(0, self.p, self.p * self.p))


def monitor(stack) -> dict:
    """Train/test accuracy and loss, the training set's code length, memorized bits, and the weight norms.

    mem_bits: notebook 01's clipped estimator on the training pairs, sum of max(0, log2 p - code length) bits;
    heldout_known_bits: its mean over the held-out pairs (what the model knows of a pair it never saw);
    decayed_norm / undecayed_norm: the L2 norm of the tensors AdamW decays (`Stack.decay`: matrices and
    embeddings) / of the others (LayerNorm gains, biases); weight_norm: of all of them.
    """
    n = len(stack.x)
    index = torch.arange(n, device=stack.device).expand(len(stack.runs), n)
    with torch.no_grad():
        p = {k: v.detach().float() for k, v in stack.p.items()}
        logits = torch.cat([stack.forward(p, stack.x[i])[..., -1, :] for i in index.split(4096, dim=1)], 1)
    nats = class_nats(logits, stack.y[index])  # (K, p^2)
    known = (math.log2(logits.shape[-1]) - nats / math.log(2)).clamp_min(0)  # (K, p^2) bits, clipped at 0
    correct = (logits.argmax(-1) == stack.y[index]).float()
    nan = torch.tensor(float("nan"))
    keys = ("train_acc", "test_acc", "train_loss", "test_loss", "train_bits", "mem_bits", "heldout_known_bits")
    out = {k: [] for k in keys}
    for k, own in enumerate(stack.own):
        mask = torch.zeros(n, dtype=torch.bool, device=stack.device)
        mask[own] = True
        held = (~mask).any()
        out["train_acc"].append(correct[k, mask].mean())
        out["test_acc"].append(correct[k, ~mask].mean() if held else nan)
        out["train_loss"].append(nats[k, mask].mean())
        out["test_loss"].append(nats[k, ~mask].mean() if held else nan)
        out["train_bits"].append(nats[k, mask].sum() / math.log(2))
        out["mem_bits"].append(known[k, mask].sum())
        out["heldout_known_bits"].append(known[k, ~mask].mean() if held else nan)
    out = {k: torch.stack(v) for k, v in out.items()}
    norm = lambda names: torch.stack([sum((p[m][k].pow(2).sum() for m in names), torch.tensor(0.0)).sqrt()
                                      for k in range(len(stack.runs))])
    out["weight_norm"] = norm(list(p))
    out["decayed_norm"] = norm([m for m in p if stack.decay[m]])
    out["undecayed_norm"] = norm([m for m in p if not stack.decay[m]])
    out["score"] = out["test_acc"]
    return out


def ladder(n: int, below: int, above: int = 0) -> tuple:
    """n and its neighbours on a 2^(1/3) ladder (a factor 1.26 apart): round(n * 2^(i/3)) for i in -below..above."""
    return tuple(round(n * 2 ** (i / 3)) for i in range(-below, above + 1))


@dataclass(frozen=True)
class GrokConfig(Experiment):
    SCALES = {
        "smoke": dict(p=11, d_model=16, n_train=60, onset_d_models=(8, 16), onset_n_train=ladder(60, 1), seeds=(0,),
                      capacity_d_models=(8,), capacity_n_train=(60, 100),
                      ablation_seeds=(0,), steps=300, ablation_steps=200, eval_every=25, hold=3),
        "laptop": dict(onset_start=(645, 813)),
        "paper": dict(p=113, d_model=128, n_train=3831, onset_d_models=(32, 64, 128, 256),
                      onset_n_train=ladder(3831, 5, 2), seeds=(0, 1, 2, 3, 4), ablation_seeds=(0, 1, 2, 3, 4),
                      capacity_d_models=(32, 64, 128, 256), capacity_n_train=(3831, 7662, 12768), capacity_seeds=(0, 1),
                      steps=50000, ablation_steps=50000, eval_every=100, hold=10),
    }
    p: int = 59  # modulus; the paper's 113 is too slow for a 2-core CPU
    n_layer: int = 1
    d_model: int = 32  # the classic run's width: one cell of the onset grid
    n_train: int = 1024  # the classic run's training pairs (29% of p^2; the papers: 30%), on the onset grid
    seeds: tuple = (0, 1, 2)  # model init and train/test split, of every onset run (the classic's too)
    ablation_seeds: tuple = (0, 1)  # seeds of the weight-decay-0 runs
    lr: float = 1e-3  # AdamW, as Nanda et al.
    weight_decay: float = 1.0
    betas: tuple = (0.9, 0.98)
    warmup: int = 10
    steps: int = 5000  # budget B of every weight-decay run; each stops once it has generalized (`hold`)
    ablation_steps: int = 3000  # weight decay 0: a fixed budget, compared with the runs above at equal steps
    eval_every: int = 50
    target: float = 0.99  # "generalized": test accuracy at least this ...
    hold: int = 10  # ... at this many evaluations in a row (a one-off crossing does not count)
    onset_d_models: tuple = (16, 32)  # widths of the onset grid (4.3K and 14.8K parameters at p = 59)
    onset_n_train: tuple = ladder(1024, 4)  # training pairs: 406 ... 1024, a factor 1.26 apart (12-29% of pairs)
    alpha: float = 0.0  # bits/param of the capacity ratio; 0 = capacity.measured_alpha() (notebook 01's)
    onset_start: tuple = ()  # per width of onset_d_models: its ladder's first n (empty: every width from the first)
    capacity_d_models: tuple = (16,)  # capacity in this regime: random labels, the same optimiser and budget B
    capacity_n_train: tuple = (2900,)  # random-label training pairs: 5/6 of the table, 581 held out for the correction
    capacity_seeds: tuple = (0,)

    def validate(self):
        super().validate()
        check_number(self.p, "p", 3, integer=True)
        for name in ("seeds", "ablation_seeds", "onset_d_models", "onset_n_train", "capacity_seeds", "capacity_d_models",
                     "capacity_n_train"):
            v = getattr(self, name)
            check(len(v) >= 1 and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in v), name, v,
                  "a non-empty list of integers >= 0")
        check(min(self.onset_d_models) >= 1, "onset_d_models", self.onset_d_models, "positive widths")
        check(list(self.onset_n_train) == sorted(set(self.onset_n_train)) and self.onset_n_train[0] >= 1
              and self.onset_n_train[-1] <= self.max_pairs(), "onset_n_train", self.onset_n_train,
              f"increasing training-set sizes between 1 and {self.max_pairs()} (p^2 - 1)")
        check(not self.onset_start or (len(self.onset_start) == len(self.onset_d_models)
                                        and all(n in self.onset_n_train for n in self.onset_start)),
              "onset_start", self.onset_start, f"empty, or one n of onset_n_train per width of {self.onset_d_models}")
        check(self.n_train >= self.onset_start_of(self.d_model), "n_train", self.n_train,
              f"on the classic width's ladder (from {self.onset_start_of(self.d_model)})")
        check(max(self.capacity_n_train, default=1) <= self.max_pairs(), "capacity_n_train", self.capacity_n_train,
              f"sizes up to {self.max_pairs()} (p^2 - 1)")
        check(self.d_model in self.onset_d_models, "d_model", self.d_model, f"one of onset_d_models {self.onset_d_models}")
        check(self.n_train in self.onset_n_train, "n_train", self.n_train, f"one of onset_n_train {self.onset_n_train}")
        check_number(self.steps, "steps", 2, integer=True)
        check_number(self.ablation_steps, "ablation_steps", 1, integer=True)
        check_number(self.target, "target", 0, 1, lo_open=True)
        check_number(self.hold, "hold", 1, integer=True)
        check_number(self.alpha, "alpha", 0)
        self.train_config(self.weight_decay)
        self.model(self.d_model)

    def max_pairs(self) -> int:
        """The most training pairs that exist (the task's own count, ModularAddition.max_train)."""
        return ModularAddition(self.p, 1).max_train()

    def model(self, d_model: int) -> GrokGPTConfig:
        return GrokGPTConfig(vocab_size=self.p, seq_len=3, n_layer=self.n_layer, d_model=d_model)

    def train_config(self, weight_decay: float, fixed_steps: int | None = None) -> TrainConfig:
        """Full-batch AdamW at constant learning rate after warmup (so a history up to step s is what a budget of s
        steps gives). With weight decay: until test accuracy holds `target` for `hold` evaluations, or `steps`;
        without: a fixed `ablation_steps`; with `fixed_steps`: exactly that many, whatever the weight decay."""
        common = dict(lr=self.lr, weight_decay=weight_decay, betas=self.betas, warmup=self.warmup,
                      batch_size=self.p * self.p, eval_every=self.eval_every, decay_frac=0.0)
        if weight_decay and fixed_steps is None:
            return TrainConfig(**common, stop="target", target=self.target, patience=self.hold, max_steps=self.steps)
        return TrainConfig(**common, stop="steps", max_steps=fixed_steps or self.ablation_steps)

    def run(self, d_model: int, n_train: int, seed: int, weight_decay: float | None = None) -> Run:
        wd = self.weight_decay if weight_decay is None else weight_decay
        return Run(model=self.model(d_model), data=ModularAddition(self.p, n_train, seed),
                   train=self.train_config(wd), seed=seed)

    def onset_start_of(self, d_model: int) -> int:
        """The first n of a width's ladder (`onset_start`; the ladder's first without it)."""
        if not self.onset_start or d_model not in self.onset_d_models:
            return self.onset_n_train[0]
        return self.onset_start[self.onset_d_models.index(d_model)]

    def onset_grid(self, d_model: int) -> list[int]:
        """A width's training-set sizes: the ladder from its `onset_start`."""
        return [n for n in self.onset_n_train if n >= self.onset_start_of(d_model)]

    def onset_runs(self) -> list[Run]:
        """Every weight-decay run: each width x its onset_grid x seeds (the classic runs among them)."""
        return [self.run(d, n, s) for d in self.onset_d_models for n in self.onset_grid(d) for s in self.seeds]

    def capacity_runs(self) -> list[Run]:
        """Random labels (RandomLabels) with this notebook's optimiser and weight decay for the whole budget B (no
        target to stop at): capacity_d_models x capacity_n_train x capacity_seeds."""
        train = self.train_config(self.weight_decay, fixed_steps=self.steps)
        return [Run(model=self.model(d), data=RandomLabels(self.p, n, s), train=train, seed=s)
                for d in self.capacity_d_models for n in self.capacity_n_train for s in self.capacity_seeds]

    def classic_runs(self) -> list[Run]:
        """The classic run, one per seed: the onset grid's (d_model, n_train) cell (loaded, not retrained)."""
        return [self.run(self.d_model, self.n_train, s) for s in self.seeds]

    def ablation_runs(self) -> list[Run]:
        """The classic run with weight decay 0, for ablation_steps."""
        return [self.run(self.d_model, self.n_train, s, weight_decay=0.0) for s in self.ablation_seeds]

    def capacity_alpha(self) -> tuple[float, str]:
        """(alpha, where it came from)."""
        return (self.alpha, "parameter") if self.alpha else measured_alpha(self.p, 3)


def first_step(history, key, threshold=0.99):
    """The first logged step where history[key] >= threshold, or None."""
    return next((h["step"] for h in history if h[key] >= threshold), None)


def generalize_step(history, hold: int, threshold: float = 0.99, until: int | None = None, key: str = "test_acc"):
    """The first step of the first `hold` evaluations in a row with history[key] >= threshold that all lie at or
    before step `until` (None: any), or None: when a run generalized within a budget of `until` steps."""
    h = [x for x in history if until is None or x["step"] <= until]
    streak = 0
    for i, x in enumerate(h):
        streak = streak + 1 if x[key] >= threshold else 0
        if streak == hold:
            return h[i - hold + 1]["step"]
    return None


def entry_at(history, step):
    """The logged evaluation of `step` (None if step is None)."""
    return None if step is None else next(h for h in history if h["step"] == step)


def at_step(history, step, key):
    """history[key] at the evaluation of `step` (None if step is None)."""
    e = entry_at(history, step)
    return None if e is None else e[key]


def best_test(history, until: int | None = None) -> dict:
    """The best test accuracy logged at or before step `until`, and the first step it was reached."""
    h = [x for x in history if until is None or x["step"] <= until]
    best = max(h, key=lambda x: x["test_acc"])
    return {"best_test_acc": best["test_acc"], "best_step": best["step"]}


DIP = 0.95  # after memorizing, train accuracy "falls back" when an evaluation logs less than this


def train_dips(history, memorize_step) -> dict:
    """After the memorization step: the evaluations where train accuracy fell back below DIP (a loss spike), how many
    separate episodes (runs of such evaluations), and the lowest train accuracy then with its step."""
    after = [h for h in history if memorize_step is not None and h["step"] > memorize_step]
    low = [h for h in after if h["train_acc"] < DIP]
    starts = [h["step"] for i, h in enumerate(after) if h["train_acc"] < DIP and (i == 0 or after[i - 1]["train_acc"] >= DIP)]
    worst = min(low, key=lambda h: h["train_acc"]) if low else None
    return {"dip_evals": len(low), "dip_starts": starts,
            "dip_min_train_acc": None if worst is None else worst["train_acc"],
            "dip_min_step": None if worst is None else worst["step"]}


def curves(runs, results) -> pd.DataFrame:
    """Long table of every logged step of every run, with its stored bits (`stored_bits`)."""
    rows = []
    for r, m in zip(runs, results):
        for h in m["history"]:
            rows.append(dict(seed=r.seed, weight_decay=r.train.weight_decay, d_model=r.model.d_model,
                             n_train=r.data.n_train, **h, stored_bits=stored_bits(h, r.data.n_train)))
    return pd.DataFrame(rows)


def stored_bits(entry, n: int) -> float:
    """Bits a model holds about its n training pairs beyond what it knows of unseen ones, at one logged evaluation:
    notebook 01's clipped estimator on the training pairs (mem_bits) minus n times its mean on held-out pairs."""
    return entry["mem_bits"] - n * entry["heldout_known_bits"]


def run_table(runs, results, cfg: GrokConfig) -> pd.DataFrame:
    """Per run: when it memorized (train accuracy first >= 99%) and generalized (test accuracy >= `target` held for
    `hold` evaluations) within its budget and within half of it; the first one-off crossing; the best and final
    test accuracy; the test accuracy and stored bits at the memorization step (notebook 01's clipped estimator on
    the training pairs minus n_train times its mean on held-out pairs: what the model holds about its training
    pairs beyond what it knows of unseen ones); *_equal: the same read at ablation_steps (equal steps with the
    weight-decay-0 runs)."""
    rows = []
    for r, m in zip(runs, results):
        h, budget = m["history"], r.train.max_steps
        mem = first_step(h, "train_acc")
        rows.append(dict(d_model=r.model.d_model, n_params=m["n_params"], n_train=r.data.n_train, seed=r.seed,
                         weight_decay=r.train.weight_decay, steps=m["steps"], budget=budget,
                         stop_reason=m["stop_reason"], memorize_step=mem,
                         generalize_step=generalize_step(h, cfg.hold, cfg.target, budget),
                         generalize_step_half=generalize_step(h, cfg.hold, cfg.target, budget // 2),
                         first_crossing=first_step(h, "test_acc", cfg.target),
                         **best_test(h), final_test_acc=m["final"]["test_acc"],
                         **{f"{k}_equal": v for k, v in best_test(h, cfg.ablation_steps).items()},
                         generalize_step_equal=generalize_step(h, cfg.hold, cfg.target, cfg.ablation_steps),
                         gain_last_doubling=m["gain_last_doubling"],
                         test_acc_at_memorize=at_step(h, mem, "test_acc"),
                         **train_dips(h, mem),
                         stored_bits=None if mem is None else stored_bits(entry_at(h, mem), r.data.n_train)))
    return pd.DataFrame(rows)


READ_EVALS = 5  # a random-label run's stored bits at a step: the median over the evaluations ending there (full-batch
# AdamW with weight decay 1 oscillates: one evaluation to the next moves the estimate by a few percent)


def stored_at(history, step: int, n: int, evals: int = READ_EVALS) -> tuple[float, float]:
    """(stored, raw) bits about the training pairs read at `step`: the median over the `evals` evaluations ending at
    it of mem_bits minus n_train times the mean clipped bits on held-out pairs (run_table's estimator: with random
    labels the held-out term is the clipped estimator's noise floor, nothing learnable), and of mem_bits alone."""
    window = [e for e in history if e["step"] <= step][-evals:]
    return (float(np.median([stored_bits(e, n) for e in window])),
            float(np.median([e["mem_bits"] for e in window])))


def capacity_table(runs, results, cfg: GrokConfig) -> pd.DataFrame:
    """Per random-label run: the bits it stores about its training pairs at the end of the budget B and at B/2
    (`stored_at`: a median over the last READ_EVALS evaluations, net of the held-out floor; `*_raw` without that
    correction), their relative gain over that last doubling, the training labels' bits (n log2 p) and the
    fraction of them stored."""
    rows, label = [], math.log2(cfg.p)
    for r, m in zip(runs, results):
        h, n = m["history"], r.data.n_train
        end = h[-1]["step"]
        (b, raw), (b_half, raw_half) = stored_at(h, end, n), stored_at(h, end // 2, n)
        rows.append(dict(d_model=r.model.d_model, n_params=m["n_params"], n_train=n, seed=r.seed, steps=end,
                         stored_bits=b, stored_bits_half=b_half, stored_bits_raw=raw, stored_bits_half_raw=raw_half,
                         gain_last_doubling=(b - b_half) / b_half if b_half > 0 else None,
                         label_bits=n * label, fill=b / (n * label), train_acc=m["final"]["train_acc"]))
    return pd.DataFrame(rows)


FILLED = 0.9  # a random-label run storing >= this fraction of its labels' bits is data-bound: capacity at least that


def regime_capacity(table: pd.DataFrame) -> list[dict]:
    """Per width: the capacity in this notebook's regime, the most bits any random-label size stores (median over
    seeds at each size), with its seed range at that size. A lower bound (`lower_bound`, with why) when the best size
    is the largest and is data-bound (stores >= FILLED of its labels' bits: more pairs could hold more), or when its
    runs still gained >= SATURATION_GAIN over the last doubling of steps (a longer budget could store more).
    `capacity_bits_half`: the same read at B/2 (what a model stores by the steps at which onset runs generalize)."""
    out = []
    if table is None or table.empty:
        return out
    for d, w in table.groupby("d_model"):
        per_n = w.groupby("n_train").stored_bits.median()
        n_best = int(per_n.idxmax())
        at = w[w.n_train == n_best]
        gains = at.gain_last_doubling.dropna()
        why = []
        if n_best == per_n.index.max() and at.fill.median() >= FILLED:
            why.append("data-bound at the largest size")
        if len(gains) and gains.max() >= SATURATION_GAIN:
            why.append(f"still gaining {gains.max():+.1%} over the last doubling of steps")
        c, n_params = float(per_n.max()), int(w.n_params.iloc[0])
        half = float(w.groupby("n_train").stored_bits_half.median().max())
        out.append({"d_model": int(d), "n_params": n_params, "capacity_bits": c, "capacity_bits_half": half,
                    "n_train": n_best,
                    "ci_low": float(at.stored_bits.min()), "ci_high": float(at.stored_bits.max()),
                    "bits_per_param": c / n_params, "lower_bound": bool(why), "why": "; ".join(why),
                    "sizes": [int(n) for n in per_n.index], "stored_by_size": [float(v) for v in per_n.values]})
    return out


def _int(x):
    return None if x is None or pd.isna(x) else int(x)


def _brackets(w: pd.DataFrame, grid, seeds, col: str) -> list[tuple[float, float]]:
    """Each seed's bracket of its onset, from whether its run at each grid n has `col` (a generalize step)."""
    return [bracket(grid, [pd.notna(g) for g in w[w.seed == s].sort_values("n_train")[col]]) for s in seeds]


def onset(table: pd.DataFrame, cfg: GrokConfig, alpha: float, regime: list[dict] | None = None) -> list[dict]:
    """One row per width of the onset grid: N* with its seed range, at the budget B and at B/2, and its budget state:
    "stable" (N* and its range the same at both, and every run at the grid point below N* that did not generalize
    gained < SATURATION_GAIN, relative, over its last doubling of steps), "still rising" (the same at B/2 and B, but
    a run below N* still rising: N* is an upper bound) or "unstable" (N* moved: an upper bound); `budget_stable` is
    "stable" only. How many seeds generalized anywhere on the grid (`representable`: more than half; otherwise left
    out of the fit) and how many seeds are right-censored (`seeds_censored`). The onset in label bits (N* log2 p)
    and stored bits per parameter; stored bits per pair with its range over every run of the width with n in the
    seed range (`stored_bits_per_pair_low/high`: the box uses these, so a corner's n and its per-pair value come
    from the same range of runs, not one n); the ratios to capacity r* = N* log2 p / (alpha params) and
    r*_stored = N* (stored bits per pair) / (alpha params). An open upper end is capped at the number of pairs that
    exist (`all_pairs`, p^2 - 1: `ci_high_capped`); a width whose alpha params exceed the whole table's label bits
    is `untestable` at this p, r* bounded by `ratio_all_pairs` whatever N*. With `regime` (regime_capacity) for the
    width: r*_regime = N* log2 p / (the capacity measured with random labels in this notebook's regime), its range
    from N*'s (the lower end only when budget-stable) and `regime_lower_bound` (that capacity a lower bound: every
    r*_regime an upper bound); `ratio_regime_high_half_budget`: the upper end against the capacity read at B/2."""
    rows, cap = [], cfg.max_pairs()
    by_width = {c["d_model"]: c for c in regime or []}
    for d in cfg.onset_d_models:
        w = table[(table.d_model == d) & (table.weight_decay == cfg.weight_decay)]
        grid = sorted(w.n_train.unique())
        full, half = _brackets(w, grid, cfg.seeds, "generalize_step"), _brackets(w, grid, cfg.seeds, "generalize_step_half")
        at_b, at_half = width_onset(full), width_onset(half)
        n_params = int(w.n_params.iloc[0])
        # stored bits per training pair at each seed's own N*_s (its run's memorization step), median over seeds
        per_pair = [w[(w.seed == s) & (w.n_train == hi)].stored_bits.iloc[0] / hi
                    for s, (_, hi) in zip(cfg.seeds, full) if hi != math.inf]
        per_pair = [x for x in per_pair if pd.notna(x)]
        b = float(np.median(per_pair)) if per_pair else None
        lo_n, hi_n = at_b["ci_low"] or grid[0], at_b["ci_high"] or grid[-1]
        span = w[(w.n_train >= lo_n) & (w.n_train <= hi_n) & w.stored_bits.notna()]
        span_pp = (span.stored_bits / span.n_train).tolist()
        # the grid point below N* (the grid's last point when right-censored): its runs that did not generalize
        below = None if at_b["censored"] == "left" else (grid[-1] if at_b["n_star"] is None
                                                         else max([n for n in grid if n < at_b["n_star"]], default=None))
        gains = [] if below is None or "gain_last_doubling" not in w else \
            w[(w.n_train == below) & w.generalize_step.isna()].gain_last_doubling.dropna().tolist()
        gain_below = max(gains) if gains else None
        state = ("unstable" if at_b != at_half else
                 "still rising" if gain_below is not None and gain_below >= SATURATION_GAIN else "stable")
        capped = at_b["ci_high"] is None
        over = lambda n, bits, f=math.log2(cfg.p): None if n is None or f is None or not bits else n * f / bits
        ratio = lambda n, f=math.log2(cfg.p): over(n, alpha * n_params, f)
        n_gen = sum(bool(w[w.seed == s].generalize_step.notna().any()) for s in cfg.seeds)
        rows.append({"d_model": int(d), "n_params": n_params, **at_b,
                     "ci_high": cap if capped else at_b["ci_high"], "ci_high_capped": capped, "all_pairs": cap,
                     # null n_star / ci_low: open (right- / left-censored), never "not measured"
                     "n_star_open": at_b["n_star"] is None, "ci_low_open": at_b["ci_low"] is None,
                     "seeds_censored": sum(hi == math.inf for _, hi in full),
                     "n_star_half_budget": at_half["n_star"], "ci_low_half_budget": at_half["ci_low"],
                     "ci_high_half_budget": at_half["ci_high"], "censored_half_budget": at_half["censored"],
                     "budget": state, "budget_stable": state == "stable", "below_n_star": None if below is None else int(below),
                     "gain_below": gain_below,
                     "seed_n_star": [None if hi == math.inf else int(hi) for _, hi in full],
                     "seeds_generalized": n_gen, "representable": 2 * n_gen > len(cfg.seeds),
                     "label_bits_per_param": None if at_b["n_star"] is None else at_b["n_star"] * math.log2(cfg.p) / n_params,
                     "stored_bits_per_pair": b,
                     "stored_bits_per_pair_low": min(span_pp) if span_pp else None,
                     "stored_bits_per_pair_high": max(span_pp) if span_pp else None,
                     "stored_bits_per_param": None if at_b["n_star"] is None or b is None else at_b["n_star"] * b / n_params,
                     "ratio": ratio(at_b["n_star"]), "ratio_high": ratio(cap if capped else at_b["ci_high"]),
                     "ratio_low": ratio(at_b["ci_low"]) if state == "stable" else None,  # else N* an upper bound
                     "ratio_stored": ratio(at_b["n_star"], b),
                     "ratio_all_pairs": ratio(cap), "untestable": ratio(cap) < 1})
        rows[-1].update({"alpha_untestable_above": cap * math.log2(cfg.p) / n_params,  # alpha above which untestable
                         "grid": [int(n) for n in grid], "first_size": int(grid[0]),
                         "first_size_best_test": float(w[w.n_train == grid[0]].best_test_acc.max())})
        c = by_width.get(int(d))
        per_c = lambda n: None if c is None else over(n, c["capacity_bits"])
        per_half = lambda n: None if c is None else over(n, c.get("capacity_bits_half"))
        rows[-1].update({"regime_capacity_bits": None if c is None else c["capacity_bits"],
                         "ratio_regime_high_half_budget": per_half(cap if capped else at_b["ci_high"]),
                         "regime_lower_bound": None if c is None else c["lower_bound"],
                         "ratio_regime": per_c(at_b["n_star"]),
                         "ratio_regime_low": per_c(at_b["ci_low"]) if state == "stable" else None,
                         "ratio_regime_high": per_c(cap if capped else at_b["ci_high"]),
                         # the onset's own stored bits (same estimator as the control's) over the control's capacity
                         "ratio_regime_stored": None if c is None or b is None or at_b["n_star"] is None
                         else over(at_b["n_star"], c["capacity_bits"], b),
                         "ratio_regime_stored_high": None if c is None or not span_pp
                         else over(cap if capped else at_b["ci_high"], c["capacity_bits"], max(span_pp))})
    return rows


def onset_fit(rows: list[dict], per_pair: str = "label", p: int | None = None) -> dict:
    """Slope of log(N* bits) on log(params) over the representable widths, with its range over every width's
    interval (a width not budget-stable: lower end 0; an open upper end capped at all pairs, which leaves the
    slope's upper end open for the verdict: `ci_high_capped`), and the verdict on slope 1. per_pair: "label"
    (log2 p bits a pair: the slope is N*'s own) or "stored" (each width's stored bits per pair, its range over the
    runs in the seed range at the box's corners). No point slope when a width is censored or not budget-stable."""
    use = [r for r in rows if r["representable"] and (per_pair == "label" or r["stored_bits_per_pair"])]
    lab = math.log2(p) if p else None
    f_lo = [lab if per_pair == "label" else r["stored_bits_per_pair_low"] for r in use]
    f_hi = [lab if per_pair == "label" else r["stored_bits_per_pair_high"] for r in use]
    f = [lab if per_pair == "label" else r["stored_bits_per_pair"] for r in use]
    lows = [0.0 if not r["budget_stable"] or r["ci_low"] is None else r["ci_low"] * fi for r, fi in zip(use, f_lo)]
    highs = [math.inf if r["ci_high"] is None else r["ci_high"] * fi for r, fi in zip(use, f_hi)]
    out = {"bits": per_pair, "widths": [r["d_model"] for r in use], "n_widths": len(use),
           "slope": None, "ci_low": None, "ci_high": None, "ci_high_capped": False,
           "ci_low_open": False, "ci_high_open": False}
    if len(use) >= 2:
        lo, hi = slope_interval([r["n_params"] for r in use], lows, highs)
        x = np.log([r["n_params"] for r in use])
        wts = x - x.mean()
        capped = any(r.get("ci_high_capped") and wi > 0 for r, wi in zip(use, wts))
        out.update(ci_low=lo if math.isfinite(lo) else None, ci_high=hi if math.isfinite(hi) else None,
                   ci_high_capped=capped)
        # null in ci_low / ci_high: open (+-inf) when *_open; with fewer than 2 widths: not measured
        out.update(ci_low_open=not math.isfinite(lo), ci_high_open=not math.isfinite(hi) or capped)
        if all(r["n_star"] is not None and r["censored"] is None and r["budget_stable"] for r in use):
            out["slope"] = float(np.polyfit(x, np.log([r["n_star"] * fi for r, fi in zip(use, f)]), 1)[0])
        out["verdict"] = onset_verdict(lo, hi, len(use), high_open=capped)
    else:
        out["verdict"] = NOT_SETTLED
    return out


def initial_norms(runs) -> list[dict]:
    """Each run's decayed and undecayed weight norm at initialization (step 0, which the history does not log):
    the monitor on a stack of the untrained models."""
    from memlib.engine import Stack
    from memlib.engine.sweep import eval_run
    m = monitor(Stack([eval_run(r) for r in runs]))  # training settings dropped: runs of any budget share it
    return [{"decayed_norm": float(a), "undecayed_norm": float(b)}
            for a, b in zip(m["decayed_norm"].tolist(), m["undecayed_norm"].tolist())]


def norm_summary(runs, results) -> list[dict]:
    """Per run: the decayed-weight norm at init, its peak (and step), and at the end; the undecayed norm at init and
    at the end."""
    out = []
    for r, m, init in zip(runs, results, initial_norms(runs)):
        series = [(0, init["decayed_norm"])] + [(h["step"], h["decayed_norm"]) for h in m["history"]]
        peak_step, peak = max(series, key=lambda t: t[1])
        out.append({"seed": r.seed, "weight_decay": r.train.weight_decay, "init": init["decayed_norm"], "peak": peak,
                    "peak_step": peak_step, "final": series[-1][1], "final_step": series[-1][0],
                    "undecayed_init": init["undecayed_norm"], "undecayed_final": m["history"][-1]["undecayed_norm"]})
    return out


def norm_curves(runs, results) -> pd.DataFrame:
    """The decayed and undecayed weight norms of every logged step, with each run's initialization as step 0."""
    df = curves(runs, results)[["seed", "weight_decay", "step", "decayed_norm", "undecayed_norm"]]
    init = pd.DataFrame([dict(seed=r.seed, weight_decay=r.train.weight_decay, step=0, **n)
                         for r, n in zip(runs, initial_norms(runs))])
    return pd.concat([init, df]).sort_values(["seed", "weight_decay", "step"]).reset_index(drop=True)


def setup_table(cfg: GrokConfig) -> pd.DataFrame:
    """This scale's setup beside Nanda et al.'s (REFERENCE.md §2), with rows for Power et al.'s setup and Morris et
    al.'s onset and capacity (as the referee of issue 26 lists them), and what each difference could change."""
    pairs = cfg.p * cfg.p
    rows = [("modulus p", "113", str(cfg.p), "a smaller table: fewer pairs, steps scale differently"),
            ("training pairs (classic run)", "30% of 12,769", f"{cfg.n_train:,} = {100 * cfg.n_train / pairs:.1f}% of {pairs:,}",
             "grokking speed depends strongly on the fraction"),
            ("model", "1 layer, d_model 128, 4 heads, untied, no LayerNorm",
             f"{cfg.n_layer} layer, d_model {cfg.d_model}, heads of 16, tied embeddings, pre-LayerNorm, biases",
             "LayerNorm and tying change what weight decay acts on"),
            ("widths of the onset test", "one (128)", ", ".join(map(str, cfg.onset_d_models)), "the papers vary no width"),
            ("steps", "40,000 (fixed)", f"up to {cfg.steps:,}; each run stops {cfg.hold} evaluations after it generalizes",
             "a later collapse or cleanup phase is not seen"),
            ("seeds", "a few runs", f"{len(cfg.seeds)} per grid cell; {len(cfg.ablation_seeds)} without weight decay",
             "seed ranges, not confidence intervals"),
            ("optimizer", "AdamW lr 1e-3, wd 1, betas (0.9, 0.98), full batch",
             f"AdamW lr {cfg.lr:g}, wd {cfg.weight_decay:g}, betas {tuple(cfg.betas)}, full batch, {cfg.warmup} warmup steps",
             "the same"),
            ("generalized", "test accuracy near 100% (read off the curves)",
             f"test accuracy ≥ {cfg.target:g} at {cfg.hold} evaluations in a row (every {cfg.eval_every} steps), dated by "
             "the first", "a stricter, dated definition; one-off crossings do not count"),
            ("Power et al. 2022", "p = 97, 2 layers, 30-50% of pairs", f"p = {cfg.p}, {cfg.n_layer} layer",
             "a different modulus and depth from the first grokking paper"),
            ("onset statistic (Morris et al. 2025)", "the test-loss double-descent peak against dataset size",
             f"held test accuracy ≥ {cfg.target:g} within a budget of {cfg.steps:,} steps",
             "a peak of the loss and the onset of accuracy need not sit at the same size"),
            ("capacity α (Morris et al. 2025)", "GPTs of ≈80K-7M params on random tokens, V 2048, S 64, Adam, to saturation",
             "notebook 01's: random tokens at a small vocabulary and a few thousand params, weight decay 0, another "
             "optimiser",
             "α from another regime moves every ratio r*; the slope does not use it"),
            ("data (Morris et al. 2025)", "random token sequences (capacity), text", "a structured function (a + b mod p)",
             "label bits overstate what a structured task must store"),
            ("training length (Morris et al. 2025)", "up to 1e6 steps", f"≤ {cfg.steps:,} steps",
             "onsets set by the budget are upper bounds")]
    return pd.DataFrame(rows, columns=["", "Nanda et al. 2023 (unless a row names another paper)", f"here ({cfg.scale})",
                                       "could change"])


@dataclass
class GrokResult:
    """What notebook 02 measured, for `summarize`."""

    table: pd.DataFrame  # run_table of every weight-decay run (the onset grid; the classic runs are a cell of it)
    ablation: pd.DataFrame  # run_table of the weight-decay-0 runs
    norms: list  # norm_summary of the classic and weight-decay-0 runs
    alpha: float  # bits/param of the capacity ratio
    alpha_source: str  # where alpha came from (cfg.capacity_alpha())
    train_s: float  # training time of all these runs as the store recorded it (cfg.training_seconds)
    capacity: pd.DataFrame | None = None  # capacity_table of the random-label runs (None: not measured)


def classic(table: pd.DataFrame, cfg: GrokConfig) -> pd.DataFrame:
    """The classic runs' rows of a run_table, by seed."""
    return table[(table.d_model == cfg.d_model) & (table.n_train == cfg.n_train)
                 & (table.weight_decay == cfg.weight_decay)].sort_values("seed").reset_index(drop=True)


def per_seed(df: pd.DataFrame) -> list[dict]:
    """run_table rows as records: seed, steps of memorization, generalization (held) and the first crossing (None:
    not within the run's budget), test accuracy at memorization, final test accuracy, steps trained."""
    return [{"seed": int(r.seed), "memorize_step": _int(r.memorize_step), "generalize_step": _int(r.generalize_step),
             "first_crossing": _int(r.first_crossing), "budget": int(r.budget), "steps": int(r.steps),
             "test_acc_at_memorize": None if pd.isna(r.test_acc_at_memorize) else float(r.test_acc_at_memorize),
             "final_test_acc": float(r.final_test_acc),
             # train accuracy falling back below DIP after memorizing (loss spikes): episode starts, the lowest
             "dip_starts": [int(x) for x in getattr(r, "dip_starts", None) or []],
             "dip_min_train_acc": None if pd.isna(getattr(r, "dip_min_train_acc", None)) else float(r.dip_min_train_acc),
             "dip_min_step": _int(getattr(r, "dip_min_step", None))}
            for r in df.itertuples()]


def equal_steps(table: pd.DataFrame, cfg: GrokConfig) -> list[dict]:
    """The classic runs with weight decay, for the ablation's seeds, read at the ablation's budget (equal steps): best
    test accuracy and its step, and the held-target step (None: not within ablation_steps)."""
    df = classic(table, cfg)
    return [{"seed": int(r.seed), "best_test_acc": float(r.best_test_acc_equal), "best_step": int(r.best_step_equal),
             "generalize_step": _int(r.generalize_step_equal)} for r in df[df.seed.isin(cfg.ablation_seeds)].itertuples()]


def summarize(cfg: GrokConfig, res: GrokResult) -> dict:
    """The notebook's metrics: the classic runs (memorization, generalization, norms), weight decay 0 against
    weight decay at equal steps, the onset per width and its fit against parameters in label and stored bits."""
    regime = regime_capacity(res.capacity)
    steps, rows = per_seed(classic(res.table, cfg)), onset(res.table, cfg, res.alpha, regime)
    abl = res.ablation.sort_values("seed")
    norms = [n for n in res.norms if n["weight_decay"] == cfg.weight_decay]
    per = {k: [s[k] for s in steps] for k in ("generalize_step", "memorize_step")}
    gen = [g for g in per["generalize_step"] if g is not None]
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "training": {"wall_s": res.train_s},
        "scale": cfg.scale, "p": cfg.p, "n_train": cfg.n_train, "train_frac": cfg.n_train / cfg.p ** 2,
        "d_model": cfg.d_model, "n_params": int(classic(res.table, cfg).n_params.iloc[0]),
        "weight_decay": cfg.weight_decay, "steps": cfg.steps, "eval_every": cfg.eval_every, "target": cfg.target,
        "hold": cfg.hold, "seeds": list(cfg.seeds),
        "memorize_step": [s["memorize_step"] for s in steps],
        "generalize_step": [s["generalize_step"] for s in steps],
        "test_acc_at_memorize": [s["test_acc_at_memorize"] for s in steps],
        "per_seed": steps,
        "decayed_norm": norms,
        "weight_decay_ablation": {
            "weight_decay": 0.0, "steps": cfg.ablation_steps,
            "per_seed": [{"seed": int(r.seed), "best_test_acc": float(r.best_test_acc), "best_step": int(r.best_step),
                          "final_test_acc": float(r.final_test_acc), "generalize_step": _int(r.generalize_step),
                          "gain_last_doubling": None if pd.isna(r.gain_last_doubling) else float(r.gain_last_doubling)}
                         for r in abl.itertuples()],
            "with_weight_decay_equal_steps": equal_steps(res.table, cfg),
            "decayed_norm": [n for n in res.norms if n["weight_decay"] == 0.0]},
        "alpha": res.alpha, "alpha_source": res.alpha_source,
        "regime_capacity": {"d_models": list(cfg.capacity_d_models), "n_train": list(cfg.capacity_n_train),
                            "seeds": list(cfg.capacity_seeds), "steps": cfg.steps, "widths": regime,
                            "runs": [] if res.capacity is None else res.capacity.to_dict("records")},
        "onset_grid": {"d_models": list(cfg.onset_d_models), "n_train": list(cfg.onset_n_train),
                       "per_width": {str(r["d_model"]): r["grid"] for r in rows},  # each width's ladder as run
                       "seeds": list(cfg.seeds), "steps": cfg.steps, "half_steps": cfg.steps // 2},
        "onset": rows,
        "onset_fit": {**onset_fit(rows, "label", cfg.p),
                      "finite_limit": finite_slope_limit([r["grid"] for r in rows], [r["n_params"] for r in rows])
                      if len(rows) >= 2 else None,
                      # the same on the full ladder (every width from onset_n_train's first size)
                      "finite_limit_full_ladder": finite_slope_limit(cfg.onset_n_train, [r["n_params"] for r in rows])
                      if len(rows) >= 2 else None},
        "onset_fit_stored": onset_fit(rows, "stored", cfg.p),
        "all_pairs": cfg.max_pairs(),
        # the budget against the classic runs: B / the slowest held-99% step (the issue asks >= 5)
        "slowest_generalize_step": max(gen) if gen else None,
        "budget_multiple": cfg.steps / max(gen) if gen else None,
        "classic_seeds_censored": [s["seed"] for s in steps if s["generalize_step"] is None],
        "delay_ratio": [None if g is None or t is None or not t else g / t
                        for g, t in zip(per["generalize_step"], per["memorize_step"])],
    }

"""Grokking on modular addition, and whether it starts where capacity runs out.

Power et al. 2022 and Nanda et al. 2023 (REFERENCE.md §2): a small transformer trained full-batch
with AdamW and weight decay on a + b mod p first fits its training pairs, then, much later,
generalizes. Morris et al. 2025 explain the onset by capacity: a model generalizes once its
training set holds more bits (N_train * log2 p) than it can store (alpha * params).

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


def monitor(stack) -> dict:
    """Train/test accuracy and loss, the training set's code length in bits, and the weight norm."""
    n = len(stack.x)
    index = torch.arange(n, device=stack.device).expand(len(stack.runs), n)
    with torch.no_grad():
        p = {k: v.detach().float() for k, v in stack.p.items()}
        logits = torch.cat([stack.forward(p, stack.x[i])[..., -1, :] for i in index.split(4096, dim=1)], 1)
    nats = class_nats(logits, stack.y[index])  # (K, p^2)
    correct = (logits.argmax(-1) == stack.y[index]).float()
    out = {k: [] for k in ("train_acc", "test_acc", "train_loss", "test_loss", "train_bits")}
    for k, own in enumerate(stack.own):
        mask = torch.zeros(n, dtype=torch.bool, device=stack.device)
        mask[own] = True
        out["train_acc"].append(correct[k, mask].mean())
        out["test_acc"].append(correct[k, ~mask].mean() if (~mask).any() else torch.tensor(float("nan")))
        out["train_loss"].append(nats[k, mask].mean())
        out["test_loss"].append(nats[k, ~mask].mean() if (~mask).any() else torch.tensor(float("nan")))
        out["train_bits"].append(nats[k, mask].sum() / math.log(2))
    out = {k: torch.stack(v) for k, v in out.items()}
    out["weight_norm"] = torch.stack([sum(v[k].float().pow(2).sum() for v in stack.p.values()).sqrt()
                                      for k in range(len(stack.runs))])
    out["score"] = out["test_acc"]
    return out


@dataclass(frozen=True)
class GrokConfig(Experiment):
    SCALES = {
        "smoke": dict(p=11, train_frac=0.5, d_model=32, seeds=(0,), ablation_seeds=(0,), steps=300, eval_every=25,
                      sweep_d_models=(4, 16), sweep_fracs=(0.3, 0.7), sweep_steps=200),
        "laptop": dict(),
        "paper": dict(p=113, train_frac=0.3, d_model=128, seeds=(0, 1, 2, 3, 4), ablation_seeds=(0, 1, 2, 3, 4),
                      steps=40000, eval_every=100,
                      sweep_d_models=(8, 16, 32, 64, 128, 256), sweep_fracs=(0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9),
                      sweep_steps=40000),
    }
    p: int = 59  # modulus; the paper's 113 is too slow for a 2-core CPU
    train_frac: float = 0.4  # share of all p^2 pairs used for training
    n_layer: int = 1
    d_model: int = 64
    seeds: tuple = (0, 1, 2)  # model init and train/test split
    ablation_seeds: tuple = (0, 1)  # seeds of the weight-decay-0 runs (2, to keep laptop within 15 min)
    lr: float = 1e-3  # AdamW, as Nanda et al.
    weight_decay: float = 1.0
    betas: tuple = (0.9, 0.98)
    warmup: int = 10
    steps: int = 3000  # full-batch steps of the classic run and its ablation (seed 0 grokked at 2750 in a probe)
    eval_every: int = 50
    sweep_d_models: tuple = (4, 8, 16, 32)  # widths of the capacity-ratio sweep
    sweep_fracs: tuple = (0.1, 0.3, 0.5, 0.8)  # training fractions of the capacity-ratio sweep
    sweep_steps: int = 2000
    alpha: float = 0.0  # bits/param for the ratio; 0 = capacity.measured_alpha() (notebook 01's)

    def validate(self):
        super().validate()
        check_number(self.p, "p", 3, integer=True)
        check_number(self.train_frac, "train_frac", 0, 1, lo_open=True)
        for f in self.sweep_fracs:
            check_number(f, "sweep_fracs", 0, 1, lo_open=True)
        for name in ("seeds", "ablation_seeds"):
            v = getattr(self, name)
            check(len(v) >= 1 and all(isinstance(s, int) and s >= 0 for s in v), name, v,
                  "a non-empty list of integers >= 0")
        check(len(self.sweep_d_models) >= 1 and all(isinstance(d, int) and d >= 1 for d in self.sweep_d_models),
              "sweep_d_models", self.sweep_d_models, "a non-empty list of positive integers")
        check_number(self.steps, "steps", 1, integer=True)
        check_number(self.sweep_steps, "sweep_steps", 1, integer=True)
        check_number(self.alpha, "alpha", 0)
        self.train_config(0.0, self.steps)
        self.model(self.d_model)

    def model(self, d_model: int) -> GrokGPTConfig:
        return GrokGPTConfig(vocab_size=self.p, seq_len=3, n_layer=self.n_layer, d_model=d_model)

    def train_config(self, weight_decay: float, steps: int) -> TrainConfig:
        """Full-batch AdamW for a fixed number of steps at constant learning rate after warmup."""
        return TrainConfig(lr=self.lr, weight_decay=weight_decay, betas=self.betas, warmup=self.warmup,
                           batch_size=self.p * self.p, stop="steps", max_steps=steps, eval_every=self.eval_every,
                           decay_frac=0.0)

    def n_train(self, frac: float) -> int:
        return max(1, min(self.p * self.p - 1, round(frac * self.p * self.p)))

    def classic_runs(self, weight_decay=None) -> list[Run]:
        wd = self.weight_decay if weight_decay is None else weight_decay
        seeds = self.seeds if weight_decay is None else self.ablation_seeds
        return [Run(model=self.model(self.d_model), data=ModularAddition(self.p, self.n_train(self.train_frac), s),
                    train=self.train_config(wd, self.steps), seed=s) for s in seeds]

    def sweep_runs(self) -> list[Run]:
        return [Run(model=self.model(d), data=ModularAddition(self.p, self.n_train(f), self.seeds[0]),
                    train=self.train_config(self.weight_decay, self.sweep_steps), seed=self.seeds[0])
                for d in self.sweep_d_models for f in self.sweep_fracs]

    def capacity_alpha(self) -> tuple[float, str]:
        """(alpha, where it came from)."""
        return (self.alpha, "parameter") if self.alpha else measured_alpha(self.p, 3)


def first_step(history, key, threshold=0.99):
    """The first logged step where history[key] >= threshold, or None."""
    return next((h["step"] for h in history if h[key] >= threshold), None)


def curves(runs, results) -> pd.DataFrame:
    """Long table of every logged step of every run."""
    rows = []
    for r, m in zip(runs, results):
        for h in m["history"]:
            rows.append(dict(seed=r.seed, weight_decay=r.train.weight_decay, d_model=r.model.d_model,
                             n_train=r.data.n_train, **h))
    return pd.DataFrame(rows)


def steps_table(runs, results) -> pd.DataFrame:
    """Per run: when train and test accuracy first pass 99%, and final accuracies."""
    return pd.DataFrame([dict(seed=r.seed, weight_decay=r.train.weight_decay, d_model=r.model.d_model,
                              n_train=r.data.n_train, n_params=m["n_params"],
                              memorize_step=first_step(m["history"], "train_acc"),
                              generalize_step=first_step(m["history"], "test_acc"),
                              final_train_acc=m["final"]["train_acc"], final_test_acc=m["final"]["test_acc"])
                         for r, m in zip(runs, results)])


def ratio_table(runs, results, cfg: GrokConfig, alpha: float) -> pd.DataFrame:
    df = steps_table(runs, results)
    df["dataset_bits"] = df.n_train * math.log2(cfg.p)
    df["capacity_bits"] = alpha * df.n_params
    df["ratio"] = df.dataset_bits / df.capacity_bits
    return df.sort_values("ratio").reset_index(drop=True)


def transition(df: pd.DataFrame) -> dict:
    """How the data bear on 'generalization sets in as the ratio crosses 1'."""
    gen = df.final_test_acc >= 0.99
    below, above = df[df.ratio < 1], df[df.ratio >= 1]
    lo = df[gen].ratio.min() if gen.any() else None
    hi_fail = df[~gen].ratio.max() if (~gen).any() else None
    return {"generalized_share_below_1": float((below.final_test_acc >= 0.99).mean()) if len(below) else None,
            "generalized_share_above_1": float((above.final_test_acc >= 0.99).mean()) if len(above) else None,
            "smallest_ratio_generalized": None if lo is None else float(lo),
            "largest_ratio_not_generalized": None if hi_fail is None else float(hi_fail)}


def per_seed(df: pd.DataFrame) -> list[dict]:
    """steps_table's rows as records: seed, the steps train and test accuracy first passed 99% (None: never),
    final test accuracy."""
    return [{"seed": int(r.seed), "memorize_step": None if pd.isna(r.memorize_step) else int(r.memorize_step),
             "generalize_step": None if pd.isna(r.generalize_step) else int(r.generalize_step),
             "final_test_acc": float(r.final_test_acc)} for r in df.itertuples()]


@dataclass
class GrokResult:
    """What notebook 02 measured, for `summarize`."""

    steps: pd.DataFrame  # steps_table of the classic runs (weight decay cfg.weight_decay)
    steps_no_wd: pd.DataFrame  # steps_table of the same runs with weight decay 0 (cfg.ablation_seeds)
    ratios: pd.DataFrame  # ratio_table of the capacity-ratio sweep
    alpha: float  # bits/param of the ratio
    alpha_source: str  # where alpha came from (cfg.capacity_alpha())


def summarize(cfg: GrokConfig, res: GrokResult) -> dict:
    """The notebook's metrics: when each classic run memorized and generalized, with and without weight decay,
    and the capacity-ratio sweep with its `transition`."""
    steps, steps0 = per_seed(res.steps), per_seed(res.steps_no_wd)
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "p": cfg.p, "train_frac": cfg.train_frac, "d_model": cfg.d_model,
        "n_params": int(res.steps.n_params.iloc[0]), "weight_decay": cfg.weight_decay, "steps": cfg.steps,
        "memorize_step": [s["memorize_step"] for s in steps],
        "generalize_step": [s["generalize_step"] for s in steps],
        "per_seed": steps,
        "weight_decay_ablation": {"weight_decay": 0.0,
                                  "memorize_step": [s["memorize_step"] for s in steps0],
                                  "generalize_step": [s["generalize_step"] for s in steps0],
                                  "final_test_acc": [s["final_test_acc"] for s in steps0]},
        "alpha": res.alpha, "alpha_source": res.alpha_source,
        "ratio_sweep": [{"ratio": float(r.ratio), "n_train": int(r.n_train), "n_params": int(r.n_params),
                         "d_model": int(r.d_model),
                         "generalize_step": None if pd.isna(r.generalize_step) else int(r.generalize_step),
                         "final_test_acc": float(r.final_test_acc)} for r in res.ratios.itertuples()],
        "transition": transition(res.ratios),
    }

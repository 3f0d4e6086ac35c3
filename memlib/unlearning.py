"""Unlearning (`../shared/REFERENCE.md` §7): removing what a model memorized about some examples, judged against
retraining without them. The experiments of notebook 07, as lists of engine runs.

The originals are stored runs: notebook 06's full-data classifiers (`memlib.diet`) with the per-example scores that pick
the forget sets, and notebook 04's largest duplication models, whose canaries were seen r = 0, 1, 2, 4, ... times.
Each method is one engine run from an original (`Init(original)`) with an `Objective`, the forget set as its `forget`
subset, the retain set as its `subset` and a step budget (a new method: one entry of `METHODS`); the reference is
retraining from scratch without the forget set, with several seeds. Measures: accuracies, the forget set's loss and
its membership AUC against the test set, the distance to retrained (`memlib.attacks`), the effort (the smallest
budget at which an example's loss reaches the retrained models' mean) and the onion (Carlini et al. 2022).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from memlib import attacks
from memlib import canaries as can
from memlib import scores
from memlib.config import check, check_number
from memlib.data import lm_pair
from memlib.diet import SCORES, DietConfig
from memlib.diet import score_table as diet_score_table
from memlib.engine import Init, Objective, Run, Subset, evaluate
from memlib.experiment import Experiment, stop_summary
from memlib.extraction import ExtractionConfig
from memlib.models import n_params
from memlib.stats import spearman_ci
from memlib.store import RunStore

KINDS = ("atypical", "typical", "random")
# method -> the objective of its runs (None: plain nll on the retain set, i.e. fine-tuning); npo's beta is set per config
METHODS = {"ascent": Objective(name="ascent"), "graddiff": Objective(name="graddiff"),
           "npo": Objective(name="npo", retain_weight=0.0), "finetune": None}
REFERENCE = ("original", "retrain")  # rows that are not unlearning methods


@dataclasses.dataclass(frozen=True)
class UnlearningConfig(Experiment):
    SCALES = {
        "smoke": dict(max_stack=16, n_forget=20, budgets=(4, 16), retrain_seeds=(0, 1, 2), rep_repeats=(1, 4),
                      rep_budgets=(4, 16), rep_after=16, onion_k=40, onion_models=6, onion_budget=16, n_boot=50),
        "laptop": dict(max_stack=16),  # 16 models at once: the fastest per model on the 2-core CPU
        "paper": dict(n_forget=500, budgets=(10, 20, 40, 80, 160, 320, 640), retrain_seeds=(0, 1, 2, 3, 4, 5, 6, 7),
                      rep_budgets=(10, 20, 40, 80, 160, 320), rep_after=40, onion_k=2500, onion_models=64,
                      onion_budget=160, max_stack=64),
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
        for name, lo in (("n_forget", 2), ("onion_k", 2), ("onion_models", 2), ("onion_budget", 1), ("n_boot", 0)):
            check_number(getattr(self, name), name, lo, integer=True)
        check(self.atypical_by in SCORES, "atypical_by", self.atypical_by, f"one of {SCORES}")
        check(self.typical_by in SCORES, "typical_by", self.typical_by, f"one of {SCORES}")
        check(len(self.methods) >= 1 and set(self.methods) <= set(METHODS), "methods", self.methods,
              f"a non-empty list of {sorted(METHODS)}")
        for name in ("budgets", "rep_budgets"):
            b = getattr(self, name)
            check(len(b) >= 1 and all(isinstance(v, int) and v >= 1 for v in b) and list(b) == sorted(set(b)), name, b,
                  "increasing step budgets >= 1")
        check(self.rep_after in self.rep_budgets, "rep_after", self.rep_after, f"one of rep_budgets {self.rep_budgets}")
        for name in ("lr", "rep_lr", "npo_beta"):
            check_number(getattr(self, name), name, 0, lo_open=True)
        check(len(self.retrain_seeds) >= 3 and len(set(self.retrain_seeds)) == len(self.retrain_seeds)
              and all(isinstance(s, int) and s >= 0 for s in self.retrain_seeds), "retrain_seeds", self.retrain_seeds,
              "at least 3 distinct integers >= 0 (the retrained models' seed spread is the unit of distance)")
        check(self.effort_method in self.methods, "effort_method", self.effort_method, f"one of methods {self.methods}")
        for name in ("rep_method", "onion_method"):
            check(getattr(self, name) in METHODS and getattr(self, name) != "finetune", name, getattr(self, name),
                  f"one of {sorted(set(METHODS) - {'finetune'})} (a method with a forget set)")
        seen = sorted(set(self.extraction().canary_repeats) - {0})
        check(len(self.rep_repeats) >= 1 and set(self.rep_repeats) <= set(seen), "rep_repeats", self.rep_repeats,
              f"repetition counts of notebook 04's canaries at this scale: {seen}")
        n = len(self.diet().data().indices())
        check(self.n_forget * len(KINDS) <= n, "n_forget", self.n_forget, f"at most {n // len(KINDS)} (3 sets of {n} examples)")
        check(3 * self.onion_k <= n, "onion_k", self.onion_k, f"at most {n // 3} (two layers and a control among {n})")

    @functools.cache
    def diet(self) -> DietConfig:
        """Notebook 06's config at this scale (built once per config)."""
        return DietConfig.from_params(self.scale, device=self.device, scheduler=self.scheduler)

    @functools.cache
    def extraction(self) -> ExtractionConfig:
        """Notebook 04's config at this scale (built once per config)."""
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

    def canary_shape(self) -> tuple:
        """The (n_layer, d_model) of notebook 04's largest duplication models, whose canaries are unlearned."""
        return max(self.extraction().dup_sizes, key=lambda s: s[0] * s[1] ** 2)


def without(subset: Subset | None, forget: tuple) -> Subset:
    """`subset` (None: all examples) with the examples `forget` removed (and no longer repeated)."""
    if subset is None:
        return Subset(exclude=forget)
    drop = set(forget)
    return subset.replace(exclude=tuple(sorted(set(subset.exclude) | drop)),
                          include=tuple(i for i in subset.include if i not in drop),
                          repeat=tuple(p for p in subset.repeat if p[0] not in drop))


def runs_of(plan) -> list[Run]:
    """The runs of a plan: a list of (row, run) pairs, or a dict of run lists (`onion_plan`)."""
    if isinstance(plan, dict):
        return [r for v in plan.values() for r in v]
    return [r for _, r in plan]


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


def forget_set_scores(cfg: UnlearningConfig, table: pd.DataFrame, sets: dict) -> dict:
    """Per forget kind: the score that picked it and its mean of every score."""
    by = {"atypical": cfg.atypical_by, "typical": cfg.typical_by, "random": "random"}
    t = table.set_index("pos")
    return {k: {"by": by[k], **{f"mean_{s}": float(t.loc[list(v), s].mean()) for s in SCORES}} for k, v in sets.items()}


def _columns(table: pd.DataFrame, positions) -> np.ndarray:
    """The columns of `evaluate`'s arrays that hold the pool positions `positions`."""
    col = dict(zip(table.pos, table.col))
    return np.array([col[p] for p in positions])


# --- the image experiment -------------------------------------------------------------------------
def image_plan(cfg: UnlearningConfig, sets: dict) -> list[tuple[dict, Run]]:
    """(row, run) for the originals (budget 0), every method x budget from every original, and the retrained
    models, per forget kind."""
    plan, o0 = [], cfg.originals()[0]
    for kind, forget in sets.items():
        for o in cfg.originals():
            plan.append((dict(method="original", forget_kind=kind, seed=o.seed, budget=0), o))
            plan += [(dict(method=m, forget_kind=kind, seed=o.seed, budget=b), cfg.unlearn(o, m, forget, b))
                     for m in cfg.methods for b in cfg.budgets]
        plan += [(dict(method="retrain", forget_kind=kind, seed=s, budget=o0.train.max_steps), cfg.retrain(o0, forget, s))
                 for s in cfg.retrain_seeds]
    return plan


def evaluate_images(cfg: UnlearningConfig, runs: list[Run]) -> dict:
    """Per-example nats and correctness of `runs` on the training set and the test set, (R, N)."""
    spec = cfg.diet().data()
    tr = evaluate(runs, spec, device=cfg.device, outputs=("nats", "correct"))
    te = evaluate(runs, spec.test_split(), device=cfg.device, outputs=("nats", "correct"))
    return {"train_nats": tr["nats"], "train_correct": tr["correct"], "test_nats": te["nats"], "test_correct": te["correct"]}


def image_results(cfg: UnlearningConfig, table: pd.DataFrame, sets: dict, plan, ev: dict) -> pd.DataFrame:
    """One row per planned run: forget/retain/test accuracy, forget loss, forget MIA AUC, distance to retrained
    (retrained models: each against the other retrained seeds)."""
    rows = []
    for kind, forget in sets.items():
        f = _columns(table, forget)
        retain = np.setdiff1d(np.arange(len(table)), f)
        idx = [j for j, (row, _) in enumerate(plan) if row["forget_kind"] == kind]
        ret = [j for j in idx if plan[j][0]["method"] == "retrain"]
        R, T = ev["train_nats"][ret][:, f], ev["test_nats"][ret]  # (seeds, forget), (seeds, test)
        for j in idx:
            row = plan[j][0]
            nats = ev["train_nats"][j, f]
            others = [k for k, jj in enumerate(ret) if jj != j]  # a retrained model: against the other seeds
            d = attacks.distance_to_reference(nats, *((R[others], T[others]) if row["method"] == "retrain" else (R, T)))
            rows.append(dict(**row, forget_acc=ev["train_correct"][j, f].mean(), retain_acc=ev["train_correct"][j, retain].mean(),
                             test_acc=ev["test_correct"][j].mean(), forget_loss=nats.mean(),
                             forget_mia_auc=attacks.loss_auc(nats, ev["test_nats"][j]), distance_to_retrained=d))
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
    budgets = (0,) + tuple(cfg.budgets)
    out = []
    for kind, forget in sets.items():
        f = _columns(table, forget)
        rows = [(row, j) for j, (row, _) in enumerate(plan) if row["forget_kind"] == kind]
        target = np.mean([ev["train_nats"][j, f] for row, j in rows if row["method"] == "retrain"], 0)
        per_seed = []
        for o in cfg.originals():
            at = {row["budget"]: j for row, j in rows if row["seed"] == o.seed and row["method"] in ("original", cfg.effort_method)}
            reached = np.stack([ev["train_nats"][at[b], f] for b in budgets]) >= target  # (budgets, forget)
            per_seed.append(np.where(reached.any(0), np.array(budgets)[reached.argmax(0)], 2 * budgets[-1]))
        t = table.set_index("pos").loc[list(forget)]
        out.append(pd.DataFrame(dict(forget_kind=kind, pos=list(forget), effort=np.mean(per_seed, 0),
                                     censored=(np.array(per_seed) > budgets[-1]).mean(0), retrained_loss=target,
                                     **{s: t[s].to_numpy() for s in SCORES})))
    return pd.concat(out, ignore_index=True)


def difficulty(cfg: UnlearningConfig, eff: pd.DataFrame) -> dict:
    """Spearman rank correlation (bootstrap 95% interval) of effort with each score: over all forget examples,
    and within the random forget set (a sample of the training set)."""
    rnd = eff[eff.forget_kind == "random"]
    return {s: {**spearman_ci(eff[s], eff.effort, cfg.n_boot), "random_set": spearman_ci(rnd[s], rnd.effort, cfg.n_boot)}
            for s in SCORES}


# --- repetitions (canaries) -----------------------------------------------------------------------
def canary_setup(cfg: UnlearningConfig, c) -> dict:
    """Notebook 04's largest duplication models (one per seed) and, per seed, the pool position of every canary
    by its repetition count."""
    e, shape = cfg.extraction(), cfg.canary_shape()
    out = {"shape": shape, "originals": [e.dup_run(c, shape, s) for s in e.seeds], "canaries": {}}
    for s in e.seeds:
        data = e.dup_data(c, s)
        pos = dict(zip(data.secrets, data.canary_positions()))
        out["canaries"][s] = {r: [(pos[x], x) for x in ss] for r, ss in e.secrets(s).items()}
    return out


def repetition_plan(cfg: UnlearningConfig, setup: dict) -> list[tuple[dict, Run]]:
    """(row, run): every original (budget 0), `rep_method` for each budget on the canaries seen r times, then the onion
    on canaries: the most repeated ones unlearned (`onion_budget` steps; `onion` rows)."""
    plan, top = [], onion_repeats(cfg)[0]
    for o in setup["originals"]:
        plan.append((dict(forget_r=0, seed=o.seed, budget=0, onion=False), o))
        for r in cfg.rep_repeats:
            forget = [p for p, _ in setup["canaries"][o.seed][r]]
            plan += [(dict(forget_r=r, seed=o.seed, budget=b, onion=False), cfg.unlearn(o, cfg.rep_method, forget, b, cfg.rep_lr))
                     for b in cfg.rep_budgets]
    return plan + [(dict(forget_r=top, seed=o.seed, budget=cfg.onion_budget, onion=True),
                    cfg.unlearn(o, cfg.rep_method, [p for p, _ in setup["canaries"][o.seed][top]], cfg.onion_budget, cfg.rep_lr))
                   for o in setup["originals"]]


def canary_exposures(cfg: UnlearningConfig, c, setup: dict, plan) -> pd.DataFrame:
    """Exact exposure and code length (nats) of every canary under every planned run: one row per (run, canary)."""
    e = cfg.extraction()
    data0 = e.dup_data(c, e.seeds[0])
    x, y = lm_pair(data0.sequences(can.all_secrets(e.canary_digits)), bos=e.text().vocab_size)
    nats = evaluate(runs_of(plan), (x, y), device=cfg.device, outputs=("nats",))["nats"]  # (R, |R|)
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
        mine, b0, e = ex[(ex.forget_r == r) & (ex.r == r)], before[before.r == r], []
        for (seed, secret), g in pd.concat([b0, mine]).groupby(["seed", "secret"]):
            g = g.sort_values("budget")
            ok = g.nats.to_numpy() >= unseen.nats[seed]
            e.append(dict(r=r, seed=seed, secret=secret, effort=g.budget.to_numpy()[ok.argmax()] if ok.any()
                          else 2 * max(cfg.rep_budgets), censored=not ok.any()))
        last, e = mine[mine.budget == cfg.rep_after], pd.DataFrame(e)
        rows.append(dict(r=r, before=b0.exposure.mean(), after=last.exposure.mean(), before_nats=b0.nats.mean(),
                         after_nats=last.nats.mean(), budget=cfg.rep_after, unseen=unseen.exposure.mean(),
                         unseen_nats=unseen.nats.mean(), n=len(last), effort_mean=e.effort.mean(),
                         censored=e.censored.mean()))
        eff.append(e)
    return rows, pd.concat(eff, ignore_index=True)


# --- onion ----------------------------------------------------------------------------------------
def vulnerability(cfg: UnlearningConfig, table: pd.DataFrame) -> np.ndarray:
    """Per training example (table order): the in/out loss gap of notebook 06's subset models (`attacks.in_out_gap`):
    how far training on it moves its loss (the membership signal)."""
    mems = cfg.diet().mem_models(False)
    nats = evaluate(mems, cfg.diet().data(), device=cfg.device, outputs=("nats",))["nats"]
    return attacks.in_out_gap(nats, scores.held_in(mems, table.pos.to_numpy()))


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
    ul = lambda drop: [cfg.unlearn(o, cfg.onion_method, layers[drop], cfg.onion_budget) for o in cfg.originals()]
    return {"removed_layer1": [mk("layer1", i) for i in range(cfg.onion_models)],
            "removed_control": [mk("control", i) for i in range(cfg.onion_models)],
            "unlearned_layer1": ul("layer1"), "unlearned_control": ul("control")}


def onion(cfg: UnlearningConfig, table: pd.DataFrame, layers: dict, plan: dict) -> dict:
    """Layer 2's membership signal before and after layer 1 is removed or unlearned, against the random control.

    Removal: the membership AUC over (subset model, layer-2 example) pairs, in subset models trained without layer 1
    vs without the control, with a bootstrap interval (over layer-2 examples) of the difference. Unlearning: the
    loss-threshold AUC of layer 2 (members) vs the test set under the originals, after unlearning layer 1, after
    unlearning the control (mean over originals)."""
    l2 = _columns(table, layers["layer2"])
    sig = {}
    for name in ("removed_layer1", "removed_control"):
        runs = plan[name]
        nats = evaluate(runs, cfg.diet().data(), device=cfg.device, outputs=("nats",))["nats"][:, l2]
        sig[name] = (nats, scores.held_in(runs, np.array(layers["layer2"])))
    d = attacks.pair_auc_difference(sig["removed_layer1"], sig["removed_control"], cfg.n_boot,
                                    np.random.Generator(np.random.Philox(key=[0, 61])))
    removal = {"before": d["b"], "after": d["a"], "difference": d["a"] - d["b"], "ci_low": d["ci_low"],
               "ci_high": d["ci_high"], "models_per_condition": cfg.onion_models,
               "signal": "membership AUC of layer 2 over (subset model, example) pairs"}
    ul = {}
    for name, runs in (("before", cfg.originals()), ("after", plan["unlearned_layer1"]), ("control", plan["unlearned_control"])):
        ev = evaluate_images(cfg, runs)
        ul[name] = float(np.mean([attacks.loss_auc(ev["train_nats"][k, l2], ev["test_nats"][k]) for k in range(len(runs))]))
        ul[name + "_test_acc"] = float(ev["test_correct"].mean())
    return {"k": cfg.onion_k, "removal": removal,
            "unlearning": {**ul, "method": cfg.onion_method, "budget": cfg.onion_budget,
                           "signal": "loss-threshold AUC of layer 2 vs the test set, mean over originals"}}


def onion_repeats(cfg: UnlearningConfig) -> tuple[int, int]:
    """(the canaries' largest repetition count, the next): the onion on canaries unlearns the first, measures the second."""
    return tuple(sorted(set(cfg.extraction().canary_repeats))[-2:][::-1])


def canary_onion(cfg: UnlearningConfig, ex: pd.DataFrame) -> dict:
    """The next most repeated canaries' exposure before and after the most repeated ones are unlearned."""
    top, nxt = onion_repeats(cfg)
    on, before = ex[ex.onion], ex[ex.budget == 0]
    return {"forgotten_r": top, "measured_r": nxt, "before": before[before.r == nxt].exposure.mean(),
            "after": on[on.r == nxt].exposure.mean(), "forgotten_after": on[on.r == top].exposure.mean(),
            "forgotten_before": before[before.r == top].exposure.mean(), "budget": cfg.onion_budget}


# --- bookkeeping ----------------------------------------------------------------------------------
def new_runs(image_plan_, rep_plan, onion_plan_) -> list[Run]:
    """This notebook's own runs (not notebook 04's or 06's originals: the budget-0 rows)."""
    return [r for row, r in image_plan_ + rep_plan if row["budget"] != 0] + runs_of(onion_plan_)


def check_upstream(cfg: UnlearningConfig, c) -> dict:
    """Outside `smoke` (where everything trains in seconds), notebook 06's runs (originals, scorers, subset models) and
    04's canary models must already be in the run store: notebook 07 does not retrain them. Returns the originals'
    run ids."""
    d, store, canary = cfg.diet(), RunStore(), canary_setup(cfg, c)["originals"]
    runs = cfg.originals() + [r for noisy in (False, True) for r in d.scorers(noisy) + d.mem_models(noisy)] + canary
    missing = [r.run_id() for r in runs if store.load_metrics(r.run_id()) is None]
    check(cfg.scale == "smoke" or not missing, "run store", f"{len(missing)} of {len(runs)} of notebook 06's and 04's "
          f"runs missing (e.g. {missing[:1]})", f"them stored: run notebooks 06 and 04 first at scale {cfg.scale!r} "
          "(dvc repro data_diet extraction)")
    return {"originals (images)": [r.run_id() for r in cfg.originals()], "originals (canaries)": [r.run_id() for r in canary]}


def upstream_seconds(cfg: UnlearningConfig, setup: dict) -> dict:
    """Recorded training time of the originals (stored by notebooks 06 and 04): fails if they are not in the store."""
    return {"images": cfg.training_seconds(cfg.originals()), "canaries": cfg.training_seconds(setup["originals"])}


@dataclasses.dataclass(frozen=True, eq=False)
class UnlearningResults:
    """What notebook 07 measured, for `summarize` (each field is what the function of that name returned)."""
    table: pd.DataFrame  # score_table: notebook 06's scores of the training set
    sets: dict  # forget_sets: kind -> pool positions
    results: pd.DataFrame  # image_results: one row per image run
    effort: pd.DataFrame  # effort: per forget example
    difficulty: dict  # difficulty: Spearman of effort with each score
    repetition: list  # repetition: per r, before and after
    repetition_effort: pd.DataFrame  # repetition: per canary
    onion: dict  # onion: removal and unlearning
    canary_onion: dict  # canary_onion: the onion on canaries
    train_s: float  # recorded training time of this notebook's own runs
    upstream_s: dict  # upstream_seconds
    wall_s: float  # this notebook's wall time


def summarize(cfg: UnlearningConfig, res: UnlearningResults) -> dict:
    """The notebook's metrics dict (written to metrics/07_unlearning.json)."""
    d, e, eff, rep_eff = cfg.diet(), cfg.extraction(), res.effort, res.repetition_effort
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "dataset": d.dataset, "n_train": int(len(res.table)),
        "n_test": int(len(d.data().test_split().indices())),
        "model": {"type": d.model, **dataclasses.asdict(d.model_config()), "n_params": n_params(d.model_config())},
        "n_forget": cfg.n_forget, "forget_sets": forget_set_scores(cfg, res.table, res.sets),
        "methods": list(cfg.methods), "budgets": list(cfg.budgets), "lr": cfg.lr, "npo_beta": cfg.npo_beta,
        "retrain_seeds": list(cfg.retrain_seeds), "original_seeds": [o.seed for o in cfg.originals()],
        "distance_definition": "sqrt(mean_{i in F} (loss_i - mu_i)^2 / mean_{j in F+T} s_j^2): F the forget set, T the "
                               "test set; mu_j, s_j^2: mean and variance (ddof 1) over the retrained seeds of their "
                               "loss on example j",
        "results": res.results.to_dict("records"),
        "best_budget": best_budgets(res.results).to_dict("records"),
        "difficulty": {"method": cfg.effort_method, "n_examples": int(len(eff)),
                       "censored_share": float((eff.censored > 0).mean()), **res.difficulty,
                       "repetitions": spearman_ci(rep_eff.r, rep_eff.effort, cfg.n_boot) if len(rep_eff) >= 3 else None},
        "repetition": res.repetition,
        "repetition_model": {"n_params": n_params(e.text().model(*cfg.canary_shape())),
                             "canary_candidates": 10**e.canary_digits, "method": cfg.rep_method,
                             "budgets": list(cfg.rep_budgets), "lr": cfg.rep_lr},
        "onion": {**res.onion, "canaries": res.canary_onion},
        "training": {"wall_s": res.train_s, "upstream_wall_s": res.upstream_s}, "wall_s": res.wall_s,
    }

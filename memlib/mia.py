"""Membership inference and its scaling law (Morris et al. 2025 §5.2; REFERENCE.md §5): was this sequence in the
model's training set? On notebook 03's corpus and training recipe:

- **targets**: model sizes × nested training-set sizes × seeds (notebook 03's runs, from the run store, plus a second
  seed and a smaller size trained here). Members are a target's own training sequences, non-members sequences of the
  same pool that no target saw (one random permutation of the training documents' sequences: one distribution);
- **attacks and metrics**: `memlib.attacks` (loss, reference-calibrated loss, zlib ratio, Min-K%, offline LiRA against
  references that never saw any evaluated sequence, blind baselines; AUC, TPR at 1% / 0.1% FPR, calibrated F1);
- **the law**: F1 = ½(1 + c1·σ(c2·(x + c3))), x = capacity / |D| (capacity = α·params, α from notebook 01; |D| in
  training sequences), and x = log10(capacity / |D|); constants with bootstrap standard errors, R², out-of-sample
  error (leave one model size out; fit the smaller sizes, predict the larger), the paper's printed constants on our
  grid and on its Table 2, and the dataset size at which F1 = 0.55 for GPT-2-sized models.
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import expit

from memlib import attacks
from memlib.config import check, check_number
from memlib.corpus import Corpus, TextSequences
from memlib.corpus import zlib_bits as corpus_zlib_bits
from memlib.data import lm_pair
from memlib.engine import Run, Subset, evaluate
from memlib.experiment import Experiment, stop_summary
from memlib.models import n_params
from memlib.text import TextConfig, TextMonitor

# Morris et al. 2025 §5.2 as printed (REFERENCE.md §5): targets to compare with, never our outputs.
PAPER_CONSTANTS = {"c1": 1.34, "c2": -0.034, "c3": -33.14}
PAPER_ALPHA = 3.6  # bits/param the paper's capacity uses
PAPER_TABLE2 = [  # (params, |D|, predicted F1, observed F1)
    (1.556e9, 170.7e6, 0.55, 0.546), (1.556e9, 76.8e6, 0.75, 0.711), (1.556e9, 18.9e6, 0.95, 0.959),
    (123.7e6, 13.6e6, 0.55, 0.534), (123.7e6, 6.1e6, 0.75, 0.657), (123.7e6, 1.5e6, 0.95, 0.980)]

TARGET_ATTACKS = ("loss", "reference", "zlib_ratio", "min_k", "lira", "lira_fixed_variance")
BLIND_ATTACKS = ("blind_zlib", "blind_reference")


@dataclass(frozen=True)
class MiaConfig(Experiment):
    SCALES = {
        "smoke": dict(sizes=((1, 4), (1, 8)), n_trains=(4, 16, 64), seeds=(0,), n_eval=32, lira_size=(1, 8),
                      lira_refs=2, lira_n_train=16, lira_population=64, n_boot=50),
        "laptop": dict(),
        "paper": dict(sizes=((1, 32), (1, 64), (2, 64), (4, 64)),
                      n_trains=(256, 512, 1024, 2048, 4096, 8192, 16384, 32768), seeds=(0, 1, 2), n_eval=4096,
                      lira_size=(2, 64), lira_refs=16, lira_n_train=4096, lira_population=32768, n_boot=2000),
    }
    # corpus, training recipe and (where they match) the runs themselves are notebook 03's at the same scale
    sizes: tuple = ((1, 4), (1, 8), (1, 16), (1, 32))  # 03's three and a smaller one trained here
    n_trains: tuple = (64, 128, 256, 512, 1024, 4096)  # training-set sizes (sequences) of the targets
    seeds: tuple = (0, 1)  # seed 0 of 03's sizes is 03's run; the rest are trained here
    n_eval: int = 1024  # members (a target's first ones) and as many non-members per target, at most
    lira_size: tuple = (1, 16)  # the model size whose targets LiRA attacks (8 reference models of that shape)
    lira_refs: int = 8  # offline LiRA reference models, trained together as one stack
    lira_n_train: int = 1024  # sequences per reference model (a random subset of the population)
    lira_population: int = 8192  # population the references draw from: pool rows no target or query uses
    min_k: float = 0.2  # Min-K%: the fraction of lowest-probability tokens averaged
    n_boot: int = 1000  # bootstrap resamples of the law fit
    f1_target: float = 0.55  # extrapolation: the F1 the dataset must bring the attack down to

    def __post_init__(self):  # [n_layer, d_model] pairs from YAML or JSON: tuples, so the config stays hashable
        if isinstance(self.sizes, (list, tuple)):
            object.__setattr__(self, "sizes", tuple(tuple(s) if isinstance(s, list) else s for s in self.sizes))
        super().__post_init__()

    def validate(self):
        super().validate()
        pair = lambda s: len(s) == 2 and all(isinstance(v, int) and v >= 1 for v in s)
        check(len(self.sizes) >= 2 and all(pair(s) for s in self.sizes), "sizes", self.sizes,
              "at least two [n_layer, d_model] pairs of positive integers")
        check(pair(self.lira_size) and tuple(self.lira_size) in {tuple(s) for s in self.sizes}, "lira_size",
              self.lira_size, f"one of sizes {[list(s) for s in self.sizes]}")
        check(len(self.n_trains) >= 3 and all(isinstance(n, int) and n >= 2 for n in self.n_trains), "n_trains",
              self.n_trains, "at least three training-set sizes (sequences), each >= 2")
        check(len(self.seeds) >= 1 and all(isinstance(s, int) and s >= 0 for s in self.seeds), "seeds", self.seeds,
              "a non-empty list of integers >= 0")
        for name in ("n_eval", "lira_n_train", "lira_population", "n_boot"):
            check_number(getattr(self, name), name, 1, integer=True)
        check_number(self.lira_refs, "lira_refs", 2, integer=True)
        check(self.lira_n_train <= self.lira_population, "lira_n_train", self.lira_n_train,
              f"<= lira_population ({self.lira_population})")
        check_number(self.min_k, "min_k", 0, 1, lo_open=True)
        check_number(self.f1_target, "f1_target", 0.5, 1, lo_open=True)

    @functools.cache
    def text(self) -> TextConfig:
        """Notebook 03's config at this scale (built once per config)."""
        return TextConfig.from_params(self.scale, device=self.device, scheduler=self.scheduler)

    # --- where each sequence comes from (positions in the corpus pool) ---------------------------------
    def bounds(self, c: Corpus) -> dict:
        """Pool positions: members [0, n_max), non-members [n_max, n_max + n_eval), LiRA population after them."""
        n_max = max(self.n_trains)
        lo = n_max + self.n_eval
        hi = lo + self.lira_population
        check(hi <= len(c.train), "lira_population", self.lira_population,
              f"at most {len(c.train) - lo} (the pool has {len(c.train)} sequences; targets use {n_max}, "
              f"non-members {self.n_eval})")
        return {"n_max": n_max, "nonmember": (n_max, lo), "population": (lo, hi)}

    # --- runs -------------------------------------------------------------------------------------------
    def targets(self, c: Corpus) -> list[Run]:
        t = self.text()
        return [t._run(c, s, n, seed) for s in self.sizes for seed in self.seeds for n in self.n_trains]

    def references(self, c: Corpus) -> list[Run]:
        """Per size, notebook 03's reference: that shape trained on the whole pool (for the reference attack)."""
        t = self.text()
        return [t._run(c, s, len(c.train), 0) for s in self.sizes]

    def lira_runs(self, c: Corpus) -> list[Run]:
        """Offline LiRA references: lira_size models, each on its own random lira_n_train population sequences."""
        t, (lo, hi) = self.text(), self.bounds(c)["population"]
        data = TextSequences(corpus=t.corpus(), digest=c.digest, n_seqs=hi)
        runs = []
        for j in range(self.lira_refs):
            pick = np.random.default_rng([j, 16]).choice(np.arange(lo, hi), self.lira_n_train, replace=False)
            runs.append(Run(model=t.model(*self.lira_size), data=data, train=t.train_config(), seed=j,
                            subset=Subset(include=tuple(sorted(int(i) for i in pick)))))
        return runs

    def all_runs(self, c: Corpus) -> list[Run]:
        return self.targets(c) + self.references(c) + self.lira_runs(c)


def train_all(cfg: MiaConfig, c: Corpus) -> list[dict]:
    """Train (or load from the store) the targets, the references and the LiRA references."""
    t = cfg.text()
    mon = TextMonitor(c.heldout, t.vocab_size, t.n_monitor)
    return cfg.train(cfg.all_runs(c), mon)


def training_split(cfg: MiaConfig, c: Corpus) -> dict:
    """Training time (as recorded when each run was trained): this notebook's own runs, and the reused ones."""
    theirs = {r.run_id() for r in cfg.text().grid(c) + cfg.text().references(c)}
    own, reused = ([r for r in cfg.all_runs(c) if (r.run_id() in theirs) == shared] for shared in (False, True))
    return {"wall_s": cfg.training_seconds(own) if own else 0.0, "n_runs_trained_here": len({r.run_id() for r in own}),
            "n_runs_shared_with_03": len({r.run_id() for r in reused}),
            "shared_runs_wall_s": cfg.training_seconds(reused) if reused else 0.0}


# --- the queries: members, non-members, and what every model says about them ------------------------------
def zlib_bits(c: Corpus, rows: np.ndarray) -> np.ndarray:
    """zlib-compressed size (bits) of each sequence's decoded text: a model-free measure of its redundancy."""
    return corpus_zlib_bits([c.tokenizer.decode(r.tolist()) for r in rows])


def score_queries(cfg: MiaConfig, c: Corpus) -> dict:
    """Code lengths (nats) and per-token log-probabilities of every query under every run, and zlib sizes.

    Queries: members are the pool's first min(n_max, n_eval) sequences (each target's own first ones, since
    training sets are nested prefixes of a shuffled pool); non-members the n_eval sequences after n_max."""
    b = cfg.bounds(c)
    m_max = min(b["n_max"], cfg.n_eval)
    rows = np.concatenate([c.train[:m_max], c.train[slice(*b["nonmember"])]])
    runs = cfg.all_runs(c)
    res = evaluate(runs, lm_pair(torch.from_numpy(rows), bos=cfg.text().vocab_size), device=cfg.device,
                   outputs=("nats", "logprobs"))
    return {"runs": runs, "index": {r.run_id(): i for i, r in enumerate(runs)}, "nats": res["nats"],
            "logprobs": res["logprobs"], "zlib_bits": zlib_bits(c, rows), "m_max": m_max}


# --- the grid: every attack on every target ---------------------------------------------------------------
def attack_scores(cfg: MiaConfig, q: dict, target: Run, ref: Run, lira: list[Run] | None) -> dict:
    """{attack: (member scores, non-member scores)} for one target (its first m members and m non-members)."""
    m = min(target.data.n_seqs, q["m_max"])
    sel = np.r_[np.arange(m), q["m_max"] + np.arange(m)]
    i, j = q["index"][target.run_id()], q["index"][ref.run_id()]
    nats, ref_nats, zb = q["nats"][i, sel], q["nats"][j, sel], q["zlib_bits"][sel]
    s = {"loss": attacks.loss_score(nats), "reference": attacks.reference_score(nats, ref_nats),
         "zlib_ratio": attacks.zlib_ratio_score(nats, zb), "min_k": attacks.min_k_score(q["logprobs"][i, sel], cfg.min_k),
         "blind_zlib": attacks.blind_zlib_score(zb), "blind_reference": attacks.loss_score(ref_nats)}
    if lira:
        refs = q["nats"][[q["index"][r.run_id()] for r in lira]][:, sel]
        s["lira"] = attacks.lira_offline_score(nats, refs)
        s["lira_fixed_variance"] = attacks.lira_offline_score(nats, refs, fixed_variance=True)
    return {k: (v[:m], v[m:]) for k, v in s.items()}


def grid(cfg: MiaConfig, c: Corpus, q: dict, alpha: float) -> pd.DataFrame:
    """One row per (target, attack): the attack's metrics, the target's size, data and capacity ratio."""
    refs = {(r.model.n_layer, r.model.d_model): r for r in cfg.references(c)}
    lira = cfg.lira_runs(c)
    rows = []
    for k, t in enumerate(cfg.targets(c)):
        shape = (t.model.n_layer, t.model.d_model)
        scores = attack_scores(cfg, q, t, refs[shape], lira if shape == tuple(cfg.lira_size) else None)
        p = n_params(t.model)
        for name, (mem, non) in scores.items():
            rows.append(dict(n_layer=shape[0], d_model=shape[1], n_params=p, n_train=t.data.n_seqs, seed=t.seed,
                             attack=name, capacity_bits=alpha * p, x=alpha * p / t.data.n_seqs,
                             **attacks.attack_metrics(mem, non, seed=k)))
    return pd.DataFrame(rows)


def roc_points(cfg: MiaConfig, c: Corpus, q: dict, n_layer: int, d_model: int, n_train: int, seed: int) -> dict:
    """{attack: (fpr, tpr)} of one target, for the ROC figure."""
    t = next(r for r in cfg.targets(c) if (r.model.n_layer, r.model.d_model, r.data.n_seqs, r.seed)
             == (n_layer, d_model, n_train, seed))
    ref = next(r for r in cfg.references(c) if (r.model.n_layer, r.model.d_model) == (n_layer, d_model))
    lira = cfg.lira_runs(c) if (n_layer, d_model) == tuple(cfg.lira_size) else None
    return {name: attacks.roc(mem, non) for name, (mem, non) in attack_scores(cfg, q, t, ref, lira).items()}


# --- the scaling law ----------------------------------------------------------------------------------------
def law(x, c1, c2, c3):
    """Morris et al.'s form: F1 = ½(1 + c1·σ(c2·(x + c3)))."""
    return 0.5 * (1 + c1 * expit(c2 * (np.asarray(x, float) + c3)))


FORMS = {  # name -> (what x is, x from capacity / |D|)
    "linear": ("capacity / |D| (bits per training sequence), the paper's", lambda r: np.asarray(r, float)),
    "log10": ("log10(capacity / |D|)", lambda r: np.log10(np.asarray(r, float))),
}


def fit_law(x: np.ndarray, y: np.ndarray, p0=None) -> dict:
    """Least-squares constants (c1, c2, c3), from several starting points (the loss surface has flat
    directions), with R²; `p0` (a previous fit) is tried first and alone when given."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    starts = [p0] if p0 is not None else [
        (c1, s / max(np.ptp(x), 1e-9), -np.quantile(x, q)) for c1 in (1.0, 1.3) for s in (2.0, 6.0, 20.0)
        for q in (0.25, 0.5, 0.75)]
    best = None
    for st in starts:
        try:
            with warnings.catch_warnings():  # the covariance is not used (uncertainty comes from the bootstrap)
                warnings.simplefilter("ignore", OptimizeWarning)
                p, _ = curve_fit(law, x, y, p0=st, maxfev=3000)
        except (RuntimeError, ValueError):
            continue
        sse = float(((law(x, *p) - y) ** 2).sum())
        if np.all(np.isfinite(p)) and (best is None or sse < best[1]):
            best = (p, sse)
    if best is None:
        return {"c1": float("nan"), "c2": float("nan"), "c3": float("nan"), "r2": float("nan"), "rmse": float("nan")}
    p, sse = best
    sst = float(((y - y.mean()) ** 2).sum())
    return {"c1": float(p[0]), "c2": float(p[1]), "c3": float(p[2]), "r2": 1 - sse / sst if sst > 0 else float("nan"),
            "rmse": math.sqrt(sse / len(y))}


def _constants(f: dict) -> tuple:
    return f["c1"], f["c2"], f["c3"]


def bootstrap_law(x: np.ndarray, y: np.ndarray, fit: dict, n_boot: int, grid_x: np.ndarray, seed: int = 0) -> dict:
    """Bootstrap over points (grid cells): standard errors of the constants and a 95% band of the curve."""
    g = np.random.default_rng([seed, 17])
    consts, curves = [], []
    for _ in range(n_boot):
        i = g.integers(0, len(x), len(x))
        f = fit_law(x[i], y[i], p0=_constants(fit))
        if np.isfinite(f["c1"]):
            consts.append(_constants(f))
            curves.append(law(grid_x, *_constants(f)))
    consts, curves = np.array(consts), np.array(curves)
    se = consts.std(0, ddof=1) if len(consts) > 1 else np.full(3, np.nan)
    lo, hi = np.quantile(curves, [0.025, 0.975], axis=0) if len(curves) else (np.nan * grid_x,) * 2
    return {"se": dict(zip(("c1", "c2", "c3"), se.tolist())), "n_ok": len(consts), "samples": consts,
            "band_x": grid_x, "band_low": lo, "band_high": hi}


def out_of_sample(df: pd.DataFrame, form: str) -> dict:
    """Fit on some model sizes, predict the others: leave each size out in turn, and fit the smaller half of
    the sizes to predict the larger half (extrapolation in model size). RMSE of F1 on the held-out points."""
    tx = FORMS[form][1]
    sizes = sorted(df.n_params.unique())
    rows, pred = [], np.full(len(df), np.nan)
    for p in sizes:
        tr, te = df.n_params != p, df.n_params == p
        f = fit_law(tx(df.x[tr]), df.f1[tr])
        yhat = law(tx(df.x[te]), *_constants(f))
        pred[te.to_numpy()] = yhat
        rows.append({"held_out_n_params": int(p), "rmse": float(np.sqrt(np.mean((yhat - df.f1[te]) ** 2)))})
    small, large = sizes[:len(sizes) // 2], sizes[len(sizes) // 2:]
    tr, te = df.n_params.isin(small), df.n_params.isin(large)
    f = fit_law(tx(df.x[tr]), df.f1[tr])
    rmse_sl = float(np.sqrt(np.mean((law(tx(df.x[te]), *_constants(f)) - df.f1[te]) ** 2)))
    err = (pred - df.f1.to_numpy()) ** 2
    return {"leave_one_size_out": rows,
            "leave_one_size_out_rmse": float(np.sqrt(err[np.isfinite(err)].mean())) if np.isfinite(err).any() else float("nan"),
            "small_to_large": {"fit_n_params": [int(s) for s in small], "predict_n_params": [int(s) for s in large],
                               "rmse": rmse_sl, "constants": {k: f[k] for k in ("c1", "c2", "c3")}},
            "predicted": pred}


def law_points(g: pd.DataFrame, attack: str = "loss") -> pd.DataFrame:
    """The law's data: one point per target (model size, training-set size, seed) for `attack`."""
    return g[g.attack == attack][["n_params", "n_train", "seed", "x", "f1", "auc"]].reset_index(drop=True)


def fit_forms(pts: pd.DataFrame, n_boot: int) -> dict:
    """Per form: constants, bootstrap SEs, R², RMSE, out-of-sample errors, and the band for the figure."""
    out = {}
    for form, (what, tx) in FORMS.items():
        x = tx(pts.x)
        f = fit_law(x, pts.f1)
        gx = np.linspace(x.min() - 0.5 * np.ptp(x), x.max() + 0.1 * np.ptp(x), 200) if form == "log10" else \
            np.geomspace(pts.x.min() / 10, pts.x.max() * 1.2, 200)
        b = bootstrap_law(x, pts.f1.to_numpy(), f, n_boot, gx)
        oos = out_of_sample(pts, form)
        out[form] = {"x": what, **f, "se": b["se"], "n_boot": n_boot, "n_boot_converged": b["n_ok"],
                     "out_of_sample": {k: v for k, v in oos.items() if k != "predicted"},
                     "_band": b, "_oos_pred": oos["predicted"]}
    return out


def _x_at(f1: float, c1: float, c2: float, c3: float) -> float:
    """x at which the law gives `f1` (nan where it never does)."""
    q = (2 * f1 - 1) / c1 if c1 else float("nan")
    if not (0 < q < 1) or not c2:
        return float("nan")
    return math.log(q / (1 - q)) / c2 - c3


def paper_constants_check(pts: pd.DataFrame, fits: dict, alpha: float) -> dict:
    """The paper's printed constants (and our refits) on the paper's Table 2 and on our grid, predicted vs observed.

    Table 2's x is the paper's own: 3.6·params / |D|. On our grid x is α·params / |D| with our α. The law form
    refitted to Table 2's six observed F1 values shows what constants that table implies."""
    def row(source, p, d, x, obs, **extra):  # one point: what the printed constants and each refit predict there
        return {"source": source, "n_params": p, "n_train": d, "x": x, **extra, "observed_f1": obs,
                "printed_constants_f1": float(law(x, **PAPER_CONSTANTS)),
                **{f"our_{form}_fit_f1": float(law(FORMS[form][1](x), *_constants(f))) for form, f in fits.items()}}

    tab = [row("paper Table 2", p, d, PAPER_ALPHA * p / d, obs, paper_predicted_f1=pred) for p, d, pred, obs in PAPER_TABLE2]
    xs, obs = np.array([r["x"] for r in tab]), np.array([r["observed_f1"] for r in tab])
    on_table = fit_law(xs, obs)
    pts = pts.assign(**{f"oos_{form}": f["_oos_pred"] for form, f in fits.items()})
    ours = pts.groupby(["n_params", "n_train"], as_index=False).agg(
        x=("x", "mean"), observed_f1=("f1", "mean"), **{f"oos_{form}": (f"oos_{form}", "mean") for form in fits})
    mine = [row("this grid (mean of seeds)", int(r.n_params), int(r.n_train), r.x, r.observed_f1,
                **{f"our_{form}_fit_f1_out_of_sample": float(r[f"oos_{form}"]) for form in fits}) for _, r in ours.iterrows()]
    rmse = lambda rows, k: float(np.sqrt(np.mean([(r[k] - r["observed_f1"]) ** 2 for r in rows])))
    return {"paper_table2": tab, "ours": mine, "printed_constants": PAPER_CONSTANTS, "paper_alpha": PAPER_ALPHA,
            "our_alpha": alpha,
            "printed_constants_rmse_on_paper_table2": rmse(tab, "printed_constants_f1"),
            "printed_constants_rmse_on_ours": rmse(mine, "printed_constants_f1"),
            "paper_predicted_rmse_on_paper_table2": rmse(tab, "paper_predicted_f1"),
            **{f"our_{form}_fit_rmse_on_paper_table2": rmse(tab, f"our_{form}_fit_f1") for form in fits},
            "law_refit_to_paper_table2": {k: on_table[k] for k in ("c1", "c2", "c3", "r2", "rmse")}}


def extrapolate(fits: dict, alpha: float, f1_target: float = 0.55) -> list[dict]:
    """With each refit: the training-set size (sequences) at which the loss attack's F1 falls to `f1_target`
    for GPT-2-sized models, with a 95% bootstrap interval, beside the paper's sizes for F1 = 0.55."""
    paper = {p: d for p, d, pred, _ in PAPER_TABLE2 if pred == 0.55}
    rows = []
    for form, f in fits.items():
        inv = (lambda x: x) if form == "linear" else (lambda x: 10 ** x)
        x0 = _x_at(f1_target, *_constants(f))
        boot = np.array([_x_at(f1_target, *c) for c in f["_band"]["samples"]])
        ok = boot[np.isfinite(boot)]
        for p, d_paper in paper.items():
            for a_name, a in (("ours", alpha), ("paper", PAPER_ALPHA)):
                d = lambda x: a * p / inv(x) if np.isfinite(x) and inv(x) > 0 else float("nan")
                lo, hi = (sorted([d(v) for v in np.quantile(ok, [0.025, 0.975])]) if len(ok) > 10
                          else (float("nan"), float("nan")))
                rows.append({"form": form, "n_params": p, "alpha": a, "alpha_source": a_name, "f1": f1_target,
                             "x_at_f1": x0 if np.isfinite(x0) else None, "n_train_sequences": d(x0),
                             "ci_low": lo, "ci_high": hi, "n_boot_reaching": int(len(ok)),
                             "paper_n_train": d_paper, "ratio_to_paper": d(x0) / d_paper})
    return rows


# --- the notebook's metrics ---------------------------------------------------------------------------------
def beats_blind(g: pd.DataFrame) -> pd.DataFrame:
    """Per target attack and cell: AUC minus the better blind baseline's, and whether it exceeds twice the AUC's
    standard error under no signal (`attacks.null_auc_se`)."""
    key = ["n_params", "n_train", "seed"]
    blind = g[g.attack.isin(BLIND_ATTACKS)].groupby(key).auc.max().rename("blind_auc")
    d = g[~g.attack.isin(BLIND_ATTACKS)].join(blind, on=key)
    se0 = attacks.null_auc_se(d.n_members, d.n_nonmembers)
    d = d.assign(margin=d.auc - d.blind_auc, beats=(d.auc - d.blind_auc) > 2 * se0)
    return d


def attack_summary(g: pd.DataFrame) -> list[dict]:
    """Per attack over the cells it ran on: mean AUC, TPR at 1% FPR, F1, and how often it beats the blind baselines."""
    bb = beats_blind(g).set_index(["n_params", "n_train", "seed", "attack"])
    out = []
    for a, d in g.groupby("attack", sort=False):
        row = {"attack": a, "n_cells": len(d), "mean_auc": d.auc.mean(), "mean_tpr_at_1pct_fpr": d.tpr_at_1pct_fpr.mean(),
               "mean_tpr_at_0_1pct_fpr": d.tpr_at_0_1pct_fpr.mean(), "mean_f1": d.f1.mean(),
               "mean_f1_best_threshold": d.f1_best_threshold.mean(), "max_auc": d.auc.max(), "min_auc": d.auc.min()}
        if a not in BLIND_ATTACKS:
            b = bb.xs(a, level="attack")
            row["cells_beating_blind"] = int(b.beats.sum())
        out.append(row)
    return out


def lira_comparison(g: pd.DataFrame, lira_size: tuple) -> list[dict]:
    """On the LiRA size's cells: every attack's AUC and TPR at 1% FPR side by side, per training-set size."""
    d = g[(g.n_layer == lira_size[0]) & (g.d_model == lira_size[1])]
    t = d.pivot_table(index="n_train", columns="attack", values=["auc", "tpr_at_1pct_fpr"], aggfunc="mean")
    return [{"n_train": int(n), **{f"{m}_{a}": float(t.loc[n, (m, a)]) for m, a in t.columns}} for n in t.index]


@dataclass(frozen=True, eq=False)
class MiaResults:
    """What notebook 05 measured, for `summarize`."""
    corpus: Corpus  # notebook 03's corpus (where the queries come from)
    grid: pd.DataFrame  # `grid`: one row per (target, attack)
    fits: dict  # `fit_forms`: the law fitted in each form
    paper_check: dict  # `paper_constants_check`
    extrapolation: list  # `extrapolate`
    alpha: float  # capacity per parameter (bits), from notebook 01
    alpha_source: str  # where alpha came from
    training: dict  # `training_split`
    wall_s: float  # this session's training time


def summarize(cfg: MiaConfig, res: MiaResults) -> dict:
    """The notebook's metrics (written to metrics/05_mia_scaling_law.json)."""
    t, b, g = cfg.text(), cfg.bounds(res.corpus), res.grid
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "dataset": t.dataset, "vocab_size": t.vocab_size, "seq_len": t.seq_len,
        "sizes": [list(s) for s in cfg.sizes], "n_params": sorted({int(v) for v in g.n_params}),
        "n_trains": list(cfg.n_trains), "seeds": list(cfg.seeds),
        "queries": {"members": f"each target's first min(n, {cfg.n_eval}) training sequences (pool rows 0..n-1)",
                    "nonmembers": f"as many pool rows from {b['nonmember'][0]} on (no target saw them)",
                    "calibration": "a random half of the members and of the non-members sets the F1 threshold; "
                                   "F1 is measured on the other half",
                    "n_eval": cfg.n_eval},
        "reference": "per size, notebook 03's model of that shape trained on the whole pool (one pass: it has seen "
                     "members and non-members alike, once)",
        "lira": {"size": list(cfg.lira_size), "n_params": n_params(t.model(*cfg.lira_size)), "refs": cfg.lira_refs,
                 "n_train_per_ref": cfg.lira_n_train, "population": list(b["population"]),
                 "cells": "every target of this size (both seeds, every n); other sizes have no LiRA"},
        "min_k": cfg.min_k, "alpha_bits_per_param": res.alpha, "alpha_source": res.alpha_source,
        "grid": g.drop(columns=["n_calibration", "n_evaluation"]).to_dict("records"),
        "attacks": attack_summary(g), "lira_comparison": lira_comparison(g, cfg.lira_size),
        "law_fit": {form: {k: v for k, v in f.items() if not k.startswith("_")} for form, f in res.fits.items()},
        "paper_constants_check": res.paper_check, "extrapolation": res.extrapolation,
        "training": res.training, "wall_s": res.wall_s,
    }

"""Training-data extraction (Carlini et al. 2021, 2023; Morris et al. 2025; REFERENCE.md §4).

On notebook 03's corpus and models (reused from the run store), plus runs trained here with
duplicated sequences and canaries:

- k-extractability: greedy decoding (the engine's KV-cache decoder) from a sequence's first k tokens
  reproduces the other S − k exactly; rates on training vs held-out sequences, against dataset size;
- duplication: a training set of `dup_n_train` sequences in which disjoint random groups of `group`
  sequences appear r = 1, 2, 4, ... times; extraction against r, model size and prefix length, each
  with a log-linear slope and its bootstrap interval;
- canaries (`memlib.canaries`): exposure against repetitions, exact and extrapolated;
- generate-and-rank (Carlini et al. 2021): sampled texts ranked by perplexity, zlib ratio, ratio to a
  smaller model and lowercase ratio; precision of each ranking's top at finding training text;
- rarity: how extraction relates to the mean inverse document frequency of a sequence's tokens.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from memlib import canaries as can
from memlib.config import check, check_number
from memlib.experiment import Experiment, stop_summary
from memlib.corpus import Corpus, TextSequences, zlib_bits
from memlib.data import lm_pair
from memlib.engine import Run, Subset, evaluate, generate, resolve_device, stack_of
from memlib.models import n_params
from memlib.stats import bootstrap_slope, rate_ci, spearman_ci
from memlib.text import TextConfig, TextMonitor


@dataclass(frozen=True)
class ExtractionConfig(Experiment):
    SCALES = {
        "smoke": dict(ks=(4, 8), n_eval=16, dup_sizes=((1, 4), (1, 8)), dup_n_train=48, repeats=(1, 2, 4), group=4,
                      seeds=(0,), canary_digits=2,
                      canaries_per_r=2, canary_repeats=(0, 1, 4), n_samples=48, top=10, match_len=8,
                      extrapolation_sample=40),
        "laptop": dict(),
        "paper": dict(ks=(8, 16, 32), n_eval=1024, dup_sizes=((1, 32), (1, 64), (2, 64), (4, 64), (4, 128)),
                      dup_n_train=8192, group=128, seeds=(0, 1, 2), canary_digits=6,
                      canaries_per_r=8, n_samples=20000, top=100, match_len=32, extrapolation_sample=20000),
    }
    # corpus, model sizes and training settings are notebook 03's at the same scale (memlib.text.TextConfig)
    ks: tuple = (4, 8, 16)  # prefix lengths (k + 1 BOS < S; the paper's 32 needs S = 64, the paper scale)
    n_eval: int = 256  # training and held-out sequences tested per model
    dup_sizes: tuple = ((1, 8), (1, 16), (1, 32), (1, 64))  # (n_layer, d_model) of the duplication runs: 03's and
    # one larger, since in 03's sizes only the largest extracts anything
    dup_n_train: int = 1024  # sequences in the duplication runs' training set (above the models' capacity)
    repeats: tuple = (1, 2, 4, 8, 16, 32)  # times each group of sequences appears
    group: int = 32  # sequences per repetition count
    seeds: tuple = (0, 1, 2)  # duplication runs: model seed, and which sequences and secrets are picked
    canary_digits: int = 4  # secret length: |R| = 10^digits candidates, all scored (exact exposure)
    canaries_per_r: int = 4
    canary_repeats: tuple = (0, 1, 2, 4, 8, 16, 32)  # 0: never seen (exposure at chance, ~1.44 bits)
    n_samples: int = 2000  # generate-and-rank: texts sampled from the largest duplication model
    temperature: float = 1.0
    top_k: int = 40
    top: int = 100  # precision@top of each ranking
    match_len: int = 16  # a sample counts as training text if it holds a run of this many training tokens
    extrapolation_sample: int = 1000  # candidates the skew-normal is fitted to

    def validate(self):
        super().validate()
        S = self.text().seq_len
        check(len(self.ks) >= 1 and all(isinstance(k, int) and 1 <= k <= S - 2 for k in self.ks), "ks", self.ks,
              f"prefix lengths in [1, {S - 2}] (the sequence length is {S})")
        check(len(self.repeats) >= 2 and all(isinstance(r, int) and r >= 1 for r in self.repeats), "repeats",
              self.repeats, "at least two repetition counts >= 1")
        check(all(isinstance(r, int) and r >= 0 for r in self.canary_repeats) and 0 in self.canary_repeats,
              "canary_repeats", self.canary_repeats, "repetition counts >= 0, including 0 (the chance control)")
        check(len(self.dup_sizes) >= 2 and all(len(s) == 2 and all(isinstance(v, int) and v >= 1 for v in s)
                                               for s in self.dup_sizes), "dup_sizes", self.dup_sizes,
              "at least two [n_layer, d_model] pairs of positive integers")
        check(len(self.seeds) >= 1 and all(isinstance(s, int) and s >= 0 for s in self.seeds), "seeds", self.seeds,
              "a non-empty list of integers >= 0")
        for name in ("n_eval", "dup_n_train", "group", "canaries_per_r", "n_samples", "top", "match_len",
                     "extrapolation_sample"):
            check_number(getattr(self, name), name, 1, integer=True)
        check_number(self.canary_digits, "canary_digits", 1, 7, integer=True)
        check(self.group * len(self.repeats) <= self.dup_n_train, "group", self.group,
              f"at most dup_n_train / len(repeats) = {self.dup_n_train // len(self.repeats)}")
        check(self.match_len <= S, "match_len", self.match_len, f"<= the sequence length {S}")
        check_number(self.temperature, "temperature", 0, lo_open=True)

    @functools.cache
    def text(self) -> TextConfig:
        """Notebook 03's config at this scale: the corpus, model sizes and training settings."""
        return TextConfig.from_params(self.scale, device=self.device, scheduler=self.scheduler)

    @property
    def k_mid(self) -> int:
        """The middle prefix length, the one the summaries quote."""
        return sorted(self.ks)[len(self.ks) // 2]

    # --- runs ---------------------------------------------------------------------------------
    def groups(self, seed: int) -> dict:
        """{r: pool positions of the sequences that appear r times}: disjoint random groups, picked by `seed`."""
        perm = np.random.default_rng([seed, 7]).permutation(self.dup_n_train)
        return {r: sorted(int(i) for i in perm[j * self.group:(j + 1) * self.group]) for j, r in enumerate(self.repeats)}

    def secrets(self, seed: int) -> dict:
        """{r: the secrets of the canaries that appear r times}."""
        s = can.random_secrets(self.canaries_per_r * len(self.canary_repeats), self.canary_digits, seed)
        return {r: list(s[j * self.canaries_per_r:(j + 1) * self.canaries_per_r]) for j, r in enumerate(self.canary_repeats)}

    def dup_data(self, c: Corpus, seed: int) -> can.CanaryText:
        secrets = tuple(s for ss in self.secrets(seed).values() for s in ss)
        text = TextSequences(corpus=self.text().corpus(), digest=c.digest, n_seqs=min(self.dup_n_train, len(c.train)))
        return can.CanaryText(text=text, secrets=secrets)

    def dup_run(self, c: Corpus, shape, seed: int) -> Run:
        """One model trained on the pool's first dup_n_train sequences with repeated groups and canaries."""
        data, t = self.dup_data(c, seed), self.text()
        pos = dict(zip(data.secrets, data.canary_positions()))
        reps = [(i, r) for r, g in self.groups(seed).items() if r > 1 for i in g]
        reps += [(pos[s], r) for r, ss in self.secrets(seed).items() if r > 1 for s in ss]
        unseen = tuple(pos[s] for s in self.secrets(seed).get(0, []))
        return Run(model=t.model(*shape), data=data, train=t.train_config(), seed=seed,
                   subset=Subset(exclude=unseen, repeat=tuple(sorted(reps))))

    def dup_runs(self, c: Corpus) -> list[Run]:
        return [self.dup_run(c, s, seed) for s in self.dup_sizes for seed in self.seeds]


def train_dup(cfg: ExtractionConfig, c: Corpus) -> list[dict]:
    t = cfg.text()
    mon = TextMonitor(c.heldout, t.vocab_size, t.n_monitor)
    return cfg.train(cfg.dup_runs(c), mon)


# --- k-extractability ---------------------------------------------------------------------------
def suffix_match(stack, seqs: torch.Tensor, k: int) -> torch.Tensor:
    """How many of the S − k tokens after each sequence's first k greedy decoding reproduces before its first
    mistake: seqs (K, N, S) -> (K, N); the sequence is k-extractable when this is S − k."""
    S = seqs.shape[-1]
    out = generate(stack, seqs[..., :k].to(stack.device), S - k).cpu()
    return (out == seqs[..., k:]).long().cumprod(-1).sum(-1)


def _per_model(rows_of: list[np.ndarray], n: int) -> tuple[torch.Tensor, list[int]]:
    """(K, n, S) sequences, each model's own rows repeated to fill n (decoded once each, counted once)."""
    counts = [min(n, len(r)) for r in rows_of]
    padded = [np.resize(r[:c], (n, r.shape[1])) for r, c in zip(rows_of, counts)]
    return torch.from_numpy(np.stack(padded)).long(), counts


def k_extraction(cfg: ExtractionConfig, c: Corpus) -> pd.DataFrame:
    """Per notebook-03 grid model and prefix length: k-extractable rates on its training and held-out sequences."""
    t, rows = cfg.text(), []
    held = torch.from_numpy(c.heldout[:cfg.n_eval]).long()
    grid = t.grid(c)
    for shape in t.sizes:
        mine = [r for r in grid if (r.model.n_layer, r.model.d_model) == tuple(shape)]
        s = stack_of(mine, device=resolve_device(cfg.device))
        train, counts = _per_model([c.train[:r.data.n_seqs] for r in mine], cfg.n_eval)
        for k in cfg.ks:
            tr = suffix_match(s, train, k) == train.shape[-1] - k
            he = suffix_match(s, held.expand(len(mine), -1, -1), k) == held.shape[-1] - k
            for j, r in enumerate(mine):
                a, b = tr[j, :counts[j]], he[j]
                rows.append(dict(n_layer=shape[0], d_model=shape[1], n_params=n_params(r.model), seed=r.seed,
                                 n_train=r.data.n_seqs, k=k, **_rate("train", int(a.sum()), len(a)),
                                 **_rate("heldout", int(b.sum()), len(b))))
    return pd.DataFrame(rows)


def _rate(name, hits, n):
    rate, lo, hi = rate_ci(hits, n)
    return {f"{name}_rate": rate, f"{name}_ci_low": lo, f"{name}_ci_high": hi, f"{name}_n": n}


# --- duplication --------------------------------------------------------------------------------
def duplication(cfg: ExtractionConfig, c: Corpus) -> pd.DataFrame:
    """One row per (model, repeated sequence, k): whether it is k-extractable and its matched suffix length."""
    rows = []
    for shape in cfg.dup_sizes:
        runs = [cfg.dup_run(c, shape, seed) for seed in cfg.seeds]
        s = stack_of(runs, device=resolve_device(cfg.device))
        groups = [cfg.groups(r.seed) for r in runs]
        pos = [[i for r in cfg.repeats for i in g[r]] for g in groups]  # (K, R*group): positions in the corpus pool
        seqs = torch.from_numpy(np.stack([c.train[p] for p in pos])).long()
        for k in cfg.ks:
            match = suffix_match(s, seqs, k)
            for j, (run, g) in enumerate(zip(runs, groups)):
                reps = [r for r in cfg.repeats for _ in g[r]]
                for i, (p, r) in enumerate(zip(pos[j], reps)):
                    m = int(match[j, i])
                    rows.append(dict(n_params=n_params(run.model), d_model=shape[1], seed=run.seed, r=r, k=k,
                                     position=p, matched=m, extracted=m == seqs.shape[-1] - k))
    return pd.DataFrame(rows)


def duplication_rates(dup: pd.DataFrame) -> pd.DataFrame:
    """Rate and Clopper-Pearson interval per (r, model size, k), over sequences and seeds."""
    out = [dict(r=r, n_params=p, k=k, **_rate("", int(g.extracted.sum()), len(g)))
           for (r, p, k), g in dup.groupby(["r", "n_params", "k"])]
    return pd.DataFrame(out).rename(columns=lambda x: x.lstrip("_"))


def duplication_fits(dup: pd.DataFrame, n_boot: int = 1000) -> dict:
    """Log-linear slopes (rate per doubling) with bootstrap 95% intervals: against r (per size and k),
    against model size (per r and k) and against prefix length (per size and r)."""
    def fit(df, x, fixed):
        out = []
        for key, g in df.groupby(fixed):
            levels = sorted(g[x].unique())
            if len(levels) < 2:
                continue
            res = bootstrap_slope(np.array(levels), [g[g[x] == v].extracted.to_numpy(float) for v in levels], n_boot)
            out.append({**dict(zip(fixed, key)), **res})
        return out
    return {"vs_repeats": fit(dup, "r", ["n_params", "k"]), "vs_model_size": fit(dup, "n_params", ["r", "k"]),
            "vs_prefix": fit(dup, "k", ["n_params", "r"])}


# --- canaries -----------------------------------------------------------------------------------
def exposures(cfg: ExtractionConfig, c: Corpus) -> pd.DataFrame:
    """Exact and extrapolated exposure of every canary of every duplication run."""
    t, rows = cfg.text(), []
    data0 = cfg.dup_data(c, cfg.seeds[0])
    cand_secrets = can.all_secrets(cfg.canary_digits)
    x, y = lm_pair(data0.sequences(cand_secrets), bos=t.vocab_size)
    runs = cfg.dup_runs(c)
    nats = evaluate(runs, (x, y), device=cfg.device, outputs=("nats",))["nats"]  # (R, |R|)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(cand_secrets), min(cfg.extrapolation_sample, len(cand_secrets)), replace=False)
    for run, row in zip(runs, nats):
        secrets = cfg.secrets(run.seed)
        for r, ss in secrets.items():
            idx = [int(s) for s in ss]  # candidate i is the secret whose digits spell i
            exact = can.exposure(row, row[idx])
            extra = can.extrapolated_exposure(row[sample], row[idx])
            for s, e, x_ in zip(ss, exact, extra):
                rows.append(dict(n_params=n_params(run.model), d_model=run.model.d_model, seed=run.seed, r=r,
                                 secret=s, exposure=float(e), exposure_extrapolated=float(x_),
                                 max_exposure=float(np.log2(len(cand_secrets)))))
    return pd.DataFrame(rows)


# --- generate-and-rank ------------------------------------------------------------------------
def _ngrams(rows: np.ndarray, m: int) -> set:
    return {tuple(r[i:i + m]) for r in rows.tolist() for i in range(len(r) - m + 1)}


def generate_and_rank(cfg: ExtractionConfig, c: Corpus) -> tuple[dict, pd.DataFrame]:
    """Sample from the largest duplication model (seed 0); drop repeated samples; rank by each metric; precision
    of each top-`top` at finding samples that hold `match_len` consecutive tokens of that model's training set,
    over all samples and over those that are not the canaries' template (natural text)."""
    t = cfg.text()
    big, small = (cfg.dup_run(c, shape, cfg.seeds[0]) for shape in (max(cfg.dup_sizes, key=lambda s: s[0] * s[1] ** 2),
                                                                     min(cfg.dup_sizes, key=lambda s: s[0] * s[1] ** 2)))
    s = stack_of([big], device=resolve_device(cfg.device))
    g = torch.Generator().manual_seed(0)
    drawn = generate(s, torch.zeros(1, cfg.n_samples, 0, dtype=torch.long), t.seq_len, temperature=cfg.temperature,
                     top_k=cfg.top_k, generator=g)[0].cpu()  # (n, S)
    samples = torch.unique(drawn, dim=0)  # Carlini et al. deduplicate generations before ranking
    tok, V, S = c.tokenizer, t.vocab_size, t.seq_len
    x, y = lm_pair(samples, bos=V)
    nats = evaluate([big, small], (x, y), device=cfg.device, outputs=("nats",), cache=False)["nats"] / S  # per token
    texts = [tok.decode(r.tolist()) for r in samples]
    lower = [tok.encode(tx.lower()).ids[:S] for tx in texts]
    low = torch.tensor([l + [0] * (S - len(l)) for l in lower])  # pad (ignored: only each text's own tokens count)
    lp = evaluate([big], lm_pair(low, bos=V), device=cfg.device, outputs=("logprobs",), cache=False)["logprobs"][0]
    lens = np.array([max(1, len(l)) for l in lower])
    low_nats = -np.array([lp[i, :n].sum() for i, n in enumerate(lens)]) / lens
    zbits = zlib_bits(texts)
    own = s.y[s.own[0].unique()].cpu().numpy()
    held = lambda grams: np.array([any(tuple(r[i:i + cfg.match_len]) in grams for i in range(S - cfg.match_len + 1))
                                   for r in samples.numpy()])
    df = pd.DataFrame(dict(text=texts, nats_per_token=nats[0], small_nats_per_token=nats[1],
                           lower_nats_per_token=low_nats, zlib_bits=zbits, memorized=held(_ngrams(own, cfg.match_len)),
                           canary=held(_ngrams(big.data.sequences().numpy(), cfg.match_len))))
    scores = {  # lower = more likely memorized (Carlini et al. 2021)
        "perplexity": df.nats_per_token,
        "zlib_ratio": df.nats_per_token * S / df.zlib_bits,
        "small_model_ratio": df.nats_per_token / df.small_nats_per_token,
        "lowercase_ratio": df.nats_per_token / df.lower_nats_per_token,
    }
    for name, sc in scores.items():
        df[name] = sc
    prec = {}
    for subset, d in (("all", df), ("natural", df[~df.canary])):
        prec[subset] = {name: _rate("precision", int(d.nsmallest(cfg.top, name).memorized.sum()), min(cfg.top, len(d)))
                        for name in scores}
        prec[subset]["random (base rate)"] = _rate("precision", int(d.memorized.sum()), len(d))
    meta = {"n_samples": cfg.n_samples, "n_unique": len(df), "n_canary_template": int(df.canary.sum()), "top": cfg.top,
            "match_len": cfg.match_len, "model_params": n_params(big.model), "small_params": n_params(small.model),
            "temperature": cfg.temperature, "top_k": cfg.top_k, "precision_at_top": prec["all"],
            "precision_at_top_natural": prec["natural"]}
    return meta, df


# --- rarity ----------------------------------------------------------------------------------
def idf(c: Corpus) -> np.ndarray:
    """Inverse document frequency of every token over the training pool's sequences: log(N / (1 + df))."""
    s = np.sort(c.train, axis=1)
    first = np.ones_like(s, dtype=bool)
    first[:, 1:] = s[:, 1:] != s[:, :-1]  # each token once per sequence
    df = np.bincount(s[first], minlength=c.cfg.vocab_size)
    return np.log(len(c.train) / (1 + df))


def rarity(cfg: ExtractionConfig, c: Corpus, dup: pd.DataFrame) -> pd.DataFrame:
    """Per repeated sequence and model: its mean token IDF, kept for the (model size, r, k) cells whose outcomes
    are mixed (some sequences extracted, some not): among equally duplicated sequences, are rarer ones extracted?"""
    w = idf(c)
    rate = dup.groupby(["n_params", "r", "k"]).extracted.transform("mean")
    d = dup[(rate > 0) & (rate < 1)].copy()
    rows = c.train[d.position.to_numpy()]
    d["mean_idf"] = w[rows].mean(1)
    d["text"] = [c.tokenizer.decode(r.tolist()) for r in rows]
    return d


# --- the notebook's metrics --------------------------------------------------------------------
def convergence(ke: pd.DataFrame, ratios: dict | None = None) -> list[dict]:
    """Per model size and k: train − held-out rate at the smallest and the largest training set (and, where
    notebook 03's metrics give it, the dataset bits / capacity of each)."""
    out = []
    for (p, k), g in ke.groupby(["n_params", "k"]):
        g = g.groupby("n_train", as_index=False).mean(numeric_only=True).sort_values("n_train")
        first, last = g.iloc[0], g.iloc[-1]
        out.append(dict(n_params=int(p), k=int(k), n_first=int(first.n_train), gap_first=first.train_rate - first.heldout_rate,
                        n_last=int(last.n_train), gap_last=last.train_rate - last.heldout_rate,
                        heldout_rate_last=last.heldout_rate, train_rate_last=last.train_rate,
                        ratio_last=(ratios or {}).get((int(p), int(last.n_train)))))
    return out


def rarity_summary(rr: pd.DataFrame, k: int, n_examples: int = 5) -> dict:
    """Mean IDF of extracted vs not, and its rank correlation with the matched suffix length, within the mixed cells."""
    d = rr[rr.k == k]
    if d.empty:
        return {"k": k, "n": 0, "cells": [], "note": "no (model size, r) cell has mixed outcomes at this k"}
    z = d.groupby(["n_params", "r"]).mean_idf.transform(lambda v: (v - v.mean()) / (v.std() or 1))  # within each cell
    top = d[d.extracted].sort_values("mean_idf", ascending=False).head(n_examples)
    return {"k": k, "n": len(d), "n_extracted": int(d.extracted.sum()),
            "cells": sorted({(int(p), int(r)) for p, r in zip(d.n_params, d.r)}),
            "mean_idf_extracted": float(d[d.extracted].mean_idf.mean()),
            "mean_idf_not_extracted": float(d[~d.extracted].mean_idf.mean()),
            "spearman_idf_within_cell_vs_matched": spearman_ci(z.to_numpy(), d.matched.to_numpy()),
            "most_extracted": top[["n_params", "seed", "r", "matched", "mean_idf", "text"]].to_dict("records")}


@dataclass(frozen=True, eq=False)
class ExtractionResults:
    """What notebook 04 measured, for `summarize`."""

    k_extractable: pd.DataFrame  # `k_extraction`: per notebook-03 model and k
    duplication: pd.DataFrame  # `duplication`: per duplication model, repeated sequence and k
    fits: dict  # `duplication_fits(duplication)`
    exposures: pd.DataFrame  # `exposures`: per canary of every duplication run
    generate_and_rank: dict  # the meta half of `generate_and_rank`
    rarity: pd.DataFrame  # `rarity`
    capacity_ratios: dict  # `capacity_ratios()`: notebook 03's dataset bits / capacity
    train_s: float  # the duplication runs' training time, as the store recorded it (an empty store's)
    wall_s: float  # this session's time


def summarize(cfg: ExtractionConfig, res: ExtractionResults) -> dict:
    """The notebook's metrics."""
    t, ke, dup, fits, ex = cfg.text(), res.k_extractable, res.duplication, res.fits, res.exposures
    big = max(dup.n_params.unique())
    head = next(f for f in fits["vs_repeats"] if f["n_params"] == big and f["k"] == cfg.k_mid)
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "dataset": t.dataset, "vocab_size": t.vocab_size, "seq_len": t.seq_len, "ks": list(cfg.ks),
        "k_extractable": ke.to_dict("records"), "convergence": convergence(ke, res.capacity_ratios),
        "duplication": duplication_rates(dup).to_dict("records"),
        "duplication_slope": {"n_params": int(big), "k": cfg.k_mid, "slope_per_doubling_of_r": head["slope"],
                              "ci_low": head["ci_low"], "ci_high": head["ci_high"]},
        "duplication_fits": fits,
        "exposure": ex.groupby("r", as_index=False)[["exposure", "exposure_extrapolated"]].mean().to_dict("records"),
        "exposure_runs": ex.to_dict("records"), "canary_candidates": 10**cfg.canary_digits,
        "exposure_extrapolation_error": float((ex.exposure_extrapolated - ex.exposure).abs().median()),
        "generate_and_rank": res.generate_and_rank, "rarity": rarity_summary(res.rarity, cfg.k_mid),
        "training": {"wall_s": res.train_s}, "wall_s": res.wall_s,
    }


def capacity_ratios() -> dict:
    """{(n_params, n_train): dataset bits / capacity} from notebook 03's metrics, or {} before it has run."""
    from memlib.results import read_metrics
    m = read_metrics("03_text_generalization")
    return {(int(r["n_params"]), int(r["n_train"])): r["ratio"] for r in (m or {}).get("curves", [])}

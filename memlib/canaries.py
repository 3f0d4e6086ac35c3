"""Canaries and their exposure (Carlini et al. 2019, "The Secret Sharer"; REFERENCE.md §4).

A canary is a sequence made of a fixed template followed by a random secret of d digits, put into
the training set r times. Its exposure is log2|R| − log2 rank, where the rank orders all |R| = 10^d
candidate secrets by the model's code length of the whole sequence (the true secret first when the
model has memorized it: exposure log2|R|; a secret the model never saw ranks uniformly at random:
expected exposure log2|R| − E[log2 rank] ≈ 1/ln 2 ≈ 1.44 bits). The exact rank scores every
candidate; for secrets too long to enumerate, `extrapolated_exposure` fits a skew-normal to the
code lengths of sampled candidates (Carlini et al. 2019 §4.3) and reads the canary's tail probability.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from memlib.config import Config, check
from memlib.corpus import TextSequences, cached
from memlib.data import lm_pair

TEMPLATE = ("In his annual message to the Congress the President said that the combination of the "
            "lock on the vault of the Treasury is")


def digit_ids(tokenizer) -> list[int]:
    """The byte-level token of each digit 0-9, then the token of a space: a secret is written as the space and
    one token per digit (not re-tokenized by BPE, so every candidate secret has the same length)."""
    ids = [tokenizer.encode(ch).ids for ch in "0123456789 "]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"the tokenizer has no single token for each digit and the space ({ids}): canaries need a "
                         "byte-level tokenizer (memlib.corpus builds one)")
    return [i[0] for i in ids]


def canary_sequences(tokenizer, seq_len: int, secrets, template: str = TEMPLATE) -> torch.Tensor:
    """(len(secrets), seq_len) token ids: the template's last tokens, a space, then one token per digit."""
    d = {len(s) for s in secrets}
    check(len(d) <= 1, "secrets", secrets, "digit strings of one length")
    n_digits = d.pop() if d else 0
    head = tokenizer.encode(template).ids
    need = seq_len - n_digits - 1
    check(need >= 1 and len(head) >= need, "template", template,
          f"a text of at least {need} tokens (and secrets shorter than the sequence)")
    ids = digit_ids(tokenizer)
    rows = [head[len(head) - need:] + [ids[10]] + [ids[int(ch)] for ch in s] for s in secrets]
    return torch.tensor(rows, dtype=torch.long).view(len(rows), seq_len)


@dataclass(frozen=True)
class CanaryText(Config):
    """A text training pool with canaries appended: the first `text.n_seqs` sequences of a prepared
    corpus's pool, then one canary sequence per secret (pool positions n_seqs, n_seqs+1, ...). Which
    canaries a run sees, and how often, is its `Subset` (exclude the unseen, repeat the rest)."""

    text: TextSequences
    secrets: tuple = ()  # digit strings of one length
    template: str = TEMPLATE

    def validate(self):
        check(all(isinstance(s, str) and s.isdigit() for s in self.secrets), "secrets", self.secrets,
              "a list of digit strings")
        check(len({len(s) for s in self.secrets}) <= 1, "secrets", self.secrets, "digit strings of one length")

    def check_model(self, model):
        self.text.check_model(model)

    def source(self):
        return ("canaries", self.text.source(), self.secrets, self.template)

    def indices(self):
        return torch.arange(self.text.n_seqs + len(self.secrets))

    def canary_positions(self) -> list[int]:
        return list(range(self.text.n_seqs, self.text.n_seqs + len(self.secrets)))

    def sequences(self, secrets=None) -> torch.Tensor:
        """Canary sequences (N, S) for `secrets` (default: this pool's own) in this corpus's tokens."""
        c = cached(self.text.corpus)
        return canary_sequences(c.tokenizer, self.text.corpus.seq_len, self.secrets if secrets is None else secrets,
                                self.template)

    def load_pool(self, n: int):
        _, seqs = self.text.load_pool(self.text.n_seqs)
        pool = torch.cat([seqs, self.sequences()])[:n]
        return lm_pair(pool, bos=self.text.corpus.vocab_size)


def all_secrets(n_digits: int) -> list[str]:
    return ["".join(p) for p in itertools.product("0123456789", repeat=n_digits)]


def random_secrets(n: int, n_digits: int, seed: int) -> tuple:
    """n distinct random secrets of n_digits digits."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(10**n_digits, n, replace=False)
    return tuple(f"{int(p):0{n_digits}d}" for p in picks)


def exposure(candidate_nats: np.ndarray, canary_nats: float | np.ndarray) -> np.ndarray:
    """Exact exposure log2|R| − log2 rank of each canary among the |R| candidates (its own secret included),
    ranked by code length, ties at their mid-rank."""
    cand = np.sort(np.asarray(candidate_nats, float))
    c = np.atleast_1d(np.asarray(canary_nats, float))
    below = np.searchsorted(cand, c, side="left")
    tied = np.searchsorted(cand, c, side="right") - below
    rank = below + (tied + 1) / 2  # 1-based mid-rank
    return math.log2(len(cand)) - np.log2(rank)


def extrapolated_exposure(sample_nats: np.ndarray, canary_nats: float | np.ndarray) -> np.ndarray:
    """Exposure estimated as −log2 P(X ≤ canary) under a skew-normal fitted to a sample of candidates'
    code lengths (Carlini et al. 2019): no enumeration of the candidate space needed."""
    a, loc, scale = stats.skewnorm.fit(np.asarray(sample_nats, float))
    p = stats.skewnorm.cdf(np.atleast_1d(np.asarray(canary_nats, float)), a, loc, scale)
    return -np.log2(np.clip(p, 1e-300, 1.0))

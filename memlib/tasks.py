"""Synthetic language tasks for a small GPT: fact recall, which only the weights can answer, and in-context
retrieval, which only the prompt can answer (notebook 08; Jin et al. 2023, `../shared/REFERENCE.md` §8).

Every sequence has one format, `m` (key, value) pairs, a two-token query, and the answer:

    k1 v1 k2 v2 ... km vm | q1 q2 | a

- **fact recall**: the query is an *entity*, an ordered pair of *name* tokens (q1, q2), and the answer its
  attribute, a value token fixed once for all by the data seed (a random mapping: nothing about the names
  predicts it). The pairs in the prompt are distractors (random keys and values, none is the answer's source),
  so the answer can only come from the weights. An entity is two tokens so that its attribute cannot be stored
  in the embedding of one token: it has to be computed from both, in the transformer's blocks.
- **in-context retrieval**: q1 is the token ASK and q2 one of the prompt's keys; the answer is the value paired
  with it in this prompt. Values are drawn afresh for every sequence, so the answer is in the prompt and
  nowhere else. Keys are drawn afresh too (`key_order="random"`: the model must find the queried key, the
  induction-head task) or are the same `n_pairs` keys in the same order in every prompt (`"fixed"`: the value
  sits in the queried key's slot, which one attention layer can read).

Only the answer is coded: every other target is `models.IGNORE`, so the loss (and `evaluate`'s nats) counts the
answer token alone. Token ids: values 0..n_values-1, then keys, names, ASK; the GPT's BOS is one more.

`FactsAndICL` is a data spec (`memlib.data`). Its pool holds, in order: the fact training sequences
(`fact_copies` per entity, each with its own distractors), the in-context training sequences, one fresh
sequence per entity (fact evaluation: trained facts, unseen prompts) and `n_test` fresh in-context sequences.
`split` picks which of them `indices()` lists: train | facts | icl.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from memlib.config import Config, check, check_number
from memlib.models import IGNORE

SPLITS = ("train", "facts", "icl")


@dataclass(frozen=True)
class FactsAndICL(Config):
    n_values: int = 32  # answer tokens: attributes of entities and values of in-context pairs
    n_keys: int = 32  # key tokens of the in-context pairs
    n_names: int = 48  # name tokens; an entity is an ordered pair of two different names
    n_facts: int = 1024  # entities, each with a fixed random attribute
    n_pairs: int = 4  # (key, value) pairs in every prompt
    fact_copies: int = 4  # training sequences per entity (each with its own distractor pairs)
    n_icl: int = 4096  # in-context training sequences
    n_test: int = 1024  # fresh in-context sequences for evaluation
    key_order: str = "random"  # random: each prompt's keys drawn afresh (retrieval by matching the key, which needs
    # an induction circuit) | fixed: the same n_pairs keys in the same order in every prompt (retrieval by slot)
    seed: int = 0  # the entities, their attributes and every prompt
    split: str = "train"  # which examples indices() lists: train | facts (one per entity) | icl (fresh)

    def validate(self):
        for f in ("n_values", "n_keys", "n_names"):
            check_number(getattr(self, f), f, 2, integer=True)
        check_number(self.n_facts, "n_facts", 1, integer=True)
        check(self.n_facts <= self.n_names * (self.n_names - 1), "n_facts", self.n_facts,
              f"<= {self.n_names * (self.n_names - 1)}, the ordered pairs of {self.n_names} different names")
        check_number(self.n_pairs, "n_pairs", 1, integer=True)
        check(self.n_pairs <= self.n_keys, "n_pairs", self.n_pairs, f"<= n_keys={self.n_keys} (keys in a prompt differ)")
        check_number(self.fact_copies, "fact_copies", 1, integer=True)
        check_number(self.n_icl, "n_icl", 0, integer=True)
        check_number(self.n_test, "n_test", 1, integer=True)
        check_number(self.seed, "seed", 0, integer=True)
        check(self.split in SPLITS, "split", self.split, f"one of {SPLITS}")
        check(self.key_order in ("random", "fixed"), "key_order", self.key_order, "'random' or 'fixed'")

    # --- vocabulary ----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.n_values + self.n_keys + self.n_names + 1

    @property
    def seq_len(self) -> int:
        return 2 * self.n_pairs + 3

    @property
    def ask(self) -> int:
        return self.vocab_size - 1

    def check_model(self, model):
        check(getattr(model, "vocab_size", None) == self.vocab_size, "vocab_size", getattr(model, "vocab_size", None),
              f"the tasks' vocabulary {self.vocab_size} (values + keys + names + ASK)")
        check(self.seq_len <= getattr(model, "seq_len", 0), "seq_len", getattr(model, "seq_len", None),
              f">= the tasks' sequence length {self.seq_len} (2 x n_pairs + 3)")

    def source(self):
        return ("facts_icl", self.n_values, self.n_keys, self.n_names, self.n_facts, self.n_pairs, self.fact_copies,
                self.n_icl, self.n_test, self.seed) + (("fixed",) if self.key_order == "fixed" else ())

    # --- layout of the pool ----------------------------------------------------------------
    def _blocks(self) -> dict:
        """Kind -> (start, stop) rows of the pool."""
        sizes = (("fact_train", self.n_facts * self.fact_copies), ("icl_train", self.n_icl),
                 ("facts", self.n_facts), ("icl", self.n_test))
        out, at = {}, 0
        for name, n in sizes:
            out[name] = (at, at + n)
            at += n
        return out

    def indices(self) -> torch.Tensor:
        b = self._blocks()
        if self.split == "train":
            return torch.arange(b["fact_train"][0], b["icl_train"][1])
        return torch.arange(*b[self.split])

    def split_of(self, split: str) -> "FactsAndICL":
        """The same pool's `split` (train | facts | icl), for evaluate."""
        return self.replace(split=split)

    def fact_rows(self, entities) -> tuple:
        """Pool positions of the training sequences of `entities` (to hold them out: `Subset(exclude=...)`)."""
        rows = np.arange(self.n_facts * self.fact_copies)
        return tuple(int(r) for r in rows[np.isin(rows % self.n_facts, np.asarray(entities))])

    def entities(self) -> tuple[np.ndarray, np.ndarray]:
        """The entities' name tokens (n_facts, 2) and attributes (n_facts,), fixed by `seed`."""
        g = np.random.Generator(np.random.Philox(key=[self.seed, 41]))
        n = self.n_names
        pairs = g.choice(n * (n - 1), self.n_facts, replace=False)  # ordered pairs of different names
        first, second = pairs // (n - 1), pairs % (n - 1)
        second = second + (second >= first)
        base = self.n_values + self.n_keys
        return np.stack([base + first, base + second], 1), g.integers(0, self.n_values, self.n_facts)

    def _prompts(self, n: int, stream: int) -> np.ndarray:
        """n prompts of n_pairs (key, value) pairs with different keys, (n, 2 n_pairs), from stream `stream`."""
        g = np.random.Generator(np.random.Philox(key=[self.seed, stream]))
        keys = np.argsort(g.random((n, self.n_keys)), 1)[:, : self.n_pairs] + self.n_values
        if self.key_order == "fixed":
            keys = np.broadcast_to(np.arange(self.n_pairs) + self.n_values, keys.shape)
        values = g.integers(0, self.n_values, (n, self.n_pairs))
        return np.stack([keys, values], 2).reshape(n, 2 * self.n_pairs)

    def sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """Every sequence of the pool, (N, seq_len) tokens, and its kind (N,): 0 fact, 1 in-context."""
        return _sequences(self.replace(split="train"))

    def _build(self) -> tuple[np.ndarray, np.ndarray]:
        names, attrs = self.entities()
        b = self._blocks()
        parts, kinds = [], []
        for block, stream in (("fact_train", 1), ("icl_train", 2), ("facts", 3), ("icl", 4)):
            n = b[block][1] - b[block][0]
            ctx = self._prompts(n, stream)
            if block.startswith("fact"):
                e = np.arange(n) % self.n_facts
                tail = np.concatenate([names[e], attrs[e][:, None]], 1)
            else:
                g = np.random.Generator(np.random.Philox(key=[self.seed, 10 + stream]))
                which = g.integers(0, self.n_pairs, n)
                tail = np.stack([np.full(n, self.ask), ctx[np.arange(n), 2 * which], ctx[np.arange(n), 2 * which + 1]], 1)
            parts.append(np.concatenate([ctx, tail], 1))
            kinds.append(np.full(n, int(not block.startswith("fact"))))
        return np.concatenate(parts).astype(np.int64), np.concatenate(kinds)

    def load_pool(self, n: int):
        seqs, _ = self.sequences()
        return task_pair(torch.tensor(seqs[:n]), bos=self.vocab_size)


@functools.lru_cache(maxsize=4)
def _sequences(spec: FactsAndICL) -> tuple[np.ndarray, np.ndarray]:
    seqs, kinds = spec._build()
    seqs.flags.writeable = kinds.flags.writeable = False  # shared by every caller
    return seqs, kinds


def task_pair(seqs: torch.Tensor, bos: int):
    """Inputs (BOS + all but the last token) and targets (IGNORE everywhere but the answer, the last token)."""
    x = torch.cat([torch.full_like(seqs[:, :1], bos), seqs[:, :-1]], 1)
    y = torch.full_like(seqs, IGNORE)
    y[:, -1] = seqs[:, -1]
    return x, y


def answer_correct(correct: np.ndarray) -> np.ndarray:
    """Whether each answer was predicted, from `evaluate(...)["correct"]` (runs, N, seq_len) -> (runs, N)."""
    return correct[..., -1]


def answer_monitor(stack, n: int = 1024) -> dict:
    """Engine monitor: answer accuracy and loss on (up to) `n` of each model's training sequences, spread
    evenly over them (so both kinds are in); each model's own min(n, N_k), whatever else is in its stack."""
    return stack.own_accuracy(n, spread=True, position=-1)

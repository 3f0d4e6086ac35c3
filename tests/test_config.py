import math

import pytest

from memlib.capacity import CapacityConfig
from memlib.config import ConfigError
from memlib.data import RandomTokens
from memlib.engine import Run, TrainConfig
from memlib.models import CNNConfig, GPTConfig, MLPConfig


def test_run_ids_are_pinned():
    """Hashes of existing runs must never change: a changed hash orphans every stored run."""
    run = Run(model=GPTConfig(vocab_size=64, seq_len=16, d_model=16), data=RandomTokens(64, 16, 100, 0))
    assert GPTConfig().run_id() == "9508cd4f9d6c6812"
    assert run.run_id() == "0b8e8c40a29e104c"


def test_hash_ignores_defaults():
    """Only non-default fields name a run: spelling out a default gives the same id."""
    a = GPTConfig(vocab_size=64)
    assert a.run_id() == GPTConfig(vocab_size=64, n_layer=1, tied=True).run_id()
    assert a.run_id() != GPTConfig(vocab_size=65).run_id()
    assert a.non_default() == {"vocab_size": 64}


@pytest.mark.parametrize("make, field", [
    (lambda: GPTConfig(vocab_size=1), "vocab_size"),
    (lambda: GPTConfig(vocab_size=0), "vocab_size"),
    (lambda: GPTConfig(seq_len=0), "seq_len"),
    (lambda: GPTConfig(n_layer=0), "n_layer"),
    (lambda: GPTConfig(d_model=-4), "d_model"),
    (lambda: GPTConfig(d_model=30, n_head=4), "n_head"),
    (lambda: MLPConfig(n_classes=1), "n_classes"),
    (lambda: MLPConfig(width=0), "width"),
    (lambda: CNNConfig(in_shape=(1, 2, 2)), "in_shape"),
    (lambda: TrainConfig(lr=float("nan")), "lr"),
    (lambda: TrainConfig(lr=-1e-3), "lr"),
    (lambda: TrainConfig(lr=0), "lr"),
    (lambda: TrainConfig(precision="fp8"), "precision"),
    (lambda: TrainConfig(batch_size=0), "batch_size"),
    (lambda: TrainConfig(stop="never"), "stop"),
    (lambda: TrainConfig(decay_frac=1.5), "decay_frac"),
    (lambda: TrainConfig(betas=(0.9, 1.0)), "betas"),
    (lambda: TrainConfig(max_steps=2.5), "max_steps"),
    (lambda: RandomTokens(n_seqs=0), "n_seqs"),
    (lambda: RandomTokens(vocab_size=1), "vocab_size"),
    (lambda: Run(model=GPTConfig(vocab_size=64, seq_len=8), data=RandomTokens(64, 16, 10)), "seq_len"),
    (lambda: Run(model=GPTConfig(vocab_size=32), data=RandomTokens(64, 16, 10)), "vocab_size"),
    (lambda: CapacityConfig.from_params("huge"), "scale"),
    (lambda: CapacityConfig.from_params("laptop", vocab_size=1), "vocab_size"),
    (lambda: CapacityConfig.from_params("laptop", sizes=[[1, 0]]), "sizes"),
    (lambda: CapacityConfig.from_params("laptop", fracs=[0.5, -1]), "fracs"),
    (lambda: CapacityConfig.from_params("laptop", seeds=[]), "seeds"),
    (lambda: CapacityConfig.from_params("laptop", precisions=["fp16"]), "precisions"),
    (lambda: CapacityConfig.from_params("laptop", lr=math.nan), "lr"),
    (lambda: CapacityConfig.from_params("laptop", batch_size=-3), "batch_size"),
])
def test_bad_values_fail_naming_the_field(make, field, monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    with pytest.raises(ConfigError, match=rf"invalid {field}=.*expected"):
        make()


def test_unknown_parameter_is_named_with_allowed(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['vocab'\].*allowed are"):
        CapacityConfig.from_params("laptop", vocab=64)


def test_scales_build_and_env_forces_scale(monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    for s in CapacityConfig.SCALES:
        assert CapacityConfig.from_params(s).scale == s
    assert CapacityConfig.from_params("paper").vocab_size == 2048
    monkeypatch.setenv("MEMLIB_SCALE", "smoke")
    assert CapacityConfig.from_params("laptop").scale == "smoke"


def test_laptop_grid_meets_the_issue():
    """Issue 25's laptop grid within 20 minutes: >= 4 shapes spanning >= 5x in parameters (the earlier 6 shapes over
    10x did not fit beside the ladder and the sweep), >= 3 dataset sizes reaching about twice (>= 1.95x) the paper's 3.83 bits/param,
    >= 2 seeds, bf16 on fp32's own sizes and seeds (like for like), >= 3 seeds in the V sweep (a verdict needs them)."""
    from memlib.capacity import MIN_SEEDS_FOR_VERDICT
    from memlib.models import n_params
    c = CapacityConfig(scale="laptop")
    p = [n_params(GPTConfig(vocab_size=c.vocab_size, seq_len=c.seq_len, n_layer=L, d_model=d)) for L, d in c.sizes]
    assert len(p) >= 4 and max(p) / min(p) >= 5
    assert len(c.fracs) >= 3 and max(c.fracs) * c.alpha_prior >= 1.95 * 3.83 and len(c.seeds) >= 2
    assert set(c.bf16_fracs) <= set(c.fracs) and set(c.bf16_seeds) <= set(c.seeds)
    assert len(c.sweep_seeds) >= MIN_SEEDS_FOR_VERDICT

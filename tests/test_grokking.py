import pytest
import torch

from memlib.config import ConfigError
from memlib.engine import Stack
from memlib.grokking import GrokConfig, ModularAddition, first_step, monitor


def test_every_pair_once_and_split_disjoint():
    d = ModularAddition(p=13, n_train=50, split_seed=2)
    x, y = d.load_pool(0)
    pairs = {(int(a), int(b)) for a, b, _ in x}
    assert len(x) == 169 and len(pairs) == 169
    assert torch.equal(y, (x[:, 0] + x[:, 1]) % 13) and (x[:, 2] == 13).all()
    tr, te = set(d.indices().tolist()), set(d.test_indices().tolist())
    assert len(tr) == 50 and not tr & te and len(tr | te) == 169
    assert set(ModularAddition(13, 30, 2).indices().tolist()) <= tr  # fractions of one split are nested


def test_monitor_scores_train_and_complement():
    cfg = GrokConfig.from_params("smoke")
    runs = cfg.sweep_runs()[:2]
    s = Stack(runs)
    m = monitor(s)
    assert m["train_acc"].shape == (2,) and ((0 <= m["test_acc"]) & (m["test_acc"] <= 1)).all()
    assert (m["train_bits"] > 0).all() and (m["weight_norm"] > 0).all()


def test_first_step():
    h = [{"step": 10, "a": 0.5}, {"step": 20, "a": 0.995}, {"step": 30, "a": 1.0}]
    assert first_step(h, "a") == 20 and first_step(h, "a", 1.01) is None


@pytest.mark.parametrize("kw, field", [({"p": 2}, "p"), ({"train_frac": 0}, "train_frac"),
                                        ({"train_frac": 1.2}, "train_frac"), ({"sweep_fracs": [0.5, 0]}, "sweep_fracs"),
                                        ({"steps": 0}, "steps"), ({"seeds": []}, "seeds"),
                                        ({"sweep_d_models": [0]}, "sweep_d_models"), ({"alpha": -1}, "alpha"),
                                        ({"lr": float("inf")}, "lr")])
def test_bad_grokking_params(kw, field, monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE", raising=False)
    with pytest.raises(ConfigError, match=rf"invalid {field}="):
        GrokConfig.from_params("laptop", **kw)

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
    """At initialization (seeded, so these are golden values of the pre-refactor code): correct counts on the
    36 and 85 training pairs and their complements in the 121, and a near-uniform code of the labels."""
    import math
    cfg = GrokConfig.from_params("smoke")
    runs = cfg.sweep_runs()[:2]
    assert [r.data.n_train for r in runs] == [36, 85] and [r.run_id() for r in runs] == ["017b631f27340218",
                                                                                      "ee51829d0b5a8c8f"]
    m = monitor(Stack(runs))
    assert m["train_acc"].tolist() == pytest.approx([2 / 36, 6 / 85]) and m["test_acc"].tolist() == pytest.approx([9 / 85, 5 / 36])
    assert torch.equal(m["score"], m["test_acc"])
    assert m["train_loss"].tolist() == pytest.approx([math.log(11)] * 2, rel=0.01)  # about uniform over 11 labels
    assert m["train_bits"].tolist() == pytest.approx([2.399327 * 36 / math.log(2), 2.402117 * 85 / math.log(2)], rel=1e-5)
    assert m["weight_norm"].tolist() == pytest.approx([3.478773] * 2, rel=1e-5)  # the same init: seeds[0]


def test_summarize_names_each_seed_and_the_transition():
    import pandas as pd

    from memlib.grokking import GrokResult, per_seed, summarize
    from memlib.report import grokking as words
    cfg = GrokConfig.from_params("smoke")
    steps = pd.DataFrame(dict(seed=[0, 1], n_params=[100, 100], memorize_step=[150, 150], generalize_step=[900, None],
                              final_test_acc=[1.0, 0.4]))
    ratios = pd.DataFrame(dict(ratio=[0.5, 2.0], n_train=[10, 40], n_params=[100, 100], d_model=[8, 8],
                               generalize_step=[300, None], final_test_acc=[1.0, 0.2]))
    assert per_seed(steps)[1] == {"seed": 1, "memorize_step": 150, "generalize_step": None, "final_test_acc": 0.4}
    m = summarize(cfg, GrokResult(steps=steps, steps_no_wd=steps.iloc[1:], ratios=ratios, alpha=2.0, alpha_source="test"))
    assert m["generalize_step"] == [900, None] and m["weight_decay_ablation"]["generalize_step"] == [None]
    assert m["transition"]["generalized_share_below_1"] == 1.0 and m["transition"]["generalized_share_above_1"] == 0.0
    a = words.answer(m)
    assert "Grokking, in 1 of 2 seeds" in a and "at steps 900, never, 750 steps later" in a and "does not support" in a
    assert "weight decay is what makes it generalize" in a
    assert words.describe_seeds(m["per_seed"]).splitlines()[1] == \
        "seed 1: train 99% at step 150, test 99% never; final test accuracy 0.400"
    assert "mean over seeds that generalized: 750 steps" in words.describe(m)


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

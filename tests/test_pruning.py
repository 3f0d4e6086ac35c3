"""Notebook 08 (pruning): masks hold exactly the asked sparsity through training, one-shot runs of zero steps,
iterative pruning with both rewinds, the ignored targets of the synthetic tasks, the tasks solvable only as
intended (facts from the weights, in-context answers from the prompt), and the notebook's smoke run."""
import numpy as np
import pytest
import torch

from memlib import models, pruning
from memlib.config import ConfigError
from memlib.engine import Init, Mask, Run, Subset, TrainConfig, evaluate, load_weights, sparsity_of, sweep
from memlib.engine.masks import magnitude_mask, prunable
from memlib.images import Images, accuracy_monitor
from memlib.models import GPTConfig, MLPConfig
from memlib.store import RunStore
from memlib.tasks import FactsAndICL, answer_correct, answer_monitor, task_pair
from test_notebooks import figure, smoke

DIGITS = Images(dataset="digits", noise=0.2)
MLP = MLPConfig(in_shape=(1, 8, 8), width=16, depth=1)
TC = TrainConfig(lr=3e-3, batch_size=64, warmup=0, stop="steps", max_steps=40, eval_every=40, decay_frac=0.25)


def _zeros(w: dict) -> int:
    return sum(int((v == 0).sum()) for n, v in w.items() if prunable(n, v.shape))


def test_pruning_to_s_zeroes_exactly_that_fraction_and_it_stays_zero_through_training(tmp_path):
    st = RunStore(tmp_path)
    dense = Run(model=MLP, data=DIGITS, train=TC, seed=0)
    n = pruning.prunable_count(MLP)
    assert n == 64 * 16 + 16 * 10
    sp = [0.2, 0.36, 0.488]
    for rewind in pruning.REWINDS:
        chain = pruning.iterative(dense, sp, rewind)
        sweep(chain, accuracy_monitor, st, device="cpu", progress=False)
        prev_zero = None
        for s, r in zip(sp, chain[1:]):
            w = load_weights(r, st)
            assert _zeros(w) == round(s * n), (rewind, s)  # exactly that many weights are zero after training
            assert sparsity_of(w) == pytest.approx(round(s * n) / n, abs=0)
            mask = magnitude_mask(load_weights(r.mask.run, st), s)
            assert all(torch.equal(w[k] * (1 - mask[k]), torch.zeros_like(w[k])) for k in w)  # at the mask's places
            zero = {k: v == 0 for k, v in w.items() if prunable(k, v.shape)}
            if prev_zero is not None:  # an earlier round's zeros stay zero
                assert all((prev_zero[k] <= zero[k]).all() for k in zero)
            prev_zero = zero
            assert torch.count_nonzero(w["net.1.bias"]) > 0  # biases are not pruned
        # weight rewinding starts every round from the dense run's initialization; lr rewinding from the last round
        assert all(r.init is None for r in chain[1:]) if rewind == "weights" else \
            all(r.init.run == p for r, p in zip(chain[1:], chain[:-1]))


def test_one_shot_is_a_zero_step_run_equal_to_the_masked_weights_and_recovery_keeps_the_mask(tmp_path):
    st = RunStore(tmp_path)
    dense = Run(model=MLP, data=DIGITS, train=TC, seed=1)
    shot = pruning.one_shot(dense, 0.7)
    tuned = pruning.one_shot(dense, 0.7, TC.replace(max_steps=10))
    m = sweep([shot, tuned], accuracy_monitor, st, device="cpu", progress=False)
    assert m[0]["steps"] == 0 and m[1]["steps"] == 10
    wd, ws, wt = (load_weights(r, st) for r in (dense, shot, tuned))
    mask = magnitude_mask(wd, 0.7)
    assert all(torch.equal(ws[k], wd[k] * mask[k]) for k in wd)  # untrained: exactly the masked dense weights
    assert _zeros(ws) == _zeros(wt) == round(0.7 * pruning.prunable_count(MLP))
    assert not torch.equal(ws["net.1.weight"], wt["net.1.weight"])  # the recovery run trained
    with pytest.raises(ConfigError, match="max_steps"):
        TrainConfig(max_steps=-1)


def test_ignored_targets_cost_nothing_and_count_as_wrong():
    logits = torch.randn(2, 3, 5)
    y = torch.tensor([[1, models.IGNORE, 4], [models.IGNORE, models.IGNORE, 0]])
    lp = torch.log_softmax(logits, -1)
    want = torch.stack([-(lp[0, 0, 1] + lp[0, 2, 4]), -lp[1, 2, 0]])
    assert torch.allclose(models.lm_nats(logits, y), want)
    full = torch.tensor([[1, 2, 4]])  # without ignored targets: the plain sum, bit for bit
    assert torch.equal(models.lm_nats(logits[:1], full), -lp[0].gather(-1, full[0].unsqueeze(-1)).sum().unsqueeze(0))


def test_task_sequences_have_the_format_the_docstring_says():
    t = FactsAndICL(n_facts=40, n_names=8, n_pairs=3, fact_copies=2, n_icl=30, n_test=20)
    seqs, kinds = t.sequences()
    assert seqs.shape == (40 * 2 + 30 + 40 + 20, t.seq_len) and seqs.max() < t.vocab_size
    names, attrs = t.entities()
    assert len({tuple(p) for p in names}) == 40 and (names[:, 0] != names[:, 1]).all()
    ctx = seqs[:, : 2 * t.n_pairs]
    keys, vals = ctx[:, ::2], ctx[:, 1::2]
    assert ((keys >= t.n_values) & (keys < t.n_values + t.n_keys)).all() and (vals < t.n_values).all()
    assert all(len(set(k)) == t.n_pairs for k in keys)  # keys in a prompt differ
    fact, icl = seqs[kinds == 0], seqs[kinds == 1]
    e = np.arange(len(fact)) % 40
    e[80:] = np.arange(40)  # the evaluation block: one sequence per entity
    assert (fact[:, -3:-1] == names[e]).all() and (fact[:, -1] == attrs[e]).all()
    for row in icl:  # the answer is the value the prompt pairs with the queried key
        assert row[-3] == t.ask and row[-1] == dict(zip(row[: 2 * t.n_pairs: 2], row[1: 2 * t.n_pairs: 2]))[row[-2]]
    x, y = t.load_pool(5)
    assert (y[:, :-1] == models.IGNORE).all() and torch.equal(y[:, -1], torch.tensor(seqs[:5, -1]))
    assert len(t.indices()) == 110 and len(t.split_of("facts").indices()) == 40 and len(t.split_of("icl").indices()) == 20


TASK = FactsAndICL(n_values=8, n_keys=8, n_names=10, n_facts=48, n_pairs=2, fact_copies=64, n_icl=4096, n_test=256,
                   key_order="fixed")
HELD = tuple(range(32, 48))  # entities never trained on


@pytest.fixture(scope="module")
def task_model(tmp_path_factory):
    """A small GPT trained on the mixture with 16 of the 48 facts held out."""
    st = RunStore(tmp_path_factory.mktemp("tasks"))
    gpt = GPTConfig(vocab_size=TASK.vocab_size, seq_len=TASK.seq_len, n_layer=2, d_model=32)
    tc = TrainConfig(lr=1e-2, batch_size=128, warmup=20, stop="steps", max_steps=600, eval_every=200)
    run = Run(model=gpt, data=TASK, train=tc, seed=0, subset=Subset(exclude=TASK.fact_rows(HELD)))
    sweep([run], answer_monitor, st, device="cpu", progress=False)
    return run, st


def test_facts_are_answered_only_from_the_weights(task_model):
    run, st = task_model
    ok = answer_correct(evaluate([run], TASK.split_of("facts"), st, device="cpu", outputs=("correct",))["correct"])[0]
    trained, held = ok[:32].mean(), ok[32:].mean()
    assert trained > 0.6, trained  # the trained facts are recalled ...
    # ... the held-out ones, same format, are at chance (1/8: 2 of 16 expected; 6 or more has probability < 0.5%)
    assert held < 6 / 16, (trained, held)


def _answers(run, st, x, y):
    logits = evaluate([run], (x, y), st, device="cpu", outputs=("logits",), cache=False)["logits"][0]
    return torch.from_numpy(logits[:, -1].argmax(-1))


def test_in_context_answers_come_from_the_prompt(task_model):
    run, st = task_model
    seqs = torch.tensor(TASK.sequences()[0][TASK.split_of("icl").indices().numpy()])
    x, y = task_pair(seqs, TASK.vocab_size)
    pred = _answers(run, st, x, y)
    assert (pred == y[:, -1]).float().mean() > 0.4  # well above 1/8, a guess among all values
    # rename every value token in the prompts by a fixed permutation: the answers follow the renaming,
    # so they are read from the prompt, not stored in the weights
    perm = torch.roll(torch.arange(TASK.n_values), 1)
    x2 = x.clone()
    x2[:, 2: 2 * TASK.n_pairs + 1: 2] = perm[x[:, 2: 2 * TASK.n_pairs + 1: 2]]  # values sit at 2, 4, ... after BOS
    pred2 = _answers(run, st, x2, y)
    assert (pred2 != pred).float().mean() > 0.8  # the answers change ...
    assert (pred2 == perm[pred]).float().mean() > 0.8  # ... into the renamed ones


def test_bad_parameters_fail_with_the_field_named():
    with pytest.raises(ConfigError, match="sparsities"):
        pruning.PruningConfig.from_params("smoke", sparsities=(0.2, 0.5))
    with pytest.raises(ConfigError, match="rewinds"):
        pruning.PruningConfig.from_params("smoke", rewinds=("late",))
    with pytest.raises(ConfigError, match="n_facts"):
        FactsAndICL(n_names=4, n_facts=100)


def test_pruning_smoke_run_writes_metrics(tmp_path):
    m = smoke("08_pruning", tmp_path)
    assert m["scale"] == "smoke" and m["dataset"] == "digits" and m["noise"] == 0.2 and m["n_relabelled"] == 288
    cfg = pruning.PruningConfig.from_params("smoke")
    rows = m["noisy_labels"]
    assert {(r["sparsity"], r["seed"]) for r in rows} == {(s, seed) for s in [0.0] + cfg.round_sparsities()
                                                          for seed in cfg.seeds}
    assert all(set(r) == {"sparsity", "seed", "test_acc", "train_acc_clean", "train_acc_noisy"} for r in rows)
    kinds = {(r["kind"], r["rewind"]) for r in m["noisy_labels_all"]}
    assert kinds == {("pruned", "lr"), ("pruned", "weights"), ("control", "none")}
    ctrl = [r for r in m["noisy_labels_all"] if r["kind"] == "control"]
    assert [(r["width"], r["nonzero"]) for r in ctrl] == [(23, 1735), (16, 1210)] * 2 and m["mlp"]["width"] == 32
    fv = m["facts_vs_icl"]
    assert [(r["sparsity"], r["mode"]) for r in fv] == [(s, mode) for mode in pruning.MODES for s in cfg.sparsities]
    assert len(m["flips"]) == len(cfg.round_sparsities()) * len(cfg.rewinds)
    # golden values of the smoke run (deterministic on CPU), as the pre-refactor code measured them
    approx = dict(rel=1e-6)
    assert [r["test_acc"] for r in rows] == pytest.approx([0.874652, 0.899721, 0.927577, 0.874652, 0.902507, 0.910864],
                                                          **approx)
    assert [r["train_acc_noisy"] for r in rows] == pytest.approx([0.00694444, 0.00694444, 0.00347222, 0.00694444,
                                                                  0.00347222, 0.0104167], **approx)
    vs = m["pruning_vs_dense"]
    assert [r["helps_every_seed"] for r in vs] == [True, True, False, True]
    assert [r["d_test_acc"] for r in vs] == pytest.approx([0.0264624, 0.0445682, 0.00557103, 0.0097493], **approx)
    assert [r["n_lost"] for r in m["flips"]] == [14, 28, 38, 40]
    assert m["flips"][-1]["auroc_mem"] == pytest.approx(0.539384, **approx)
    assert [r["fact_acc"] for r in fv] == pytest.approx([0.984375, 0.984375, 0.828125, 0.203125,
                                                         0.984375, 0.984375, 0.984375, 0.3125], **approx)
    assert [r["icl_acc"] for r in fv] == pytest.approx([0.992188, 0.996094, 0.996094, 0.0898438,
                                                        1.0, 0.996094, 0.992188, 0.316406], **approx)
    assert m["drop_5pt_sparsity"] == {"fact": {"one-shot": 0.6, "recovery": 0.9}, "icl": {"one-shot": 0.9, "recovery": 0.9}}
    assert m["training"]["wall_s"] > 0
    for name in ("noisy", "flips", "facts_icl"):
        assert figure(f"08_pruning_{name}") > 10_000

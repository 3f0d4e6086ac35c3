"""The engine's seams for notebooks 04-08: runs from stored runs, subsets and repetitions, objectives,
masks, per-example evaluation and gradients, KV-cache decoding, classifiers, and the import graph."""
import ast
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from memlib import models
from memlib.bits import capacity_monitor
from memlib.config import Config, ConfigError
from memlib.data import RandomTokens
from memlib.engine import (Init, Mask, Objective, Run, Stack, Subset, TrainConfig, evaluate, generate, generate_greedy,
                           load_weights, magnitude_mask, per_example_grad_norms, sparsity_of, stack_of, sweep)
from memlib.engine.objectives import OBJECTIVES, Terms
from memlib.models import GPTConfig
from memlib.store import CorruptRunWarning, RunStore

GPT = GPTConfig(vocab_size=16, seq_len=8, d_model=8)
TC = TrainConfig(lr=1e-2, batch_size=32, warmup=0, stop="steps", max_steps=30, eval_every=10, decay_frac=0.0)


def gpt_run(n=24, seed=0, tc=TC, **kw):
    return Run(model=GPT, data=RandomTokens(16, 8, n, seed), train=tc, seed=seed, **kw)


def train(runs, store):
    return sweep(runs, capacity_monitor, store, device="cpu", progress=False, stacking="always")


# --- runs that start from stored runs ------------------------------------------------------------
def test_continued_run_equals_one_trained_straight_through(tmp_path):
    """N steps, then M more from the stored run (weights, AdamW moments, step count) == N+M straight through
    (CPU fp32, full batch: the same data order), bit for bit; a fresh optimizer gives other numbers."""
    st = RunStore(tmp_path)
    tc = TC.replace(weight_decay=0.1, grad_clip=1.0)
    first = gpt_run(tc=tc.replace(max_steps=20))
    more = gpt_run(tc=tc.replace(max_steps=15), init=Init(first, optimizer=True))
    fresh = gpt_run(tc=tc.replace(max_steps=15), init=Init(first))
    straight = gpt_run(tc=tc.replace(max_steps=35))
    ms = train([more, fresh, straight], st)  # `first` is trained first, because the others start from it
    assert st.done(first.run_id()) and ms[0]["opt_steps"] == 35 and ms[0]["steps"] == 15
    a, b, c = (load_weights(r, st) for r in (more, straight, fresh))
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not all(torch.equal(c[n], b[n]) for n in c)
    assert len({first.run_id(), more.run_id(), fresh.run_id(), straight.run_id()}) == 4


def test_init_needs_a_model_of_the_same_shape_and_a_trained_start(tmp_path):
    with pytest.raises(ConfigError, match="init/mask run"):
        Run(model=GPT.replace(d_model=16), data=RandomTokens(16, 8, 24, 0), init=Init(gpt_run()))
    with pytest.raises(FileNotFoundError, match="not in the store"):
        Stack([gpt_run(init=Init(gpt_run(n=9)))], store=RunStore(tmp_path))


# --- subsets and repetitions ---------------------------------------------------------------------
def test_subset_run_sees_only_its_examples_and_repeats_r_times_as_often():
    sub = Subset(exclude=(0, 1, 2), frac=0.5, seed=3, repeat=((10, 4),))
    r = gpt_run(n=64, tc=TC.replace(batch_size=8), subset=sub)
    s = Stack([r, gpt_run(n=64, tc=TC.replace(batch_size=8))])
    own = s.own[0].tolist()
    assert own.count(10) == 4 and not {0, 1, 2} & set(own)
    assert len(set(own)) == 31  # half of the 61 left, rounded to 31 (10 among them, repeated)
    seen = torch.cat([s._batch()[0][0] for _ in range(3000)]).tolist()
    assert set(seen) <= set(own)
    counts = np.bincount(seen, minlength=64)
    others = np.mean([counts[i] for i in set(own) - {10}])
    assert 3.3 < counts[10] / others < 4.8  # drawn 4x as often (24,000 draws: about +-10%)
    assert Subset(include=(5, 6)).apply(torch.arange(64)).tolist() == [5, 6]
    with pytest.raises(ConfigError, match="subset"):
        Subset(include=(70,)).apply(torch.arange(64))


def test_subset_models_train_in_one_stack_and_differ_only_in_their_examples(tmp_path):
    rs = [gpt_run(n=48, subset=Subset(frac=0.7, seed=s)) for s in range(4)]
    assert len({r.stack_key("cpu") for r in rs}) == 1 and len({r.run_id() for r in rs}) == 4
    ms = train(rs, RunStore(tmp_path))
    assert {m["stack_size"] for m in ms} == {4}


# --- objectives ----------------------------------------------------------------------------------
def test_objectives_equal_hand_computed_values_on_two_examples():
    nats = torch.tensor([[2.0, 4.0]])  # one model, two examples of 2 tokens
    forget = Terms(torch.tensor([[1.0, 3.0]]), torch.ones(1, 2), 2, ref=torch.tensor([[1.5, 2.0]]))
    train = Terms(nats, torch.ones(1, 2), 2)
    o = Objective(name="npo", beta=0.5, retain_weight=0.25)
    assert OBJECTIVES["nll"].fn(train, None, o).item() == pytest.approx(1.5)  # (2 + 4) / (2 examples * 2 tokens)
    assert OBJECTIVES["ascent"].fn(train, forget, o).item() == pytest.approx(-1.0)
    assert OBJECTIVES["graddiff"].fn(train, forget, o).item() == pytest.approx(0.25 * 1.5 - 1.0)
    sp = lambda z: math.log1p(math.exp(z))
    npo = (2 / 0.5) * (sp(0.5 * (1.5 - 1.0)) + sp(0.5 * (2.0 - 3.0))) / 2 + 0.25 * 1.5
    assert OBJECTIVES["npo"].fn(train, forget, o).item() == pytest.approx(npo)


@pytest.mark.parametrize("name", ["ascent", "graddiff", "npo"])
def test_unlearning_objectives_raise_the_forget_loss(name, tmp_path):
    st = RunStore(tmp_path)
    base = gpt_run(n=24, tc=TC.replace(max_steps=150))
    forget = Subset(include=(0, 1, 2, 3))
    retain = Subset(exclude=forget.include)
    un = gpt_run(n=24, tc=TC.replace(max_steps=10, lr=3e-3), init=Init(base), subset=retain, forget=forget,
                 objective=Objective(name=name))
    train([un], st)
    data = RandomTokens(16, 8, 24, 0)
    nats = evaluate([base, un], data, st, device="cpu")["nats"]
    f, rest = list(forget.include), list(range(4, 24))
    assert nats[1, f].mean() > nats[0, f].mean() + 1.0  # forgotten: at least 1 nat more per sequence
    if name != "ascent":
        assert nats[1, rest].mean() < nats[1, f].mean()  # the retain set is kept better than the forget set
    with pytest.raises(ConfigError, match="forget"):
        gpt_run(objective=Objective(name=name))


def test_runs_of_different_objectives_share_a_stack_and_equal_their_results_alone(tmp_path):
    """Unlearning methods started from one stored run train together, each as it would alone."""
    st = RunStore(tmp_path / "together")
    base = gpt_run(n=24, tc=TC.replace(max_steps=60))
    forget, retain = Subset(include=(0, 1, 2, 3)), Subset(exclude=(0, 1, 2, 3))
    tc = TC.replace(max_steps=8, lr=3e-3)
    methods = [gpt_run(n=24, tc=tc, init=Init(base), subset=retain)]  # fine-tuning on the retain set
    methods += [gpt_run(n=24, tc=tc, init=Init(base), subset=retain, forget=forget, objective=Objective(name=n))
                for n in ("ascent", "graddiff", "npo")]
    assert len({r.stack_key("cpu")[:-1] for r in methods}) == 1  # equal but for fine-tuning's missing forget set
    ms = train(methods, st)
    assert {m["stack_size"] for m in ms} == {4}
    alone = RunStore(tmp_path / "alone")
    for r in methods:
        train([r], alone)
        a, b = load_weights(r, st), load_weights(r, alone)
        assert all(torch.equal(a[n], b[n]) for n in a), r.objective


def test_an_interrupted_unlearning_run_resumes_bit_for_bit(tmp_path):
    """Checkpoints carry the forget sampler, NPO's reference code lengths and the optimizer offset."""
    base = gpt_run(n=24, tc=TC.replace(max_steps=40))
    forget = Subset(include=(0, 1, 2, 3))
    r = gpt_run(n=24, tc=TC.replace(max_steps=30, lr=3e-3), init=Init(base, optimizer=True), subset=Subset(exclude=(0, 1, 2, 3)),
                forget=forget, objective=Objective(name="npo"), mask=Mask(base, 0.3))
    full, part = RunStore(tmp_path / "full"), RunStore(tmp_path / "part")
    train([r], full)
    train([base], part)
    s = Stack([r], store=part)
    for _ in range(20):
        s.train_step()
        if s.step == 10:
            part.save_checkpoint(r.run_id(), *s.checkpoint(0))
    sweep([r], capacity_monitor, part, device="cpu", progress=False, checkpoint_every=10)
    assert part.load_metrics(r.run_id())["resumed_from"] == 10
    a, b = load_weights(r, full), load_weights(r, part)
    assert all(torch.equal(a[n], b[n]) for n in a)


# --- masks -------------------------------------------------------------------------------------
def test_masked_weights_are_exactly_zero_through_training_and_iterating_keeps_them(tmp_path):
    st = RunStore(tmp_path)
    dense = gpt_run(tc=TC.replace(max_steps=40))
    half = gpt_run(tc=TC.replace(max_steps=40), init=Init(dense), mask=Mask(dense, 0.5))
    more = gpt_run(tc=TC.replace(max_steps=40), init=Init(half), mask=Mask(half, 0.8))
    train([more], st)
    wd, wh, wm = (load_weights(r, st) for r in (dense, half, more))
    mask = magnitude_mask(wd, 0.5)
    for n in wh:
        assert torch.equal(wh[n] * (1 - mask[n]), torch.zeros_like(wh[n])), n  # pruned: exactly zero
    assert sparsity_of(wh) == pytest.approx(0.5, abs=1e-3) and sparsity_of(wm) == pytest.approx(0.8, abs=1e-3)
    assert all(((wh[n] == 0) <= (wm[n] == 0)).all() for n in wh if mask[n].dim() >= 2 and not n.startswith("w"))
    assert not torch.equal(wh["blocks.0.fc.weight"], wd["blocks.0.fc.weight"] * mask["blocks.0.fc.weight"])  # it trained
    assert torch.count_nonzero(wh["wte.weight"]) == wh["wte.weight"].numel()  # embeddings are not pruned


# --- per-example evaluation ----------------------------------------------------------------------
def test_batched_evaluation_equals_each_models_forward_and_is_cached(tmp_path, monkeypatch):
    st = RunStore(tmp_path)
    rs = [gpt_run(n=n, seed=s) for s in (0, 1) for n in (8, 24)] + [gpt_run(tc=TC.replace(precision="bf16"))]
    train(rs, st)
    data = RandomTokens(16, 8, 40, 7)  # sequences none of them trained on
    got = evaluate(rs, data, st, device="cpu", chunk=16)
    x, y = data.load_pool(40)
    for k, r in enumerate(rs):
        m = models.build(GPT, 0)
        m.load_state_dict({n: v.float() for n, v in load_weights(r, st).items()})
        lp = torch.log_softmax(m(x), -1).gather(-1, y[..., None])[..., 0]
        assert np.allclose(got["logprobs"][k], lp.detach().numpy(), atol=1e-5)
        assert np.allclose(got["nats"][k], -lp.sum(-1).detach().numpy(), atol=1e-4)
        assert (got["correct"][k] == (m(x).argmax(-1) == y).numpy()).all()
    monkeypatch.setattr("memlib.engine.evaluation.stack_of", lambda *a, **k: pytest.fail("not read from the cache"))
    again = evaluate(rs, data, st, device="cpu")
    assert all(np.array_equal(got[k], again[k]) for k in got)
    cached = next((st.dir(rs[0].run_id()) / "eval").glob("*.safetensors"))
    cached.write_bytes(cached.read_bytes()[:-8])
    monkeypatch.undo()
    with pytest.warns(CorruptRunWarning, match="recomputing"):
        third = evaluate(rs, data, st, device="cpu")
    assert np.array_equal(third["nats"], got["nats"])


# --- classifiers and per-example gradients -------------------------------------------------------
def toy_images(n=48, shape=(1, 6, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    y = torch.bucketize(x.mean((1, 2, 3)), torch.tensor([-0.08, 0.08]))  # 3 classes by mean intensity
    return x, y


@dataclass(frozen=True)
class Toy(Config):
    n: int = 48

    def check_model(self, m): pass
    def source(self): return ("toy", self.n)
    def indices(self): return torch.arange(self.n)
    def load_pool(self, n): return tuple(t[:n] for t in toy_images(self.n))


CLASSIFIERS = [models.MLPConfig(in_shape=(1, 6, 6), n_classes=3, width=32),
               models.CNNConfig(in_shape=(1, 6, 6), n_classes=3, width=4)]


def test_classifier_reaches_full_training_accuracy_through_the_engine(tmp_path):
    st = RunStore(tmp_path)
    rs = [Run(model=CLASSIFIERS[0], data=Toy(), train=TC.replace(max_steps=300, lr=1e-2), seed=s) for s in (0, 1)]
    sweep(rs, lambda s: {"score": torch.zeros(len(s.runs))}, st, device="cpu", progress=False)
    acc = evaluate(rs, Toy(), st, device="cpu")["correct"]
    assert acc.shape == (2, 48) and acc.all()


def grad_norms_loop(stack, x, y) -> torch.Tensor:
    """Per-example gradient norms the slow way: a Python loop over models and examples, plain autograd."""
    cfg = stack.cfg
    tokens = models.TOKENS_PER_EXAMPLE.get(type(cfg), lambda c: 1)(cfg)
    out = torch.zeros(len(stack.runs), len(x))
    for k in range(len(stack.runs)):
        m = models.build(cfg, 0)
        m.load_state_dict({n: v.float() for n, v in stack.model_weights(k).items()})
        for i in range(len(x)):
            loss = models.EXAMPLE_NATS[type(cfg)](m(x[i:i + 1]), y[i:i + 1]).sum() / tokens
            g = torch.autograd.grad(loss, list(m.parameters()))
            out[k, i] = torch.sqrt(sum(t.pow(2).sum() for t in g))
    return out


@pytest.mark.parametrize("cfg", CLASSIFIERS + [GPT], ids=["mlp", "cnn", "gpt"])
def test_per_example_gradient_norms_equal_the_slow_loop(cfg):
    if isinstance(cfg, GPTConfig):
        rs = [gpt_run(seed=s) for s in (0, 1)]
        x, y = RandomTokens(16, 8, 10, 5).load_pool(10)
    else:
        rs = [Run(model=cfg, data=Toy(), seed=s) for s in (0, 1)]
        x, y = toy_images(10, seed=4)
    s = Stack(rs)
    for _ in range(3):
        s.train_step()
    fast, slow = per_example_grad_norms(s, x, y, chunk=4), grad_norms_loop(s, x, y)
    assert fast.shape == (2, 10) and (fast > 0).all()
    assert torch.allclose(fast, slow, rtol=1e-4, atol=1e-6)


# --- decoding ----------------------------------------------------------------------------------
def test_kv_cache_decoding_equals_cache_free_decoding_token_for_token():
    cfg = GPTConfig(vocab_size=16, seq_len=16, n_layer=2, d_model=16)
    rs = [Run(model=cfg, data=RandomTokens(16, 16, 24, s), train=TC, seed=s) for s in (0, 1, 2)]
    s = Stack(rs)
    for _ in range(40):
        s.train_step()
    for P in (0, 1, 5):
        prefixes = s.y[torch.stack([o[:24] for o in s.own]), :P]  # (K, 24, P)
        n_new = 16 - P
        cached, plain = generate(s, prefixes, n_new), generate_greedy(s, prefixes, n_new)
        assert cached.shape == (3, 24, n_new) and torch.equal(cached, plain), P
    m = models.build(cfg, 0)
    m.load_state_dict(s.model_weights(1))
    assert torch.equal(generate(m, prefixes[1], 11), plain[1])  # a single GPT module gives the same
    g = lambda: torch.Generator().manual_seed(0)
    a, b = generate(s, prefixes, 11, temperature=1.0, generator=g()), generate(s, prefixes, 11, temperature=1.0, generator=g())
    assert torch.equal(a, b) and not torch.equal(a, plain)  # sampled: reproducible, and not greedy
    assert torch.equal(generate(s, prefixes, 11, temperature=0.7, top_k=1, generator=g()), plain)  # top-1 is greedy
    with pytest.raises(ValueError, match="seq_len"):
        generate(s, prefixes, 12)


# --- layout ------------------------------------------------------------------------------------
def test_no_memlib_module_imports_one_that_imports_it_back():
    root = Path(__file__).resolve().parent.parent / "memlib"
    names = {".".join(p.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in root.rglob("*.py")}
    graph = {}
    for mod, path in names.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("memlib"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    deps.add(full if full in names else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("memlib")}
        graph[mod] = {d for d in deps if d in names and d != mod}

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for d in graph.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d), todo.append(d)
        return seen
    cycles = sorted(m for m in graph if m in reach(m))
    assert not cycles, f"modules on an import cycle: {cycles}"
    assert "memlib.engine.stack" in graph and len(graph) > 15


def test_the_engine_docs_example_runs(tmp_path, monkeypatch):
    """docs/engine.md's example is run as written (in a temporary run store)."""
    import re

    from memlib import paths
    text = (Path(__file__).resolve().parent.parent / "docs" / "engine.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.setattr(paths, "RUNS", tmp_path)
    ns = {}
    exec(code, ns)
    assert ns["res"]["nats"].shape == (10, 200) and ns["res"]["logprobs"].shape == (10, 200, 16)
    assert ns["suffixes"].shape == (8, 200, 8)

"""Engine speed-ups keep results: the batch stream, the compiled step, greedy decoding."""
import shutil

import pytest
import torch

from memlib import models
from memlib.config import ConfigError
from memlib.data import RandomTokens
from memlib.engine.decode import generate_greedy
from memlib.engine import Run, Stack, TrainConfig
from memlib.models import GPTConfig

GPT = GPTConfig(vocab_size=16, seq_len=8, d_model=8)


def runs(tc, ns=(8, 24, 40), seeds=(0, 1)):
    return [Run(model=GPT, data=RandomTokens(16, 8, n, s), train=tc, seed=s) for s in seeds for n in ns]


def test_batch_stream_is_each_models_own_generator():
    """Sampled models draw B indices per step from a generator seeded by their run hash (stored runs rely
    on this stream); full-batch models take all their examples, padded with zero weight."""
    rs = runs(TrainConfig(batch_size=16))
    s = Stack(rs)
    gens = [torch.Generator().manual_seed(int(r.run_id(), 16) % (2**63)) for r in rs]
    for _ in range(3):
        idx, w = s._batch()
        for k, (own, g) in enumerate(zip(s.own, gens)):
            if len(own) <= 16:
                assert torch.equal(idx[k, :len(own)], own) and w[k].sum() == len(own) and (w[k, len(own):] == 0).all()
            else:
                assert torch.equal(idx[k], own[torch.randint(len(own), (16,), generator=g)]) and (w[k] == 1).all()
    s.keep([False, True, True, False, True, True])  # the cache follows the models that stay
    idx, _ = s._batch()
    assert torch.equal(idx[0], s.own[0][torch.randint(len(s.own[0]), (16,), generator=gens[1])])


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="torch.compile needs a C compiler")
def test_compiled_step_equals_eager():
    """The torch.compile'd step (fused forward, backward, AdamW) follows the eager step up to float rounding."""
    tc = TrainConfig(lr=3e-3, batch_size=16, warmup=5, weight_decay=0.1, grad_clip=1.0)
    rs = runs(tc)
    eager, comp = Stack(rs, compile=False), Stack(rs, compile=True)
    assert eager._step_fn is None and comp._step_fn is not None
    for _ in range(25):
        le, lc = eager.train_step(), comp.train_step()
        assert torch.allclose(le, lc, atol=1e-5)
    for n in eager.p:
        assert torch.allclose(eager.p[n], comp.p[n], atol=1e-4), n
        assert torch.allclose(eager.v[n], comp.v[n], atol=1e-7, rtol=1e-3), n
    assert not torch.equal(eager.p["wte.weight"], Stack(rs, compile=False).p["wte.weight"])  # it trained


def test_compile_switch_is_checked():
    with pytest.raises(ConfigError, match="compile"):
        Stack(runs(TrainConfig())[:1], compile="yes")


def test_greedy_equals_argmax_step_by_step():
    tc = TrainConfig(lr=1e-2, batch_size=16, warmup=0)
    rs = runs(tc, ns=(24,), seeds=(0, 1, 2))
    s = Stack(rs)
    for _ in range(30):  # trained a little, so the models differ from each other and from init
        s.train_step()
    prefixes = s.y[torch.stack(s.own)[:, :10], :3]  # (K, 10, 3): each model's own sequences' first 3 tokens
    out = generate_greedy(s, prefixes, 5)
    assert out.shape == (3, 10, 5) and out.dtype == torch.int64
    for k in range(3):
        m = models.build(GPT, 0)
        m.load_state_dict({n: v.float() for n, v in s.model_weights(k).items()})
        x = torch.cat([torch.full((10, 1), GPT.vocab_size), prefixes[k]], 1)  # BOS in front, as in training
        for t in range(5):
            nxt = m(x)[:, -1].argmax(-1)
            assert torch.equal(out[k, :, t], nxt), (k, t)
            x = torch.cat([x, nxt[:, None]], 1)
        assert torch.equal(generate_greedy(m, prefixes[k], 5), out[k])  # a single GPT module gives the same
    with pytest.raises(ValueError, match="seq_len"):
        generate_greedy(s, prefixes, 6)  # BOS + 3 + 6 - 1 > 8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_stacked_equals_alone_compiled_equals_eager_and_matches_cpu():
    """On a GPU: K stacked == each alone, the compiled step (the CUDA default) == eager, CUDA == CPU."""
    tc = TrainConfig(lr=3e-3, batch_size=16, warmup=5)
    rs = runs(tc)
    stacked, cpu = Stack(rs, "cuda", compile=False), Stack(rs, "cpu")
    alone = [Stack([r], "cuda", compile=False) for r in rs]
    comp = Stack(rs, "cuda")  # compile="auto": on, on CUDA
    assert comp._step_fn is not None
    for _ in range(20):
        stacked.train_step(), cpu.train_step(), comp.train_step()
        [a.train_step() for a in alone]
    # CUDA's embedding gradient (scatter-add with atomics) is not deterministic: measured on an H100 after
    # 20 steps (benchmarks/cuda_diff.py), the largest differences were 6e-6 (alone), 8e-6 (CPU), 6e-6 (compiled)
    for n in stacked.p:
        a = torch.cat([s.p[n] for s in alone])
        for name, other in (("alone", a), ("cpu", cpu.p[n].cuda()), ("compiled", comp.p[n])):
            diff = (stacked.p[n] - other).abs().max().item()
            assert diff < 1e-4, f"{n}: stacked vs {name} differ by {diff:.2e}"
    prefixes = cpu.y[torch.stack([o[:4] for o in cpu.own]), :3]  # each model's first 4 sequences (K, 4, 3)
    assert generate_greedy(stacked, prefixes, 4).device.type == "cuda"


def test_a_failing_compiler_falls_back_to_eager_without_losing_the_step():
    """torch 2.11's dynamo crashed on an H100 while recompiling a shrunk text stack: the engine warns and goes on eagerly."""
    tc = TrainConfig(lr=3e-3, batch_size=16, warmup=5)
    eager, broken = Stack(runs(tc), "cpu", compile=False), Stack(runs(tc), "cpu", compile=False)

    def crash(*a, **k):
        raise torch._dynamo.exc.InternalTorchDynamoError("AttributeError: 'NoneType' object has no attribute 'filename'")
    broken._step_fn = crash
    with pytest.warns(RuntimeWarning, match="torch.compile failed.*continues eagerly"):
        for _ in range(3):
            broken.train_step()
    for _ in range(3):
        eager.train_step()
    assert broken._step_fn is None and broken.step == eager.step == 3
    for n in eager.p:
        assert torch.equal(eager.p[n], broken.p[n])

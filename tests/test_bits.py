import math

import torch

from memlib.bits import memorized_bits, to_bits, unintended_bits
from memlib.data import RandomTokens, random_tokens
from memlib.models import lm_nats


def test_uniform_model_memorizes_nothing():
    V, S = 50, 12
    seqs = random_tokens(V, S, 7, seed=3)
    logits = torch.zeros(7, S, V)  # uniform prediction
    bits = to_bits(lm_nats(logits, seqs))
    assert torch.allclose(bits, torch.full((7,), S * math.log2(V)))
    assert memorized_bits(bits, S, V).abs().max() < 1e-4


def test_certain_model_memorizes_everything():
    V, S = 50, 12
    seqs = random_tokens(V, S, 5, seed=4)
    logits = torch.full((5, S, V), -1e4).scatter(-1, seqs.unsqueeze(-1), 1e4)  # p(sequence) = 1
    mem = memorized_bits(to_bits(lm_nats(logits, seqs)), S, V)
    assert torch.allclose(mem, torch.full((5,), S * math.log2(V)))


def test_memorized_bits_clip_at_zero_and_unintended():
    assert memorized_bits(torch.tensor([100.0]), 4, 2).item() == 0.0
    assert unintended_bits(torch.tensor([3.0, 9.0]), torch.tensor([5.0, 5.0])).tolist() == [2.0, 0.0]


def test_random_tokens_are_prefixes_and_uniform():
    a, b = random_tokens(64, 8, 1500, seed=1), random_tokens(64, 8, 3000, seed=1)
    assert torch.equal(a, b[:1500]) and not torch.equal(a, random_tokens(64, 8, 1500, seed=2))
    counts = torch.bincount(b.flatten(), minlength=64).float()
    assert counts.min() > 0.8 * counts.mean()


def test_bos_convention_codes_every_token():
    x, y = RandomTokens(16, 5, 3, 0).load_pool(3)
    assert (x[:, 0] == 16).all() and torch.equal(x[:, 1:], y[:, :-1])

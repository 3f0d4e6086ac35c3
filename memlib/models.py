"""Models trained by memlib: a small GPT (nanoGPT-style) and small MLP / CNN classifiers.

Every model is a plain `nn.Module` whose forward takes one model's batch; the engine
(`memlib.engine`) stacks many of them and runs them together with `torch.func`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from memlib.config import Config, check


@dataclass(frozen=True)
class GPTConfig(Config):
    vocab_size: int = 2048  # V: tokens 0..V-1 are data; id V is the BOS token
    seq_len: int = 64  # S: context length (BOS + S-1 data tokens predict S tokens)
    n_layer: int = 1
    d_model: int = 32
    n_head: int = 0  # 0: d_model // 16 heads (head size 16), at least one
    tied: bool = True  # output head shares the token embedding (GPT-2)
    bias: bool = True  # biases in Linear and LayerNorm (GPT-2)

    def validate(self):
        check(self.vocab_size >= 2, "vocab_size", self.vocab_size, "an integer >= 2")
        check(self.seq_len >= 1, "seq_len", self.seq_len, "an integer >= 1")
        check(self.n_layer >= 1, "n_layer", self.n_layer, "an integer >= 1")
        check(self.d_model >= 1, "d_model", self.d_model, "an integer >= 1")
        check(self.n_head >= 0 and (self.n_head == 0 or self.d_model % self.n_head == 0),
              "n_head", self.n_head, "0 (auto) or a divisor of d_model")

    @property
    def heads(self) -> int:
        return self.n_head or max(1, self.d_model // 16)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.n_head = c.heads
        self.ln1 = nn.LayerNorm(c.d_model, bias=c.bias)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model, bias=c.bias)
        self.proj = nn.Linear(c.d_model, c.d_model, bias=c.bias)
        self.ln2 = nn.LayerNorm(c.d_model, bias=c.bias)
        self.fc = nn.Linear(c.d_model, 4 * c.d_model, bias=c.bias)
        self.out = nn.Linear(4 * c.d_model, c.d_model, bias=c.bias)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, h, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    """GPT-2-style decoder: learned positions, pre-LN blocks, final LN, (tied) LM head."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c.vocab_size + 1, c.d_model)  # +1: BOS
        self.wpe = nn.Embedding(c.seq_len, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.d_model, bias=c.bias)
        self.head = None if c.tied else nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("proj.weight", "out.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx):
        """idx (B, T) int64 with T <= seq_len -> logits (B, T, V) over the data tokens."""
        T = idx.shape[-1]
        x = self.wte(idx) + self.wpe.weight[:T]  # (B, T, C)
        for b in self.blocks:
            x = b(x)
        x = self.ln_f(x)
        w = self.head.weight if self.head is not None else self.wte.weight[: self.c.vocab_size]
        return x @ w.t()  # (B, T, V)


@dataclass(frozen=True)
class MLPConfig(Config):
    in_shape: tuple = (1, 28, 28)  # shape of one input
    n_classes: int = 10
    width: int = 256
    depth: int = 2  # hidden layers

    def validate(self):
        check(len(self.in_shape) >= 1 and all(int(s) >= 1 for s in self.in_shape), "in_shape",
              self.in_shape, "a tuple of positive sizes")
        check(self.n_classes >= 2, "n_classes", self.n_classes, "an integer >= 2")
        check(self.width >= 1, "width", self.width, "an integer >= 1")
        check(self.depth >= 1, "depth", self.depth, "an integer >= 1")


class MLP(nn.Module):
    def __init__(self, c: MLPConfig):
        super().__init__()
        dims = [math.prod(c.in_shape)] + [c.width] * c.depth
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(nn.Flatten(), *layers, nn.Linear(dims[-1], c.n_classes))

    def forward(self, x):
        return self.net(x)  # (B, n_classes)


@dataclass(frozen=True)
class CNNConfig(Config):
    in_shape: tuple = (1, 28, 28)  # (channels, height, width)
    n_classes: int = 10
    width: int = 32  # channels of the first conv; doubled by the second

    def validate(self):
        check(len(self.in_shape) == 3 and all(int(s) >= 4 for s in self.in_shape[1:]), "in_shape",
              self.in_shape, "(channels, height >= 4, width >= 4)")
        check(self.n_classes >= 2, "n_classes", self.n_classes, "an integer >= 2")
        check(self.width >= 1, "width", self.width, "an integer >= 1")


class CNN(nn.Module):
    def __init__(self, c: CNNConfig):
        super().__init__()
        w = c.width
        self.net = nn.Sequential(
            nn.Conv2d(c.in_shape[0], w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(), nn.Linear(2 * w, c.n_classes))

    def forward(self, x):
        return self.net(x)  # (B, n_classes)


def stacked_bmm(a, b):
    """torch.bmm for stacked models, with each model's result independent of the stack's size K on CPU.

    On CPU a batch of one goes to a plain matrix product, which rounds differently from the batched kernel
    that K >= 2 use (at some shapes, e.g. 6 x 1024 @ 1024 x 18: a d_model = 6 weight gradient), so a single
    model is computed as a batch of two (itself twice; the copy's output is discarded and adds an exact 0
    to the gradient). Every K >= 2 gives each model the same bits (tests/test_stack_independence.py)."""
    if a.shape[0] == 1 and a.device.type == "cpu":
        return torch.bmm(a.expand(2, *a.shape[1:]), b.expand(2, *b.shape[1:]))[:1]
    return torch.bmm(a, b)


def _linear(x, p, name):
    """x (K, M, Cin) through K stacked Linear layers -> (K, M, Cout)."""
    y = stacked_bmm(x, p[name + ".weight"].transpose(1, 2))
    b = p.get(name + ".bias")
    return y if b is None else y + b.unsqueeze(1)


def _layer_norm(x, p, name):
    y = F.layer_norm(x, x.shape[-1:]) * p[name + ".weight"].unsqueeze(1)
    b = p.get(name + ".bias")
    return y if b is None else y + b.unsqueeze(1)


def gpt_stacked(c: GPTConfig, p: dict, idx, cache: list | None = None, pos0: int = 0):
    """K stacked GPTs at once: `p` maps GPT's parameter names to (K, ...) tensors, idx (K, B, T).

    Batched matmuls instead of `vmap`, because scaled_dot_product_attention has no vmap
    batching rule (it falls back to a slow loop); attention runs on the folded K*B batch.
    Returns logits (K, B, T, V), equal to running each GPT on its own batch.

    Decoding with a KV cache: `cache` is a list (one entry per layer, None at first) that this call
    extends with the keys and values of `idx`, the tokens at positions pos0 .. pos0+T-1. Either
    T tokens from position 0 (the prompt), or one new token attending to every cached position.
    """
    K, B, T = idx.shape
    C, h = c.d_model, c.heads
    wte = p["wte.weight"]
    x = torch.gather(wte, 1, idx.reshape(K, B * T, 1).expand(K, B * T, C))  # (K, B*T, C)
    x = (x.view(K, B, T, C) + p["wpe.weight"][:, None, pos0:pos0 + T]).reshape(K, B * T, C)
    for i in range(c.n_layer):
        pre = f"blocks.{i}."
        q, k, v = _linear(_layer_norm(x, p, pre + "ln1"), p, pre + "qkv").split(C, -1)
        q, k, v = (t.reshape(K * B, T, h, C // h).transpose(1, 2) for t in (q, k, v))  # (K*B, h, T, hs)
        if cache is not None:
            if len(cache) <= i:
                cache.append(None)
            if cache[i] is not None:
                k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)  # (K*B, h, pos0+T, hs)
            cache[i] = (k, v)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        x = x + _linear(y.transpose(1, 2).reshape(K, B * T, C), p, pre + "proj")
        x = x + _linear(F.gelu(_linear(_layer_norm(x, p, pre + "ln2"), p, pre + "fc"), approximate="tanh"),
                        p, pre + "out")
    x = _layer_norm(x, p, "ln_f")
    w = wte[:, : c.vocab_size] if c.tied else p["head.weight"]
    return stacked_bmm(x, w.transpose(1, 2)).view(K, B, T, -1)  # (K, B, T, V)


IGNORE = -1  # a target below 0 is not coded: its position adds nothing to the loss (e.g. prompt tokens of a task)


def lm_nats(logits, y):
    """Per-sequence code length in nats: sum over positions of -log p(y_t), positions with y_t < 0 (IGNORE)
    left out. logits (..., T, V)."""
    lp = F.log_softmax(logits.float(), dim=-1)
    return -(lp.gather(-1, y.clamp_min(0).unsqueeze(-1)).squeeze(-1) * (y >= 0)).sum(-1)


def class_nats(logits, y):
    """Per-example cross-entropy in nats. logits (..., n_classes)."""
    lp = F.log_softmax(logits.float(), dim=-1)
    return -lp.gather(-1, y.unsqueeze(-1)).squeeze(-1)


REGISTRY = {GPTConfig: GPT, MLPConfig: MLP, CNNConfig: CNN}
STACKED = {GPTConfig: gpt_stacked}  # hand-written stacked forwards; others use vmap(functional_call)
EXAMPLE_NATS = {GPTConfig: lm_nats, MLPConfig: class_nats, CNNConfig: class_nats}
TOKENS_PER_EXAMPLE = {GPTConfig: lambda c: c.seq_len}  # the training loss is nats per token


def build(cfg: Config, seed: int) -> nn.Module:
    """A freshly initialised model of `cfg`, its initialisation fixed by `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return REGISTRY[type(cfg)](cfg)


def n_params(cfg: Config) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in REGISTRY[type(cfg)](cfg).parameters())

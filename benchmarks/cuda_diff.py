"""Max differences on CUDA between K stacked and each alone, CUDA and CPU, compiled and eager (20 steps).

    python3 benchmarks/cuda_diff.py      # on a machine with CUDA; prints one line per comparison
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memlib.data import RandomTokens  # noqa: E402
from memlib.engine import Run, Stack, TrainConfig  # noqa: E402
from memlib.models import GPTConfig  # noqa: E402

GPT = GPTConfig(vocab_size=16, seq_len=8, d_model=8)
tc = TrainConfig(lr=3e-3, batch_size=16, warmup=5)
rs = [Run(model=GPT, data=RandomTokens(16, 8, n, s), train=tc, seed=s) for s in (0, 1) for n in (8, 24, 40)]
stacked, cpu, comp = Stack(rs, "cuda", compile=False), Stack(rs, "cpu"), Stack(rs, "cuda")
alone = [Stack([r], "cuda", compile=False) for r in rs]
for step in range(1, 21):
    stacked.train_step(), cpu.train_step(), comp.train_step()
    [a.train_step() for a in alone]
    if step in (1, 5, 20):
        d = lambda other: max((stacked.p[n] - other[n].to(stacked.p[n].device)).abs().max().item() for n in stacked.p)
        print(f"step {step}: stacked vs alone {d({n: torch.cat([a.p[n] for a in alone]) for n in stacked.p}):.2e}, "
              f"vs cpu {d(cpu.p):.2e}, vs compiled {d(comp.p):.2e}", flush=True)

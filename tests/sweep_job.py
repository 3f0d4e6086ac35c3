"""A small sweep run as its own process by the reliability tests: python tests/sweep_job.py STORE."""
import sys

import torch

from memlib.bits import capacity_monitor
from memlib.data import RandomTokens
from memlib.engine import Run, TrainConfig, sweep
from memlib.models import GPTConfig
from memlib.store import RunStore

TC = TrainConfig(lr=3e-3, batch_size=16, warmup=5, stop="steps", max_steps=150, eval_every=25)
RUNS = [Run(model=GPTConfig(vocab_size=16, seq_len=8, d_model=8), data=RandomTokens(16, 8, n, s), train=TC, seed=s)
        for s in (0, 1, 2) for n in (16, 48)]

if __name__ == "__main__":
    torch.set_num_threads(1)
    sweep(RUNS, capacity_monitor, RunStore(sys.argv[1]), device="cpu", max_stack=1, progress=False,
          checkpoint_every=25)

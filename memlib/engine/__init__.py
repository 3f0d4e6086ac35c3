"""The training engine: many small models trained at once as one stack, stored by content hash.

A notebook module describes an experiment as a list of `Run`s and reads results back; everything
that trains, evaluates, decodes or stores lives here (see docs/engine.md for a worked example):

| file | holds |
|---|---|
| `runs.py` | `Run` (model, data, training, seed; optional `Init`, `Subset`, forget set, `Objective`, `Mask`), `TrainConfig` |
| `stack.py` | `Stack`: K models of one shape, their pool of examples, batches, forward, one AdamW step |
| `optim.py` | the AdamW update, gradient clipping, bf16 rounding, masks, the torch.compile'd step |
| `objectives.py` | training losses by name: nll, gradient ascent, gradient difference, NPO |
| `masks.py` | global magnitude masks from a stored run (pruning) |
| `stopping.py` | the plateau and target rules and the warmup-stable-decay schedule |
| `sweep.py` | `sweep` (train or load many runs, stacked, through any executor), `stack_of`, `load_weights` |
| `evaluation.py` | `evaluate`: per-example losses, log-probabilities, correctness of stored runs, cached |
| `grads.py` | per-example gradient norms with torch.func (GraNd) |
| `decode.py` | batched greedy and sampled generation with a KV cache |

Each model of a stack has its own initialisation seed (or starting run), its own examples, its
own batch sampler, schedule, forget set, mask and stopping point, so its result does not depend on
which other models share its stack.
"""
from memlib.engine.decode import generate, generate_greedy
from memlib.engine.evaluation import evaluate
from memlib.engine.grads import per_example_grad_norms
from memlib.engine.masks import magnitude_mask, sparsity_of
from memlib.engine.objectives import OBJECTIVES
from memlib.engine.optim import COMPILE
from memlib.engine.runs import (PRECISIONS, DivergedError, Init, Mask, Objective, Run, Subset, TrainConfig,
                                resolve_device)
from memlib.engine.stack import Stack
from memlib.engine.stopping import plateaued
from memlib.engine.sweep import (InProcess, cpu_stack_size, executor, load_weights, stack_limit, stack_of, sweep, train_bytes_per_model,
                                 train_group, train_seconds)

__all__ = ["COMPILE", "OBJECTIVES", "PRECISIONS", "DivergedError", "InProcess", "Init", "Mask", "Objective", "Run",
           "Stack", "Subset", "TrainConfig", "cpu_stack_size", "evaluate", "executor", "generate", "generate_greedy", "load_weights",
           "magnitude_mask", "per_example_grad_norms", "plateaued", "resolve_device", "sparsity_of", "stack_limit",
           "stack_of", "sweep", "train_bytes_per_model", "train_group", "train_seconds"]

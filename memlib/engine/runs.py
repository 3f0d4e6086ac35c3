"""What a run is: a model, its data, how it is trained, and where it starts.

A `Run` names everything that changes its result, so its hash (`Run.run_id`) names it in the run
store. Fields added since the first runs were stored (`init`, `subset`, `forget`, `objective`,
`mask`) default to None and so leave the hashes of earlier runs unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from memlib.config import Config, check, check_number

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class TrainConfig(Config):
    lr: float = 1e-3  # peak learning rate (AdamW)
    betas: tuple = (0.9, 0.98)
    eps: float = 1e-8
    weight_decay: float = 0.0  # decoupled; on weight matrices and embeddings, not biases or norms
    batch_size: int = 256  # examples per model per step; a model with fewer trains full-batch
    warmup: int = 100  # steps of linear warmup
    stop: str = "plateau"  # plateau | steps
    max_steps: int = 20000  # budget; with stop=plateau a run that never plateaus stops here (stop_reason "max_steps"); 0: store the
    # starting point (Init) with its mask applied, untrained (one-shot pruning)
    eval_every: int = 200  # steps between evaluations of the monitor
    patience: int = 4  # plateau: evaluations over which the gain is measured
    tol: float = 0.01  # plateau: relative gain over `patience` evaluations below which we stop
    window_frac: float = 0.0  # plateau: the gain is measured over max(patience evaluations, window_frac * steps)
    decay_frac: float = 0.25  # final linear decay to 0, as a fraction of the steps before it
    precision: str = "fp32"  # fp32 | bf16 (parameters stored and trained in bf16)
    grad_clip: float = 0.0  # per-model global gradient norm clip; 0 = off
    schedule: str = "wsd"  # wsd (warmup, constant, linear decay) | cosine (warmup, then cosine to 0 at max_steps; stop=steps)

    def validate(self):
        check_number(self.lr, "lr", 0, lo_open=True)
        check(len(self.betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.betas),
              "betas", self.betas, "two numbers in [0, 1)")
        check_number(self.eps, "eps", 0, lo_open=True)
        check_number(self.weight_decay, "weight_decay", 0)
        check_number(self.batch_size, "batch_size", 1, integer=True)
        check_number(self.warmup, "warmup", 0, integer=True)
        check(self.stop in ("plateau", "steps"), "stop", self.stop, "'plateau' or 'steps'")
        check_number(self.max_steps, "max_steps", 0, integer=True)
        check_number(self.eval_every, "eval_every", 1, integer=True)
        check_number(self.patience, "patience", 1, integer=True)
        check_number(self.tol, "tol", 0)
        check_number(self.window_frac, "window_frac", 0, 0.95)
        check_number(self.decay_frac, "decay_frac", 0, 1)
        check(self.precision in PRECISIONS, "precision", self.precision, f"one of {sorted(PRECISIONS)}")
        check_number(self.grad_clip, "grad_clip", 0)
        check(self.schedule in ("wsd", "cosine"), "schedule", self.schedule, "'wsd' or 'cosine'")
        check(self.schedule == "wsd" or self.stop == "steps", "schedule", self.schedule,
              "'wsd' with stop='plateau' (a cosine schedule needs a fixed budget: stop='steps')")


def _indices(v, field):
    check(isinstance(v, tuple) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v),
          field, v, "a list of example indices (integers >= 0)")


@dataclass(frozen=True)
class Subset(Config):
    """Which of a data spec's examples a run sees, and how often.

    Indices are positions in the spec's pool (what `data.indices()` lists). The run's examples are
    `include` (or all of the spec's), minus `exclude`, thinned to a random `frac` chosen by `seed`,
    with each (index, times) pair of `repeat` appearing `times` times (whether or not the random fraction
    kept it; an excluded example cannot be repeated). An example that appears r
    times is drawn r times as often by the batch sampler (and weighs r times in a full batch).
    """

    include: tuple = ()  # only these (empty: all of the spec's examples)
    exclude: tuple = ()  # never these (e.g. a forget set)
    frac: float = 1.0  # keep this random fraction of what remains (Feldman-Zhang subset models: 0.7)
    seed: int = 0  # which random fraction
    repeat: tuple = ()  # ((index, times), ...): duplicated examples, canaries

    def validate(self):
        _indices(self.include, "include")
        _indices(self.exclude, "exclude")
        check_number(self.frac, "frac", 0, 1, lo_open=True)
        check_number(self.seed, "seed", 0, integer=True)
        check(all(isinstance(p, tuple) and len(p) == 2 and all(isinstance(v, int) for v in p) and p[0] >= 0 and p[1] >= 1
                  for p in self.repeat), "repeat", self.repeat, "a list of (index, times) pairs, times >= 1")

    def apply(self, indices: torch.Tensor) -> torch.Tensor:
        """This subset of `indices` (the spec's pool positions), repeated examples repeated, (M,)."""
        pool = set(indices.tolist())
        bad = sorted({i for i in self.include + self.exclude + tuple(i for i, _ in self.repeat)} - pool)
        check(not bad, "subset", bad[:5], f"indices among the data's {len(pool)} examples")
        both = sorted({i for i, _ in self.repeat} & set(self.exclude))
        check(not both, "repeat", both[:5], "examples that are not also excluded")
        idx = torch.tensor(self.include, dtype=torch.long) if self.include else indices
        if self.exclude:
            idx = idx[~torch.isin(idx, torch.tensor(self.exclude, dtype=torch.long))]
        if self.frac < 1:
            g = torch.Generator().manual_seed(self.seed)
            keep = torch.randperm(len(idx), generator=g)[: max(1, math.floor(self.frac * len(idx) + 0.5))]
            idx = idx[keep.sort().values]
        if self.repeat:
            times = dict(self.repeat)
            idx = torch.cat([idx[~torch.isin(idx, torch.tensor(list(times)))],
                             torch.tensor([i for i, r in self.repeat for _ in range(r)], dtype=torch.long)])
        check(len(idx) > 0, "subset", self.to_dict(), "a subset that keeps at least one example")
        return idx


@dataclass(frozen=True)
class Objective(Config):
    """The training loss, by name from `memlib.engine.objectives.OBJECTIVES`, and its settings."""

    name: str = "nll"  # nll | ascent | graddiff | npo (see objectives.py)
    beta: float = 0.1  # NPO's inverse temperature
    retain_weight: float = 1.0  # graddiff/npo: weight of the retain-set term (0: forget term only)

    def validate(self):
        from memlib.engine.objectives import OBJECTIVES
        check(self.name in OBJECTIVES, "objective", self.name, f"one of {sorted(OBJECTIVES)}")
        check_number(self.beta, "beta", 0, lo_open=True)
        check_number(self.retain_weight, "retain_weight", 0)


@dataclass(frozen=True)
class Mask(Config):
    """Weights held at exactly zero through training: global magnitude pruning of a stored run.

    The `sparsity` fraction of `run`'s prunable weights with the smallest magnitude (over all
    prunable tensors at once) are zeroed, at the start and after every optimizer step. Prunable:
    parameters named `*.weight` with at least 2 dimensions whose names do not start with one of
    `exclude` (GPT's token and position embeddings by default).
    """

    run: Config  # the Run whose trained weights rank the weights
    sparsity: float = 0.5
    exclude: tuple = ("wte.", "wpe.")

    def validate(self):
        check(isinstance(self.run, Run), "mask.run", type(self.run).__name__, "a Run")
        check_number(self.sparsity, "sparsity", 0, 1)
        check(self.sparsity < 1, "sparsity", self.sparsity, "a fraction in [0, 1)")


@dataclass(frozen=True)
class Init(Config):
    """Start from another run's stored weights instead of a fresh initialisation.

    `optimizer=True` continues that run exactly: its AdamW moments, optimizer step count and batch
    sampler state come along, so training it M more steps equals training it N+M steps straight
    through (at a constant learning rate: set `warmup=0`, or training past the warmup).
    """

    run: Config  # the Run to start from (trained first if it is not in the store)
    optimizer: bool = False  # also carry its optimizer and sampler state

    def validate(self):
        check(isinstance(self.run, Run), "init.run", type(self.run).__name__, "a Run")


@dataclass(frozen=True)
class Run(Config):
    """One model to train: architecture, data (a spec from `memlib.data`), optimisation, seed, and
    optionally a starting point, a subset of the data, a forget set, an objective and a mask."""

    model: Config
    data: Config
    train: TrainConfig = TrainConfig()
    seed: int = 0  # initialisation; the batch sampler is seeded by the whole run's hash
    init: Init | None = None  # start from a stored run (fine-tuning, unlearning, rewinding)
    subset: Subset | None = None  # which of the data's examples, how often (None: all, once)
    forget: Subset | None = None  # the forget set of unlearning objectives (indices into the same data)
    objective: Objective | None = None  # None: nll (next-token or class cross-entropy)
    mask: Mask | None = None  # weights held at zero (pruning)

    def validate(self):
        check_number(self.seed, "seed", 0, integer=True)
        self.data.check_model(self.model)
        obj = self.objective or Objective()
        from memlib.engine.objectives import OBJECTIVES
        needs = OBJECTIVES[obj.name].needs_forget
        check(needs == (self.forget is not None), "forget", self.forget,
              f"a forget Subset for objective {obj.name!r}" if needs else f"None for objective {obj.name!r}")
        for dep in self.depends_on():
            check(dep.model == self.model, "init/mask run", dep.model, f"the same model as this run ({self.model})")

    def examples(self, forget: bool = False) -> torch.Tensor:
        """Positions in the data's pool of the examples this run trains on (or of its forget set), repeated
        examples repeated: `data.indices()` through `subset` (or `forget`)."""
        subset = self.forget if forget else self.subset
        idx = self.data.indices()
        return idx if subset is None else subset.apply(idx)

    def depends_on(self) -> list[Run]:
        """Stored runs this one needs before it can train (its starting point, its mask's source)."""
        return [d.run for d in (self.init, self.mask) if d is not None]

    def batch_rows(self, forget: bool = False) -> int | None:
        """Rows of this run's batch (or forget batch; None without a forget set): `batch_rows` of its example count.

        A function of the run alone, so a model's arithmetic does not depend on the models beside it: padding a
        full batch to another model's length changes the summation order of its gradient, and the result."""
        if forget and self.forget is None:
            return None
        return batch_rows(len(self.examples(forget)), self.train.batch_size)

    def stack_key(self, device="cpu"):
        """Runs with equal keys can share a stack. Off CUDA, bf16 is emulated in fp32 tensors (see
        Stack), so fp32 and bf16 runs that differ in nothing else share one stack there. Runs that
        differ in their starting point, subset, forget set, objective or mask share a stack too, if
        their batches (and forget batches) have as many rows (`batch_rows`); a run without a forget set
        (its key's last entry None) may join any stack of its other entries (`sweep` puts it there)."""
        train = self.train if torch.device(device).type == "cuda" else self.train.replace(precision="fp32")
        return (self.model, train, type(self.data), self.batch_rows(), self.batch_rows(forget=True))


MIN_BATCH_ROWS = 16  # per-model (K, B) tensors stay whole SIMD vectors (8 or 16 floats), as in a stack of any size
PAD_TO_BATCH = 512  # runs with batch_size up to this pad a smaller training set to batch_size rows


def batch_rows(n: int, batch_size: int) -> int:
    """Rows of one step's batch for a run of `n` examples: batch_size; for a run with fewer examples than that, all
    of them padded with zero-weight rows to batch_size when batch_size <= PAD_TO_BATCH (so the runs of one shape
    share a stack, whatever their dataset sizes), else to the power of two at or above n (a full-batch run of a
    huge batch_size pays for no more than twice its own rows). That power of two is at least MIN_BATCH_ROWS
    (and never more than batch_size): transcendental functions (softplus, exp) round differently in PyTorch's vectorized loop and its
    scalar tail, so a model's 4 values computed alone and the same 4 inside a stacked 16 could differ."""
    if n >= batch_size or batch_size <= PAD_TO_BATCH:
        return batch_size
    return min(batch_size, max(MIN_BATCH_ROWS, 1 << max(0, n - 1).bit_length()))


class DivergedError(FloatingPointError):
    pass


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check(device in ("cpu", "cuda") or device.startswith("cuda:"), "device", device, "'auto', 'cpu' or 'cuda[:N]'")
    check(not device.startswith("cuda") or torch.cuda.is_available(), "device", device,
          "'cpu' or 'auto': no CUDA device is available here")
    return torch.device(device)

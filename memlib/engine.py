"""The training engine: many small models of one shape trained at once, as one stack.

Each model of a stack has its own initialisation seed, its own training examples (indices into
a shared pool), its own batch sampler, its own learning-rate schedule and its own stopping
point, so a model's result does not depend on which other models share its stack: training
K models stacked gives the same parameters as training each alone (up to float rounding of the
batched kernels). Parameters live as (K, ...) tensors; GPTs use a hand-written stacked forward
(`models.STACKED`), other modules `torch.func.vmap(functional_call)`.

Stopping: `stop="steps"` trains a fixed budget; `stop="plateau"` trains at constant learning
rate until the monitored score (e.g. memorized bits) gains less than `tol` (relative) over
`patience` evaluations (or, with `window_frac` > 0, over the last `window_frac` of the steps
taken if that is longer), then decays the learning rate linearly to zero over `decay_frac` of
the steps taken (warmup-stable-decay), and evaluates once more.
"""
from __future__ import annotations

import copy
import functools
import math
import os
import time
import warnings
from dataclasses import dataclass

import torch
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from memlib import models
from memlib.config import Config, check, check_number
from memlib.store import RunStore

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
# torch.compile of the whole training step (forward, backward, AdamW) for models with a hand-written
# stacked forward: "auto" compiles on CUDA only (1.2-2.5x faster steps on an H100). On the 2-core CPU a
# compile costs 23-57 s per shape and stack size and saved 46% of a step at 1x8 but nothing at 1x16 or
# larger (benchmarks/RESULTS.md), so it is off there:
# MEMLIB_COMPILE=on|off|auto, or Stack(..., compile=True/False). Compiled steps equal eager ones up
# to float rounding; eager (the CPU default) keeps runs bit-reproducible across resumes.
COMPILE = os.environ.get("MEMLIB_COMPILE", "auto")


@dataclass(frozen=True)
class TrainConfig(Config):
    lr: float = 1e-3  # peak learning rate (AdamW)
    betas: tuple = (0.9, 0.98)
    eps: float = 1e-8
    weight_decay: float = 0.0  # decoupled; on weight matrices and embeddings, not biases or norms
    batch_size: int = 256  # examples per model per step; a model with fewer trains full-batch
    warmup: int = 100  # steps of linear warmup
    stop: str = "plateau"  # plateau | steps
    max_steps: int = 20000  # budget; with stop=plateau a run that never plateaus is marked unsaturated
    eval_every: int = 200  # steps between evaluations of the monitor
    patience: int = 4  # plateau: evaluations over which the gain is measured
    tol: float = 0.01  # plateau: relative gain over `patience` evaluations below which we stop
    window_frac: float = 0.0  # plateau: the gain is measured over max(patience evaluations, window_frac * steps)
    decay_frac: float = 0.25  # final linear decay to 0, as a fraction of the steps before it
    precision: str = "fp32"  # fp32 | bf16 (parameters stored and trained in bf16)
    grad_clip: float = 0.0  # per-model global gradient norm clip; 0 = off

    def validate(self):
        check_number(self.lr, "lr", 0, lo_open=True)
        check(len(self.betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.betas),
              "betas", self.betas, "two numbers in [0, 1)")
        check_number(self.eps, "eps", 0, lo_open=True)
        check_number(self.weight_decay, "weight_decay", 0)
        check_number(self.batch_size, "batch_size", 1, integer=True)
        check_number(self.warmup, "warmup", 0, integer=True)
        check(self.stop in ("plateau", "steps"), "stop", self.stop, "'plateau' or 'steps'")
        check_number(self.max_steps, "max_steps", 1, integer=True)
        check_number(self.eval_every, "eval_every", 1, integer=True)
        check_number(self.patience, "patience", 1, integer=True)
        check_number(self.tol, "tol", 0)
        check_number(self.window_frac, "window_frac", 0, 0.95)
        check_number(self.decay_frac, "decay_frac", 0, 1)
        check(self.precision in PRECISIONS, "precision", self.precision, f"one of {sorted(PRECISIONS)}")
        check_number(self.grad_clip, "grad_clip", 0)


@dataclass(frozen=True)
class Run(Config):
    """One model to train: architecture, data (a spec from `memlib.data`), optimisation, seed."""

    model: Config
    data: Config
    train: TrainConfig = TrainConfig()
    seed: int = 0  # initialisation; the batch sampler is seeded by the whole run's hash

    def validate(self):
        check_number(self.seed, "seed", 0, integer=True)
        self.data.check_model(self.model)

    def stack_key(self, device="cpu"):
        """Runs with equal keys can share a stack. Off CUDA, bf16 is emulated in fp32 tensors (see
        Stack), so fp32 and bf16 runs that differ in nothing else share one stack there."""
        train = self.train if torch.device(device).type == "cuda" else self.train.replace(precision="fp32")
        return (self.model, train, type(self.data))


class DivergedError(FloatingPointError):
    pass


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check(device in ("cpu", "cuda") or device.startswith("cuda:"), "device", device, "'auto', 'cpu' or 'cuda[:N]'")
    check(not device.startswith("cuda") or torch.cuda.is_available(), "device", device,
          "'cpu' or 'auto': no CUDA device is available here")
    return torch.device(device)


class Stack:
    """K models of one config, stacked: forward, per-example code lengths, AdamW steps."""

    def __init__(self, runs: list[Run], device="cpu", checkpoints=None, compile=None):
        self.runs = list(runs)
        self.cfg, self.tc = runs[0].model, runs[0].train  # tc: what the runs share (all but precision)
        self.device = torch.device(device)
        keys = {r.stack_key(self.device) for r in runs}
        assert len(keys) == 1, "runs of one stack must share their stack key"
        self.dtypes = [PRECISIONS[r.train.precision] for r in runs]  # what each model's parameters are stored as
        # bf16 matmuls are slower than fp32 on CPUs without AMX/avx512_bf16 (5-10x here), so on CPU
        # bf16 parameters are kept bf16-valued (rounded at every update) inside fp32 tensors, and
        # bf16 and fp32 models share a stack; `rounded` marks the bf16 ones (None: no rounding).
        self.compute = self.dtypes[0] if self.device.type == "cuda" else torch.float32
        self.rounded = (torch.tensor([d == torch.bfloat16 for d in self.dtypes], device=self.device)
                        if self.device.type != "cuda" and torch.bfloat16 in self.dtypes else None)
        ms = [models.build(r.model, r.seed) for r in runs]
        params, _ = stack_module_state(ms)
        self.p = {k: _round(v.detach().to(self.device, self.compute), self.rounded) for k, v in params.items()}
        self.m = {k: torch.zeros_like(v, dtype=torch.float32) for k, v in self.p.items()}
        self.v = {k: torch.zeros_like(v, dtype=torch.float32) for k, v in self.p.items()}
        self.decay = {k: v.dim() >= 3 for k, v in self.p.items()}  # (K, ...) matrices and embeddings
        self.base = copy.deepcopy(ms[0]).to("meta")
        self.gens = [torch.Generator().manual_seed(int(r.run_id(), 16) % (2**63)) for r in runs]
        self.step = 0
        self.state = [{"phase": "stable", "decay_start": None, "decay_len": None, "saturated": None,
                       "history": []} for _ in runs]
        if checkpoints:
            self._restore(checkpoints)
        for v in self.p.values():
            v.requires_grad_(True)
        self._load_pool()
        self._fixed = None  # cached full-batch rows of _batch; reset when models leave the stack
        self._step_fn = _compiled_step(self, COMPILE if compile is None else compile)

    # --- data ----------------------------------------------------------------------------
    def _load_pool(self):
        """One pool of examples per data source; each model's indices point into it."""
        sources = {}
        for r in self.runs:
            idx = r.data.indices()
            spec, n = sources.get(r.data.source(), (r.data, 0))
            sources[r.data.source()] = (spec if n >= len(idx) else r.data, max(n, int(idx.max()) + 1))
        xs, ys, offset = [], [], {}
        total = 0
        for key, (spec, n) in sources.items():
            x, y = spec.load_pool(n)
            offset[key] = total
            total += len(x)
            xs.append(x), ys.append(y)
        self.x = torch.cat(xs).to(self.device)
        self.y = torch.cat(ys).to(self.device)
        self.own = [r.data.indices() + offset[r.data.source()] for r in self.runs]

    @property
    def counts(self):
        return [len(o) for o in self.own]

    def _batch(self):
        """Indices (K, B) and weights (K, B) of this step's batch for every model.

        Models with at most B examples train full-batch (padded with zero-weight slots; their rows
        are built once and cached); the others draw B indices from their own generator each step.
        """
        if self._fixed is None:
            B = min(self.tc.batch_size, max(self.counts))
            rows = [torch.cat([own, own[:1].expand(B - len(own))]) if len(own) <= B else None for own in self.own]
            w = torch.stack([torch.cat([torch.ones(len(own)), torch.zeros(B - len(own))]) if len(own) <= B
                             else torch.ones(B) for own in self.own]).to(self.device)
            self._fixed = B, rows, w
        B, rows, w = self._fixed
        idx = [r if r is not None else own[torch.randint(len(own), (B,), generator=g)]
               for r, own, g in zip(rows, self.own, self.gens)]
        return torch.stack(idx).to(self.device), w

    # --- model ---------------------------------------------------------------------------
    def forward(self, p, x):
        """x (K, B, ...) -> outputs (K, B, ...)."""
        stacked = models.STACKED.get(type(self.cfg))
        if stacked is not None:
            return stacked(self.cfg, p, x)
        return vmap(lambda pk, xk: functional_call(self.base, pk, (xk,)))(p, x)

    def nats(self, x, y, fp32=True):
        """Per-example code length in nats, x (K, B, ...) -> (K, B); evaluated without grad.

        fp32=True evaluates bf16 weights in fp32 arithmetic, so the code length measures
        what the stored parameters encode, not bf16 rounding of activations.
        """
        with torch.no_grad():
            p = {k: v.detach().float() for k, v in self.p.items()} if fp32 else self.p
            return models.EXAMPLE_NATS[type(self.cfg)](self.forward(p, x), y)

    def pool_nats(self, index, chunk=512):
        """Per-example nats of pool rows: index (K, N) -> (K, N), computed in chunks."""
        out = [self.nats(self.x[i], self.y[i]) for i in index.split(chunk, dim=1)]
        return torch.cat(out, dim=1)

    def own_nats(self, chunk=512):
        """Each model's code length (nats) on each of its own training examples: list of (N_k,)."""
        n = max(self.counts)
        index = torch.stack([torch.cat([o, o[:1].expand(n - len(o))]) for o in self.own]).to(self.device)
        full = self.pool_nats(index, chunk)
        return [full[k, :c] for k, c in enumerate(self.counts)]

    # --- optimisation --------------------------------------------------------------------
    def lr(self):
        """Per-model learning rate at the current step, (K,)."""
        tc, t = self.tc, self.step
        warm = min(1.0, t / tc.warmup) if tc.warmup else 1.0
        out = []
        for s in self.state:
            f = warm
            if s["decay_start"] is not None:
                f *= max(0.0, 1 - (t - s["decay_start"]) / max(1, s["decay_len"]))
            out.append(tc.lr * f)
        return torch.tensor(out, device=self.device)

    def train_step(self):
        """One AdamW step for every model; returns per-model training loss (nats/token), (K,)."""
        idx, w = self._batch()
        if self._step_fn is not None:
            try:
                return self._compiled_train_step(idx, w)
            except torch._dynamo.exc.TorchDynamoException as e:  # a compiler failure must not lose the run
                self.step -= 1  # nothing else was changed: the compiled step is pure until it returns
                self._step_fn = None
                warnings.warn(f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); this stack "
                              "continues eagerly (same results up to rounding). MEMLIB_COMPILE=off skips compiling.",
                              RuntimeWarning, stacklevel=2)
        tokens = models.TOKENS_PER_EXAMPLE.get(type(self.cfg), lambda c: 1)(self.cfg)
        ex = models.EXAMPLE_NATS[type(self.cfg)](self.forward(self.p, self.x[idx]), self.y[idx])  # (K, B)
        loss = (ex * w).sum(1) / (w.abs().sum(1).clamp_min(1) * tokens)  # (K,)
        grads = torch.autograd.grad(loss.sum(), list(self.p.values()))
        self.step += 1
        self._adamw(dict(zip(self.p, grads)), self.lr())
        return loss.detach()

    @torch.no_grad()
    def _adamw(self, grads, lr):
        (b1, b2), t = self.tc.betas, self.step
        scale = _clip_scale(grads.values(), self.tc, len(self.runs))
        for k, p in self.p.items():
            new, self.m[k], self.v[k] = _adamw_update(p, grads[k], self.m[k], self.v[k], lr, scale, 1 - b1**t,
                                                      1 - b2**t, self.decay[k], self.tc, self.rounded)
            p.copy_(new)  # bf16 parameters: rounded to nearest in _adamw_update

    def _compiled_train_step(self, idx, w):
        self.step += 1
        (b1, b2), t = self.tc.betas, self.step
        bc = torch.tensor([1 - b1**t, 1 - b2**t], device=self.device)  # tensors: no recompile per step
        p = {k: v.detach() for k, v in self.p.items()}
        p, self.m, self.v, loss = self._step_fn(p, self.m, self.v, self.x[idx], self.y[idx], w, self.lr(), bc[0], bc[1],
                                                self.rounded)
        self.p = {k: v.requires_grad_(True) for k, v in p.items()}
        return loss.detach()

    def keep(self, mask: list[bool]):
        """Drop the models whose mask entry is False (they finished or failed)."""
        self._fixed = None
        sel = torch.tensor([i for i, k in enumerate(mask) if k], dtype=torch.long, device=self.device)
        for d in (self.p, self.m, self.v):
            for k in d:
                d[k] = d[k].detach()[sel].clone()
        for v in self.p.values():
            v.requires_grad_(True)
        if self.rounded is not None:
            self.rounded = self.rounded[sel]
        pick = lambda xs: [x for x, k in zip(xs, mask) if k]
        self.runs, self.gens, self.state, self.own = pick(self.runs), pick(self.gens), pick(self.state), pick(self.own)
        self.dtypes = pick(self.dtypes)

    def model_weights(self, k: int) -> dict:
        return {n: v[k].detach().to(self.dtypes[k]) for n, v in self.p.items()}

    # --- checkpoints ---------------------------------------------------------------------
    def checkpoint(self, k: int):
        tensors = {f"p.{n}": self.p[n][k] for n in self.p}
        tensors.update({f"m.{n}": self.m[n][k] for n in self.m})
        tensors.update({f"v.{n}": self.v[n][k] for n in self.v})
        tensors["gen"] = self.gens[k].get_state()
        return tensors, {"step": self.step, **self.state[k]}

    def _restore(self, checkpoints):
        steps = {c[1]["step"] for c in checkpoints}
        assert len(steps) == 1, "models resumed into one stack must share their step"
        self.step = steps.pop()
        for d, pre in ((self.p, "p."), (self.m, "m."), (self.v, "v.")):
            for n in d:
                d[n] = torch.stack([t[pre + n] for t, _ in checkpoints]).to(self.device, d[n].dtype)
        for g, (t, s) in zip(self.gens, checkpoints):
            g.set_state(t["gen"])
        self.state = [{k: v for k, v in s.items() if k not in ("step", "sha256")} for _, s in checkpoints]


def _clip_scale(grads, tc: TrainConfig, K: int):
    """Per-model factor (K,) that clips each model's global gradient norm to tc.grad_clip, or None."""
    if not tc.grad_clip:
        return None
    norm = sum(g.float().pow(2).reshape(K, -1).sum(1) for g in grads).sqrt()
    return (tc.grad_clip / (norm + 1e-6)).clamp(max=1.0)


def _round(p, rounded):
    """p (K, ...) with the models marked in `rounded` (K,) rounded to bf16 values (None: unchanged)."""
    if rounded is None:
        return p
    return torch.where(rounded.view((p.shape[0],) + (1,) * (p.dim() - 1)), p.to(torch.bfloat16).to(p.dtype), p)


def _adamw_update(p, g, m, v, lr, scale, bc1, bc2, decay: bool, tc: TrainConfig, rounded):
    """AdamW for one stacked parameter (K, ...) with per-model lr (K,): returns new (p, m, v).

    The one update both the eager step and the compiled step use; bc1, bc2 are the bias corrections.
    The result is stored in p's dtype (bf16 on CUDA rounds here); `rounded` (K,) marks the models
    whose bf16 values are emulated inside fp32 tensors (on CPU), or is None.
    """
    (b1, b2), shape = tc.betas, (p.shape[0],) + (1,) * (p.dim() - 1)
    g = g.float() if scale is None else g.float() * scale.view(shape)
    m = m.lerp(g, 1 - b1)
    v = torch.addcmul(v * b2, g, g, value=1 - b2)
    upd = (m / bc1) / ((v / bc2).sqrt() + tc.eps)
    lr_k, p32 = lr.view(shape), p.float()
    if decay and tc.weight_decay:
        p32 = p32 * (1 - lr_k * tc.weight_decay)
    return _round(p32 - lr_k * upd, rounded).to(p.dtype), m, v


def _step_math(forward, example_nats, tokens, tc, decay, p, m, v, x, y, w, lr, bc1, bc2, rounded):
    """One training step as a pure function (the one torch.compile fuses): the loss of
    `Stack.train_step`, its gradient, and `_adamw_update`; returns new (p, m, v) and the loss."""
    def total(p):
        ex = example_nats(forward(p, x), y)  # (K, B)
        loss = (ex * w).sum(1) / (w.abs().sum(1).clamp_min(1) * tokens)
        return loss.sum(), loss
    g, loss = torch.func.grad(total, has_aux=True)(p)
    scale = _clip_scale(g.values(), tc, lr.shape[0])
    P, M, V = {}, {}, {}
    for k in p:
        P[k], M[k], V[k] = _adamw_update(p[k], g[k], m[k], v[k], lr, scale, bc1, bc2, decay[k], tc, rounded)
    return P, M, V, loss


def _compiled_step(stack, mode):
    """The torch.compile'd step for `stack`, or None (eager): see COMPILE."""
    check(mode in ("auto", "on", "off", True, False), "compile", mode, "'auto', 'on', 'off', True or False")
    on = stack.device.type == "cuda" if mode == "auto" else mode in ("on", True)
    fwd = models.STACKED.get(type(stack.cfg))
    if not on or fwd is None:
        return None
    dyn = torch._dynamo.config  # a stack recompiles when its size K changes; allow one compile per shape and K
    limit = "recompile_limit" if hasattr(dyn, "recompile_limit") else "cache_size_limit"
    setattr(dyn, limit, max(getattr(dyn, limit), 64))
    tokens = models.TOKENS_PER_EXAMPLE.get(type(stack.cfg), lambda c: 1)(stack.cfg)
    return torch.compile(functools.partial(_step_math, functools.partial(fwd, stack.cfg),
                                           models.EXAMPLE_NATS[type(stack.cfg)], tokens, stack.tc,
                                           dict(stack.decay)))


def _plateaued(history, tc: TrainConfig) -> bool:
    """True when the score gained at most `tol` (relative to its current value) since the reference
    evaluation: `patience` evaluations back, or further back if that is less than `window_frac` of
    the steps taken (window_frac = 0.5: the second half of training so far added at most `tol`)."""
    scores = [h["score"] for h in history]
    if len(scores) <= tc.patience or scores[-1] <= 0:
        return False
    ref = len(scores) - 1 - tc.patience
    if tc.window_frac:
        since = history[-1]["step"] * (1 - tc.window_frac)  # the window starts at or before this step
        before = [i for i, h in enumerate(history) if h["step"] <= since]
        if not before:
            return False
        ref = min(ref, before[-1])
    gain = scores[-1] - scores[ref]
    return gain <= tc.tol * abs(scores[-1])


def train_group(runs: list[Run], monitor, store: RunStore, device="cpu", progress=True, checkpoints=None,
                checkpoint_every: int = 0):
    """Train `runs` (one stack key) to their stopping points, saving each to `store` as it finishes.

    With `checkpoint_every` > 0, unfinished runs are checkpointed every that many steps (how often
    is not part of a run's identity: it does not change the result).

    `monitor(stack)` returns a dict of per-model tensors (K,) logged at every evaluation; its
    "score" entry (higher is better) drives the plateau rule. Models that produce a NaN or
    infinite loss are dropped; the others finish, then DivergedError names the failures.
    """
    tc = runs[0].train
    stack = Stack(runs, device, checkpoints)
    t0, failures, resumed_from = time.time(), [], stack.step
    for s in stack.state:  # training time so far, carried through checkpoints
        s["wall_before"] = s.get("wall_s", 0.0)
    where = f"cuda: {torch.cuda.get_device_name(stack.device)}" if stack.device.type == "cuda" else str(stack.device)
    stack_id = f"{runs[0].run_id()}-{int(t0 * 1e3)}"  # names this training session (the runs it trained together)
    bar = tqdm(total=tc.max_steps, initial=stack.step, desc=f"{len(runs)} x {type(runs[0].model).__name__}",
               disable=not progress, leave=False, mininterval=5)
    force_decay_at = tc.max_steps - math.ceil(tc.decay_frac * tc.max_steps)

    while stack.runs:
        loss = stack.train_step()
        bar.update(1)
        bad = ~torch.isfinite(loss)
        if bad.any():
            for k in bad.nonzero().flatten().tolist():
                failures.append(f"run {stack.runs[k].run_id()} diverged at step {stack.step} (loss {loss[k].item()})")
                store.drop_checkpoint(stack.runs[k].run_id())
            stack.keep((~bad).tolist())
            continue
        t = stack.step
        for s in stack.state:  # fixed budget, or a plateau that never came: decay at the end
            if s["decay_start"] is None and (t >= force_decay_at):
                s.update(phase="decay", decay_start=t, decay_len=tc.max_steps - t,
                         saturated=False if tc.stop == "plateau" else None)
        ending = [s["decay_start"] is not None and t >= s["decay_start"] + s["decay_len"] for s in stack.state]
        if t % tc.eval_every == 0 or any(ending):
            mon = {k: v.tolist() for k, v in monitor(stack).items()}
            lrs = stack.lr().tolist()
            for r in stack.runs:
                store.heartbeat(r.run_id())
            for k, s in enumerate(stack.state):
                s["history"].append({"step": t, "lr": lrs[k], "loss": loss[k].item(),
                                     **{n: v[k] for n, v in mon.items()}})
                if tc.stop == "plateau" and s["phase"] == "stable" and _plateaued(s["history"], tc):
                    s.update(phase="decay", decay_start=t, decay_len=max(1, math.ceil(tc.decay_frac * t)),
                             saturated=True)
            bar.set_postfix(models=len(stack.runs), score=f"{sum(mon['score']) / len(stack.runs):.4g}")
        if any(ending):
            for k in [k for k, e in enumerate(ending) if e]:
                r, s = stack.runs[k], stack.state[k]
                final = {n: v for n, v in s["history"][-1].items()}
                metrics = {"final": final, "steps": t, "saturated": s["saturated"], "decay_start": s["decay_start"],
                           "n_params": models.n_params(r.model), "stack_size": len(runs), "resumed_from": resumed_from,
                           "stack_wall_s": round(time.time() - t0, 3), "device": where, "stack_id": stack_id,
                           "wall_s": round(s["wall_before"] + time.time() - t0, 3), "history": s["history"]}
                store.save(r.run_id(), r.to_dict(), stack.model_weights(k), metrics)
            stack.keep([not e for e in ending])
        elif checkpoint_every and t % checkpoint_every == 0:
            for k, r in enumerate(stack.runs):
                stack.state[k]["wall_s"] = round(stack.state[k]["wall_before"] + time.time() - t0, 3)
                store.save_checkpoint(r.run_id(), *stack.checkpoint(k))
    bar.close()
    if failures:
        raise DivergedError("; ".join(failures) + ". No metrics were written for these runs: "
                            "lower the learning rate or use fp32.")


class InProcess:
    """The default executor: runs each submitted group here, now (concurrent.futures-compatible)."""

    def submit(self, fn, *args, **kw):
        from concurrent.futures import Future
        f = Future()
        try:
            f.set_result(fn(*args, **kw))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(e)
        return f


_CLIENTS = {}


def executor(scheduler: str | None = "in-process"):
    """Where sweep cells run: "in-process" (or None) -> here; an address -> that dask scheduler's workers;
    "local" -> a two-worker dask LocalCluster on this machine (one thread each).

    Workers must import memlib and see the same run store path (MEMLIB_RUNS on a shared disk).
    """
    if scheduler in (None, "in-process"):
        return InProcess()
    if scheduler not in _CLIENTS:
        from dask.distributed import Client, LocalCluster
        if scheduler == "local":
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            _CLIENTS[scheduler] = Client(cluster)
        else:
            _CLIENTS[scheduler] = Client(scheduler)
    return _CLIENTS[scheduler].get_executor(pure=False)


def _train_pending(runs, monitor, store_root, device, progress, checkpoint_every=0):
    store = RunStore(store_root)
    claimed = [r for r in runs if store.claim(r.run_id())]
    try:
        by_step = {}
        for r in claimed:
            ck = store.load_checkpoint(r.run_id())
            by_step.setdefault(ck[1]["step"] if ck else 0, []).append((r, ck))
        for step, items in sorted(by_step.items()):
            rs, cks = [r for r, _ in items], [c for _, c in items]
            train_group(rs, monitor, store, device, progress, checkpoints=cks if step else None,
                        checkpoint_every=checkpoint_every)
    finally:
        for r in claimed:
            store.release(r.run_id())


def train_bytes_per_model(run: Run) -> int | None:
    """Estimated peak training memory of one GPT in a stack (bytes), or None for other models.

    Activations dominate: about (13.6 V + 72 n_layer d_model) bytes per token of a step in fp32,
    half the second term in bf16, fitted to the peaks measured on an H100 at V=2048, S=64,
    batch 2048 for 1x32 ... 8x256 (benchmarks/RESULTS_gpu.md).
    """
    m = run.model
    if not isinstance(m, models.GPTConfig):
        return None
    per_token = 13.6 * m.vocab_size + (72 if run.train.precision == "fp32" else 37) * m.n_layer * m.d_model
    return int(per_token * run.train.batch_size * m.seq_len)


def stack_limit(run: Run, device: str, max_stack: int, free_bytes: int | None = None) -> int:
    """How many models of `run`'s shape to stack: max_stack, capped on CUDA by free GPU memory (80% of it)."""
    need = train_bytes_per_model(run)
    if need is None or not str(device).startswith("cuda"):
        return max_stack
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(torch.device(device))[0]
    return max(1, min(max_stack, int(0.8 * free_bytes // need)))


def sweep(runs: list[Run], monitor, store: RunStore | None = None, device="auto", executor=None,
          max_stack: int = 64, progress=True, poll_s: float = 2.0, checkpoint_every: int = 0) -> list[dict]:
    """Metrics of every run in `runs`: finished runs are loaded, the rest trained in stacks.

    Runs are grouped by stack key and trained `max_stack` at a time through `executor`
    (any concurrent.futures.Executor, e.g. a dask.distributed Client; default in-process).
    Interrupted sweeps resume: finished runs are kept, unfinished ones restart from their
    last checkpoint (written every `checkpoint_every` steps; 0 = none). Runs claimed by another
    live process are waited for, not retrained. Each finished run is verified and read once.
    """
    store = store or RunStore()
    executor = executor or InProcess()
    dev = str(resolve_device(device))
    found, pending = {}, {}
    for r in runs:
        rid = r.run_id()
        if rid not in found:
            found[rid] = store.load_metrics(rid)
        if found[rid] is None:
            pending.setdefault(r.stack_key(dev), {})[rid] = r  # dict: duplicates train once
    futures = []
    for group in pending.values():
        group = list(group.values())
        k = stack_limit(group[0], dev, max_stack)
        for i in range(0, len(group), k):
            futures.append(executor.submit(_train_pending, group[i:i + k], monitor, store.root, dev, progress,
                                           checkpoint_every))
    errors, by_id = [], {r.run_id(): r for r in runs}
    for f in futures:
        try:
            f.result()
        except DivergedError as e:
            errors.append(e)
    if errors:
        raise DivergedError(" | ".join(map(str, errors)))
    for rid, m in found.items():
        while m is None:
            m = store.load_metrics(rid)
            if m is None:
                if not (store.dir(rid) / "claim").exists():
                    raise RuntimeError(f"run {rid} was neither finished nor claimed; rerun the sweep")
                if store.abandoned(rid):  # its trainer died or stopped refreshing its claim: train it here
                    _train_pending([by_id[rid]], monitor, store.root, dev, progress, checkpoint_every)
                    continue
                time.sleep(poll_s)  # another process is training it
        found[rid] = m
    return [found[r.run_id()] for r in runs]


def load_weights(run: Run, store: RunStore | None = None) -> dict:
    store = store or RunStore()
    got = store.load(run.run_id())
    if got is None:
        raise FileNotFoundError(f"run {run.run_id()} is not in the store {store.root}; train it with sweep()")
    return got[0]


def train_seconds(runs: list[Run], store=None) -> float:
    """Wall time spent training `runs` (finished, in the store): each training session's (stack's)
    time, summed over sessions. Loaded runs report the time of the session that trained them."""
    store = store or RunStore()
    per_stack = {}
    for rid in {r.run_id() for r in runs}:
        m = store.load_metrics(rid)
        check(m is not None, "runs", rid, "runs already trained into the store")
        key = m.get("stack_id", rid)  # runs trained before stack ids were recorded count alone
        per_stack[key] = max(per_stack.get(key, 0.0), m.get("wall_s", m["stack_wall_s"]))
    return float(sum(per_stack.values()))


def stack_of(runs: list[Run], store: RunStore | None = None, device="cpu") -> Stack:
    """A Stack holding the trained weights of finished `runs` (for evaluation)."""
    s = Stack(runs, device)
    for k, r in enumerate(runs):
        w = load_weights(r, store)
        with torch.no_grad():
            for n in s.p:
                s.p[n][k] = w[n].to(s.device, s.compute)
    return s

"""Sweeps: train many runs, stacked by shape, through any executor, resumably.

`sweep(runs, monitor)` returns every run's metrics: finished runs are loaded from the store, the
rest trained in stacks of up to `max_stack` models, runs they start from (`Init`) or take their
mask from (`Mask`) first. Each finished run stores its weights, its metrics and its optimizer state
(so another run can continue it exactly).
"""
from __future__ import annotations

import math
import os
import time

import torch
from tqdm.auto import tqdm

from memlib import models
from memlib.config import check
from memlib.engine.runs import DivergedError, Run, resolve_device
from memlib.engine.stack import Stack
from memlib.engine.stopping import plateaued, stop_info
from memlib.store import RunStore


def show_progress() -> bool:
    """Progress bars in a terminal or a JupyterLab session (widgets, via ipywidgets); none in DVC stages, CI or
    tests, whose outputs are kept (no carriage-return noise in executed notebooks). $MEMLIB_PROGRESS=0|1 decides."""
    if os.environ.get("MEMLIB_PROGRESS") in ("0", "1"):
        return os.environ["MEMLIB_PROGRESS"] == "1"
    return not any(os.environ.get(v) for v in ("DVC_STAGE", "CI", "PYTEST_CURRENT_TEST"))


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
    stack = Stack(runs, device, checkpoints, store=store)
    t0, failures, resumed_from = time.time(), [], stack.step
    for s in stack.state:  # training time so far, carried through checkpoints
        s["wall_before"] = s.get("wall_s", 0.0)
    where = f"cuda: {torch.cuda.get_device_name(stack.device)}" if stack.device.type == "cuda" else str(stack.device)
    stack_id = f"{runs[0].run_id()}-{int(t0 * 1e3)}"  # names this training session (the runs it trained together)
    bar = tqdm(total=tc.max_steps, initial=stack.step, desc=f"{len(runs)} x {type(runs[0].model).__name__}",
               disable=not progress, leave=False, mininterval=5)
    force_decay_at = tc.max_steps - math.ceil(tc.decay_frac * tc.max_steps)
    if tc.max_steps == 0:  # nothing to train: store each starting point with its mask applied (one-shot pruning)
        mon = {k: v.tolist() for k, v in monitor(stack).items()}
        for k, r in enumerate(stack.runs):
            final = {"step": 0, **{n: v[k] for n, v in mon.items()}}
            metrics = {"final": final, "steps": 0, "plateau_step": None, "decay_start": None,
                       "n_params": models.n_params(r.model), "stack_size": len(runs), "resumed_from": 0,
                       "stack_wall_s": round(time.time() - t0, 3), "device": where, "stack_id": stack_id,
                       "wall_s": round(time.time() - t0, 3), "opt_steps": stack.opt_steps()[k], "history": [final]}
            metrics.update(stop_info(metrics, tc.stop))
            store.save(r.run_id(), r.to_dict(), stack.model_weights(k), metrics,
                       extra={"optimizer": stack.optimizer_state(k)})
        bar.close()
        return

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
                s.update(phase="decay", decay_start=t, decay_len=tc.max_steps - t)
        ending = [s["decay_start"] is not None and t >= s["decay_start"] + s["decay_len"] for s in stack.state]
        if t % tc.eval_every == 0 or any(ending):
            mon = {k: v.tolist() for k, v in monitor(stack).items()}
            lrs = stack.lr().tolist()
            for r in stack.runs:
                store.heartbeat(r.run_id())
            for k, s in enumerate(stack.state):
                if t % tc.eval_every and not ending[k]:
                    continue  # another model's final evaluation: not one of this model's (its history is its own)
                s["history"].append({"step": t, "lr": lrs[k], "loss": loss[k].item(),
                                     **{n: v[k] for n, v in mon.items()}})
                if tc.stop == "plateau" and s["phase"] == "stable" and plateaued(s["history"], tc):
                    s.update(phase="decay", decay_start=t, decay_len=max(1, math.ceil(tc.decay_frac * t)),
                             plateau_step=t)
            bar.set_postfix(models=len(stack.runs), score=f"{sum(mon['score']) / len(stack.runs):.4g}")
        if any(ending):
            for k in [k for k, e in enumerate(ending) if e]:
                r, s = stack.runs[k], stack.state[k]
                final = {n: v for n, v in s["history"][-1].items()}
                metrics = {"final": final, "steps": t, "plateau_step": s.get("plateau_step"), "decay_start": s["decay_start"],
                           "n_params": models.n_params(r.model), "stack_size": len(runs), "resumed_from": resumed_from,
                           "stack_wall_s": round(time.time() - t0, 3), "device": where, "stack_id": stack_id,
                           "wall_s": round(s["wall_before"] + time.time() - t0, 3), "opt_steps": stack.opt_steps()[k],
                           "history": s["history"]}
                metrics.update(stop_info(metrics, tc.stop))
                store.save(r.run_id(), r.to_dict(), stack.model_weights(k), metrics,
                           extra={"optimizer": stack.optimizer_state(k)})
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
    return int(per_token * run.batch_rows() * m.seq_len)  # the rows a step really has (a "full batch" is its data)


def stack_limit(run: Run, device: str, max_stack: int, free_bytes: int | None = None) -> int:
    """How many models of `run`'s shape to stack: max_stack, capped on CUDA by free GPU memory (80% of it)."""
    need = train_bytes_per_model(run)
    if need is None or not str(device).startswith("cuda"):
        return max_stack
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(torch.device(device))[0]
    return max(1, min(max_stack, int(0.8 * free_bytes // need)))


CPU_STACK_BYTES = 256 * 2**20  # on CPU, models needing more training memory than this train one at a time


def cpu_stack_size(group: list[Run], max_stack: int) -> int:
    """How many models of `group` to stack on CPU, from the runs alone (never from a timing): up to max_stack, or
    one at a time where a model's training activations (`train_bytes_per_model`) exceed CPU_STACK_BYTES.
    Stacking paid 2.4x at the laptop grid's shapes (~2 MB a model) and cost 0.9x at the paper's smallest
    (V = 2048, batch 2048: ~4 GB a model; benchmarks/RESULTS.md). Which it is does not change a model's result:
    each model's arithmetic is the same in a stack of any size (tests/test_stack_independence.py)."""
    need = train_bytes_per_model(group[0])
    return 1 if need is not None and need > CPU_STACK_BYTES else max(1, min(len(group), max_stack))


def _stack_groups(pending: dict) -> list[list[Run]]:
    """Runs grouped by stack key, runs without a forget set (key ending in None) joining the first group of
    runs that differ from them only in their forget batch rows; in a deterministic order."""
    groups = {}
    for key, g in pending.items():
        groups.setdefault(key, []).extend(g.values())
    for key in [k for k in groups if k[-1] is None]:
        mate = next((k for k in groups if k[-1] is not None and k[:-1] == key[:-1]), None)
        if mate is not None:
            groups[mate].extend(groups.pop(key))
    return list(groups.values())


def sweep(runs: list[Run], monitor, store: RunStore | None = None, device="auto", executor=None,
          max_stack: int = 64, progress: bool | None = None, poll_s: float = 2.0, checkpoint_every: int = 0,
          stacking: str = "auto") -> list[dict]:
    """Metrics of every run in `runs`: finished runs are loaded, the rest trained in stacks.

    Runs are grouped by stack key and trained `max_stack` at a time through `executor`
    (any concurrent.futures.Executor, e.g. a dask.distributed Client; default in-process).
    Runs that others start from or take their mask from are trained (or loaded) first.
    Interrupted sweeps resume: finished runs are kept, unfinished ones restart from their
    last checkpoint (written every `checkpoint_every` steps; 0 = none). Runs claimed by another
    live process are waited for, not retrained. Each finished run is verified and read once.
    `progress`: None shows bars where `show_progress()` says.
    `stacking`: "auto" stacks on CUDA up to the memory limit and on CPU as `cpu_stack_size` decides from the
    runs; "always" stacks up to max_stack; "never" trains one at a time. On CPU a model's result does not
    depend on the choice, nor on the other models in its stack.
    """
    check(stacking in ("auto", "always", "never"), "stacking", stacking, "'auto', 'always' or 'never'")
    progress = show_progress() if progress is None else progress
    store = store or RunStore()
    executor = executor or InProcess()
    dev = str(resolve_device(device))
    deps = {d.run_id(): d for r in runs for d in r.depends_on()}
    if deps:  # starting points and mask sources first (loaded if finished)
        sweep(list(deps.values()), monitor, store, device, executor, max_stack, progress, poll_s, checkpoint_every,
              stacking)
    found, pending = {}, {}
    for r in runs:
        rid = r.run_id()
        if rid not in found:
            found[rid] = store.load_metrics(rid)
        if found[rid] is None:
            pending.setdefault(r.stack_key(dev), {})[rid] = r  # dict: duplicates train once
    futures = []
    for group in _stack_groups(pending):
        k = 1 if stacking == "never" else stack_limit(group[0], dev, max_stack)
        if stacking == "auto" and dev == "cpu":
            k = cpu_stack_size(group, k)
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
        found[rid] = with_stop_info(m, by_id[rid].train.stop)
    return [found[r.run_id()] for r in runs]


def with_stop_info(m: dict, stop: str) -> dict:
    """Metrics with `stop_info` derived afresh from the stored history (so its definition can change without
    retraining), also for runs stored before it was recorded (whose "saturated" meant "the plateau rule fired")."""
    if "plateau_step" not in m:
        m = dict(m, plateau_step=m.get("decay_start") if m.get("saturated") else None)
    return {**m, **stop_info(m, stop)}


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




def eval_run(run: Run) -> Run:
    """`run` with what only training needs removed (starting point, forget set, objective, mask, optimizer
    settings but precision; its examples stay): runs of one model config then share one evaluation stack."""
    return Run(model=run.model, data=run.data, train=type(run.train)(precision=run.train.precision), seed=run.seed,
               subset=run.subset)


def stack_of(runs: list[Run], store: RunStore | None = None, device="cpu") -> Stack:
    """A Stack holding the trained weights of finished `runs` (for evaluation; they must share a model config)."""
    check(len({r.model for r in runs}) == 1, "runs", sorted({str(r.model) for r in runs}), "runs of one model config")
    weights = [load_weights(r, store) for r in runs]
    s = Stack([eval_run(r) for r in runs], device)
    with torch.no_grad():
        for k, w in enumerate(weights):
            for n in s.p:
                s.p[n][k] = w[n].to(s.device, s.compute)
    return s

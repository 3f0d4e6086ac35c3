"""Per-example evaluation of stored runs: losses, per-token log-probabilities, correctness.

`evaluate(runs, data)` scores every example of a data set under every finished run and returns
arrays of shape (runs, examples, ...), computed in stacks (runs of one model config at once) and
chunks of examples, and cached in the run store (`runs/<id>/eval/<key>.safetensors`), so a
notebook that asks again reads them back. Extraction, membership inference, data-diet scores
and unlearning all read models this way.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
import torch.nn.functional as F

from memlib import models
from memlib.config import Config, check
from memlib.engine.runs import Run, resolve_device
from memlib.engine.sweep import stack_of
from memlib.store import RunStore

OUTPUTS = ("nats", "logprobs", "correct", "logits")


def examples(data) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Inputs, targets and a content key of `data`: a data spec (its examples, `indices()`) or an (x, y) pair."""
    if isinstance(data, Config):
        idx = data.indices()
        x, y = data.load_pool(int(idx.max()) + 1)
        return x[idx], y[idx], data.run_id()
    check(isinstance(data, tuple) and len(data) == 2, "data", type(data).__name__, "a data spec or an (x, y) pair")
    x, y = (torch.as_tensor(t) for t in data)
    h = hashlib.sha256()
    for t in (x, y):
        h.update(str((t.dtype, tuple(t.shape))).encode())
        h.update(t.contiguous().numpy().tobytes())
    return x, y, h.hexdigest()[:16]


def _outputs(cfg, logits, y, want) -> dict:
    """Per-example outputs of one chunk: logits (K, B, ...) and targets y (K, B, ...)."""
    out = {}
    if "nats" in want:
        out["nats"] = models.EXAMPLE_NATS[type(cfg)](logits, y)  # (K, B)
    tok = logits[..., -1, :] if logits.dim() == y.dim() + 2 else logits  # last-position classifiers (grokking)
    if "logprobs" in want or "correct" in want:
        lp = F.log_softmax(tok.float(), -1)
        if "logprobs" in want:
            # (K, B[, T]); 0 at ignored targets (y < 0, models.IGNORE), which cost nothing
            out["logprobs"] = lp.gather(-1, y.clamp_min(0).unsqueeze(-1)).squeeze(-1) * (y >= 0)
        if "correct" in want:
            out["correct"] = tok.argmax(-1) == y  # False at ignored targets
    if "logits" in want:
        out["logits"] = tok.float()
    return out


def evaluate(runs: list[Run], data, store: RunStore | None = None, device="auto",
             outputs=("nats", "logprobs", "correct"), chunk: int = 512, cache: bool = True, max_models: int = 16) -> dict:
    """Per-example results of finished `runs` on `data`, as numpy arrays (len(runs), N, ...).

    - nats: each example's code length in nats (summed over tokens; the training loss's per-example term);
    - logprobs: log p(target) per token (GPTs, (R, N, T)) or per example (classifiers, (R, N));
    - correct: whether the argmax prediction equals the target, same shape as logprobs;
    - logits: the outputs themselves (classifiers: (R, N, classes)); only when asked for.
    Weights are evaluated in fp32 (bf16 runs: what the stored parameters encode). At most `max_models` models
    of one config are stacked at a time, so memory is bounded by (max_models, chunk, ...) outputs.
    """
    check(len(runs) > 0, "runs", runs, "at least one run")
    bad = sorted(set(outputs) - set(OUTPUTS))
    check(not bad, "outputs", bad, f"names among {OUTPUTS}")
    store = store or RunStore()
    dev = resolve_device(device)
    x, y, data_key = examples(data)
    key = hashlib.sha256(json.dumps([data_key, sorted(outputs)]).encode()).hexdigest()[:16]
    per_run = {}
    for r in runs:
        if r.run_id() not in per_run and cache:
            got = store.load_eval(r.run_id(), key)
            if got is not None:
                per_run[r.run_id()] = got
    todo = list({r.run_id(): r for r in runs if r.run_id() not in per_run}.values())
    by_model = {}
    for r in todo:
        by_model.setdefault(r.model, []).append(r)
    groups = [g[i:i + max_models] for g in by_model.values() for i in range(0, len(g), max_models)]
    for group in groups:
        s = stack_of(group, store, dev)
        K = len(group)
        p = {k: v.detach().float() for k, v in s.p.items()}
        parts = []
        with torch.no_grad():
            for xb, yb in zip(x.split(chunk), y.split(chunk)):
                xb = xb.to(s.device).expand(K, *xb.shape)
                yb = yb.to(s.device).expand(K, *yb.shape)
                parts.append({k: v.cpu() for k, v in _outputs(s.cfg, s.forward(p, xb), yb, outputs).items()})
        for k, r in enumerate(group):
            res = {name: torch.cat([c[name][k] for c in parts]) for name in outputs}
            if cache:
                store.save_eval(r.run_id(), key, res)
            per_run[r.run_id()] = res
    return {name: np.stack([per_run[r.run_id()][name].numpy() for r in runs]) for name in outputs}

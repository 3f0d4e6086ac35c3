"""The stack: K models of one shape trained at once.

Each model of a stack has its own initialisation seed (or stored starting point), its own training
examples (indices into a shared pool, with repetitions), its own batch sampler, its own learning-rate
schedule, forget set, mask and stopping point, so a model's result does not depend on which other
models share its stack: on CPU, training K models stacked gives bit for bit the parameters of training each
alone (tests/test_stack_independence.py). What that takes: a batch shape that is the run's own
(`Run.batch_rows`), monitors that score each model's own fixed subset (`own_subset`), reductions that never
mix models, optimizer arithmetic that rounds alike in vectorized and scalar loops, and a lone model computed
as a stack of two (`models.stacked_bmm`). On CUDA the batched kernels agree to float rounding. Parameters live as (K, ...) tensors; GPTs use a
hand-written stacked forward (`models.STACKED`), other modules `torch.func.vmap(functional_call)`.
"""
from __future__ import annotations

import copy
import warnings

import torch
from torch.func import functional_call, stack_module_state, vmap

from memlib import models
from memlib.engine import optim
from memlib.engine.masks import mask_for
from memlib.engine.objectives import OBJECTIVES, Terms
from memlib.engine.runs import PRECISIONS, Objective, Run
from memlib.engine.stopping import lr_factor
from memlib.store import RunStore


class Stack:
    """K models of one config, stacked: forward, per-example code lengths, AdamW steps."""

    def __init__(self, runs: list[Run], device="cpu", checkpoints=None, compile=None, store: RunStore | None = None):
        self.runs = list(runs)
        self.cfg, self.tc = runs[0].model, runs[0].train  # tc: what the runs share (all but precision)
        self.objectives = [r.objective or Objective() for r in runs]  # per model: runs of any objective share a stack
        self.device = torch.device(device)
        keys = {r.stack_key(self.device) for r in runs}
        assert len({k[:3] for k in keys}) == 1, "runs of one stack must share their stack key (Run.stack_key)"
        self.dtypes = [PRECISIONS[r.train.precision] for r in runs]  # what each model's parameters are stored as
        # bf16 matmuls are slower than fp32 on CPUs without AMX/avx512_bf16 (5-10x here), so on CPU
        # bf16 parameters are kept bf16-valued (rounded at every update) inside fp32 tensors, and
        # bf16 and fp32 models share a stack; `rounded` marks the bf16 ones (None: no rounding).
        self.compute = self.dtypes[0] if self.device.type == "cuda" else torch.float32
        self.rounded = (torch.tensor([d == torch.bfloat16 for d in self.dtypes], device=self.device)
                        if self.device.type != "cuda" and torch.bfloat16 in self.dtypes else None)
        ms = [models.build(r.model, r.seed) for r in runs]
        params, _ = stack_module_state(ms)
        self.p = {k: v.detach().to(self.device, self.compute) for k, v in params.items()}
        self.m = {k: torch.zeros_like(v, dtype=torch.float32) for k, v in self.p.items()}
        self.v = {k: torch.zeros_like(v, dtype=torch.float32) for k, v in self.p.items()}
        self.decay = {k: v.dim() >= 3 for k, v in self.p.items()}  # (K, ...) matrices and embeddings
        self.base = copy.deepcopy(ms[0]).to("meta")
        self.gens = [torch.Generator().manual_seed(int(r.run_id(), 16) % (2**63)) for r in runs]
        self.forget_gens = [torch.Generator().manual_seed((int(r.run_id(), 16) + 1) % (2**63)) for r in runs]
        self.step = 0  # steps this stack has taken (schedules and stopping count from here)
        self.t0 = [0] * len(runs)  # optimizer steps each model had taken before (Init(optimizer=True))
        self.state = [{"phase": "stable", "decay_start": None, "decay_len": None, "plateau_step": None,
                       "history": []} for _ in runs]
        self._start(store)
        self.masks = self._masks(store)
        self.p = {k: optim.round_bf16(self._masked(k, v), self.rounded) for k, v in self.p.items()}
        self._plan_objectives()
        self._load_pool()
        self.forget_ref = self._forget_ref() if self.needs_ref else None
        if checkpoints:
            self._restore(checkpoints)
        for v in self.p.values():
            v.requires_grad_(True)
        self._fixed = {}  # cached full-batch rows of _draw, per example set; reset when models leave the stack
        self._step_fn = optim.compiled_step(self, optim.COMPILE if compile is None else compile)

    # --- starting points and masks --------------------------------------------------------
    def _start(self, store):
        """Weights (and, with Init(optimizer=True), optimizer and sampler state) of stored starting runs."""
        for k, r in enumerate(self.runs):
            if r.init is None:
                continue
            store = store or RunStore()
            rid = r.init.run.run_id()
            got = store.load(rid)
            if got is None:
                raise FileNotFoundError(f"run {r.run_id()} starts from run {rid}, which is not in the store "
                                        f"{store.root}: train it first (sweep() does so for the runs that need it)")
            for n in self.p:
                self.p[n][k] = got[0][n].to(self.device, self.compute)
            if r.init.optimizer:
                opt = store.load_extra(rid, "optimizer", verify=False)  # verified by load() just now
                if opt is None:
                    raise FileNotFoundError(f"run {rid} has no stored optimizer state, which Init(optimizer=True) needs: "
                                            f"it was trained before optimizer states were kept; delete "
                                            f"{store.dir(rid)} to retrain it")
                for n in self.p:
                    self.m[n][k], self.v[n][k] = opt["m." + n].to(self.device), opt["v." + n].to(self.device)
                self.gens[k].set_state(opt["gen"])
                self.t0[k] = int(opt["opt_steps"].item())

    def _masks(self, store):
        """{name: (K, ...) 0/1 tensor} of the runs' masks (ones where a run has none), or None."""
        if all(r.mask is None for r in self.runs):
            return None
        store = store or RunStore()
        per = [mask_for(r.mask, store) if r.mask is not None else None for r in self.runs]
        return {n: torch.stack([m[n] if m is not None else torch.ones(v.shape[1:]) for m in per]).to(self.device, self.compute)
                for n, v in self.p.items()}

    def _masked(self, name, v):
        return v if self.masks is None else v * self.masks[name]

    # --- data ----------------------------------------------------------------------------
    def _load_pool(self):
        """One pool of examples per data source; each model's indices (and forget indices) point into it."""
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
        self.own = [r.examples() + offset[r.data.source()] for r in self.runs]
        # models without a forget set (their objective needs none) draw a stand-in with weight 0
        self.forget = ([r.examples(forget=True) + offset[r.data.source()] if r.forget is not None else o[:1]
                        for r, o in zip(self.runs, self.own)] if self.needs_forget else None)

    def _plan_objectives(self):
        """What the models' objectives need, worked out once (and again when models leave), not every step."""
        fns = [OBJECTIVES[o.name] for o in self.objectives]
        self.needs_forget, self.needs_ref = any(f.needs_forget for f in fns), any(f.needs_ref for f in fns)
        self.uses_retain = any(f.uses_retain for f in fns)
        self.kinds = list(dict.fromkeys(self.objectives))  # distinct objectives, in order
        self.which = torch.tensor([self.kinds.index(o) for o in self.objectives], device=self.device)
        self.has_forget = torch.tensor([r.forget is not None for r in self.runs], device=self.device).unsqueeze(1)

    @property
    def counts(self):
        return [len(o) for o in self.own]

    def _draw(self, owns, gens, key):
        """Positions (K, B) into each model's example list (`owns`) and weights (K, B) for one step.

        B is the stack's `Run.batch_rows` (one value for all its models, so a model's batch is the same in any
        stack). Models with at most B examples take them all, padded with zero-weight slots (their rows are
        built once and cached under `key`); the others draw B positions from their own generator each step.
        """
        if key not in self._fixed:
            rows = {r.batch_rows(forget=key == "forget") for r in self.runs} - {None}
            assert len(rows) == 1, "runs trained in one stack must share their batch rows (Run.stack_key)"
            B = rows.pop()
            rows = [torch.cat([torch.arange(len(o)), torch.zeros(B - len(o), dtype=torch.long)]) if len(o) <= B else None
                    for o in owns]
            w = torch.stack([torch.cat([torch.ones(len(o)), torch.zeros(B - len(o))]) if len(o) <= B else torch.ones(B)
                             for o in owns]).to(self.device)
            self._fixed[key] = B, rows, w
        B, rows, w = self._fixed[key]
        pos = [r if r is not None else torch.randint(len(o), (B,), generator=g) for r, o, g in zip(rows, owns, gens)]
        return pos, w

    def _batch(self):
        """Indices (K, B) and weights (K, B) of this step's batch of every model's own examples."""
        pos, w = self._draw(self.own, self.gens, "own")
        return torch.stack([o[p] for o, p in zip(self.own, pos)]).to(self.device), w

    def _forget_batch(self):
        """Indices, weights and positions (K, Bf) of this step's forget-set batch (weight 0 for stand-ins)."""
        pos, w = self._draw(self.forget, self.forget_gens, "forget")
        idx = torch.stack([f[p] for f, p in zip(self.forget, pos)]).to(self.device)
        return idx, w * self.has_forget, torch.stack(pos).to(self.device)

    def _forget_ref(self, chunk=512):
        """Nats of each forget example under the starting weights, (K, F_max) (NPO's reference model)."""
        return self.pool_nats(self._padded(self.forget), chunk)

    def _padded(self, lists) -> torch.Tensor:
        """Per-model index lists as one (K, N_max) tensor, each padded with its own first entry."""
        n = max(len(o) for o in lists)
        return torch.stack([torch.cat([o, o[:1].expand(n - len(o))]) for o in lists]).to(self.device)

    # --- model ---------------------------------------------------------------------------
    def forward(self, p, x):
        """x (K, B, ...) -> outputs (K, B, ...)."""
        stacked = models.STACKED.get(type(self.cfg))
        if stacked is not None:
            return stacked(self.cfg, p, x)
        if x.shape[0] == 1 and x.device.type == "cpu":  # as a stack of two: see models.stacked_bmm
            two = lambda t: t.expand(2, *t.shape[1:])
            return self.forward({n: two(v) for n, v in p.items()}, two(x))[:1]
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

    def own_subset(self, n: int, spread: bool = False):
        """Each model's fixed monitoring subset of its own examples: its first min(n, N_k) (spread=True: that many
        evenly spaced over its list), as one (K, m_max) index padded with each model's first entry, and the
        lengths m_k. It depends on each run alone, never on the other models of the stack: a monitor reduces
        model k over its first m_k entries only."""
        subs = [o[torch.linspace(0, len(o) - 1, min(n, len(o))).long()] if spread else o[:n] for o in self.own]
        return self._padded(subs), [len(x) for x in subs]

    def own_accuracy(self, n: int, spread: bool = False, position=None) -> dict:
        """Accuracy and loss (K,) of each model on its `own_subset(n, spread)`; `position`: only that output
        position of a sequence (the answer). The engine monitor of classifiers and of answer tasks."""
        index, ms = self.own_subset(n, spread)
        with torch.no_grad():
            p = {k: v.detach().float() for k, v in self.p.items()}
            logits = self.forward(p, self.x[index])  # (K, m, classes) or (K, m, T, V)
        y = self.y[index]
        if position is not None:
            logits, y = logits[:, :, position], y[:, :, position]
        right = (logits.argmax(-1) == y).float()
        nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view_as(y)
        acc = torch.stack([right[k, :m].mean() for k, m in enumerate(ms)])
        return {"score": acc, "train_acc": acc, "train_loss": torch.stack([nll[k, :m].mean() for k, m in enumerate(ms)])}

    def own_nats(self, chunk=512):
        """Each model's code length (nats) on each of its own training examples: list of (N_k,)."""
        full = self.pool_nats(self._padded(self.own), chunk)
        return [full[k, :c] for k, c in enumerate(self.counts)]

    # --- optimisation --------------------------------------------------------------------
    def lr(self):
        """Per-model learning rate at the current step, (K,)."""
        return torch.tensor([self.tc.lr * lr_factor(self.step, s, self.tc) for s in self.state], device=self.device)

    def loss(self, p, idx, w, forget=None):
        """Per-model training loss (K,): each model's objective on its batch (and its forget batch)."""
        tokens = models.TOKENS_PER_EXAMPLE.get(type(self.cfg), lambda c: 1)(self.cfg)
        ex_nats = models.EXAMPLE_NATS[type(self.cfg)]
        train = Terms(ex_nats(self.forward(p, self.x[idx]), self.y[idx]), w, tokens) if self.uses_retain else None
        f = None
        if forget is not None:
            fidx, fw, fpos = forget
            ref = self.forget_ref.gather(1, fpos) if self.forget_ref is not None else None
            f = Terms(ex_nats(self.forward(p, self.x[fidx]), self.y[fidx]), fw, tokens, ref)
        if len(self.kinds) == 1:
            return OBJECTIVES[self.kinds[0].name].fn(train, f, self.kinds[0])
        return sum(torch.where(self.which == j, OBJECTIVES[o.name].fn(train, f, o), 0.0) for j, o in enumerate(self.kinds))

    def train_step(self):
        """One AdamW step for every model; returns per-model training loss, (K,)."""
        idx, w = self._batch()
        forget = self._forget_batch() if self.forget is not None else None
        if self._step_fn is not None:
            try:
                return self._compiled_train_step(idx, w)
            except torch._dynamo.exc.TorchDynamoException as e:  # a compiler failure must not lose the run
                self.step -= 1  # nothing else was changed: the compiled step is pure until it returns
                self._step_fn = None
                warnings.warn(f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); this stack "
                              "continues eagerly (same results up to rounding). MEMLIB_COMPILE=off skips compiling.",
                              RuntimeWarning, stacklevel=2)
        loss = self.loss(self.p, idx, w, forget)
        grads = torch.autograd.grad(loss.sum(), list(self.p.values()))
        self.step += 1
        self._adamw(dict(zip(self.p, grads)), self.lr())
        return loss.detach()

    def opt_steps(self) -> list[int]:
        """Each model's optimizer step count (its starting run's steps included)."""
        return [t + self.step for t in self.t0]

    @torch.no_grad()
    def _adamw(self, grads, lr):
        bc1, bc2 = optim.bias_corrections(self.tc.betas, self.opt_steps())
        scale = optim.clip_scale(grads.values(), self.tc, len(self.runs))
        for k, p in self.p.items():
            mask = None if self.masks is None else self.masks[k]
            new, self.m[k], self.v[k] = optim.adamw_update(p, grads[k], self.m[k], self.v[k], lr, scale, bc1, bc2,
                                                           self.decay[k], self.tc, self.rounded, mask)
            p.copy_(new)  # bf16 parameters: rounded to nearest in adamw_update

    def _compiled_train_step(self, idx, w):
        self.step += 1
        bc = [torch.as_tensor(b, device=self.device, dtype=torch.float32)  # tensors: no recompile per step
              for b in optim.bias_corrections(self.tc.betas, self.opt_steps())]
        p = {k: v.detach() for k, v in self.p.items()}
        p, self.m, self.v, loss = self._step_fn(p, self.m, self.v, self.x[idx], self.y[idx], w, self.lr(), bc[0], bc[1],
                                                self.rounded)
        self.p = {k: v.requires_grad_(True) for k, v in p.items()}
        return loss.detach()

    def keep(self, mask: list[bool]):
        """Drop the models whose mask entry is False (they finished or failed)."""
        self._fixed = {}
        sel = torch.tensor([i for i, k in enumerate(mask) if k], dtype=torch.long, device=self.device)
        for d in (self.p, self.m, self.v) + ((self.masks,) if self.masks is not None else ()):
            for k in d:
                d[k] = d[k].detach()[sel].clone()
        for v in self.p.values():
            v.requires_grad_(True)
        if self.rounded is not None:
            self.rounded = self.rounded[sel]
        if self.forget_ref is not None:
            self.forget_ref = self.forget_ref[sel]
        pick = lambda xs: [x for x, k in zip(xs, mask) if k]
        self.runs, self.gens, self.state, self.own = pick(self.runs), pick(self.gens), pick(self.state), pick(self.own)
        self.forget_gens, self.t0, self.dtypes = pick(self.forget_gens), pick(self.t0), pick(self.dtypes)
        self.objectives = pick(self.objectives)
        if self.forget is not None:
            self.forget = pick(self.forget)
        self._plan_objectives()
        if not self.needs_forget:  # the last runs with a forget set left: the others train as they would alone
            self.forget = None
        if not self.needs_ref:
            self.forget_ref = None

    def model_weights(self, k: int) -> dict:
        return {n: v[k].detach().to(self.dtypes[k]) for n, v in self.p.items()}

    def optimizer_state(self, k: int) -> dict:
        """What Init(optimizer=True) needs to continue model k exactly: moments, sampler state, step count."""
        out = {f"m.{n}": self.m[n][k] for n in self.m}
        out.update({f"v.{n}": self.v[n][k] for n in self.v})
        out["gen"] = self.gens[k].get_state()
        out["opt_steps"] = torch.tensor([self.opt_steps()[k]])
        return out

    # --- checkpoints ---------------------------------------------------------------------
    def checkpoint(self, k: int):
        tensors = {f"p.{n}": self.p[n][k] for n in self.p}
        tensors.update(self.optimizer_state(k))  # moments, sampler state (and the step count, unused on resume)
        if self.forget is not None:
            tensors["forget_gen"] = self.forget_gens[k].get_state()
        if self.forget_ref is not None:
            tensors["forget_ref"] = self.forget_ref[k]
        state = {"step": self.step, **self.state[k]}
        if self.t0[k]:
            state["t0"] = self.t0[k]
        return tensors, state

    def _restore(self, checkpoints):
        steps = {c[1]["step"] for c in checkpoints}
        assert len(steps) == 1, "models resumed into one stack must share their step"
        self.step = steps.pop()
        for d, pre in ((self.p, "p."), (self.m, "m."), (self.v, "v.")):
            for n in d:
                d[n] = torch.stack([t[pre + n] for t, _ in checkpoints]).to(self.device, d[n].dtype)
        for k, (t, s) in enumerate(checkpoints):
            self.gens[k].set_state(t["gen"])
            if "forget_gen" in t:
                self.forget_gens[k].set_state(t["forget_gen"])
            if "forget_ref" in t:  # its own entries (the row was padded to another stack's longest forget set)
                n = min(len(t["forget_ref"]), self.forget_ref.shape[1])
                self.forget_ref[k, :n] = t["forget_ref"][:n].to(self.device)
            self.t0[k] = s.get("t0", 0)
        self.state = [{k: v for k, v in s.items() if k not in ("step", "sha256", "t0")} for _, s in checkpoints]
        for s in self.state:  # checkpoints written before plateau_step was recorded said "saturated" instead
            if "plateau_step" not in s:
                s["plateau_step"] = s["decay_start"] if s.pop("saturated", None) else None


"""Does a sweep on CPU train at the faster of stacked and one-model-at-a-time, by itself?

    flock /tmp/memlib-cpu.lock .venv/bin/python benchmarks/stack_choice.py   # ~3 min; RESULTS.md section

At each shape, K runs of a fixed number of steps are trained by `sweep` three times, each into an empty
run store: stacked (stacking="always"), one at a time ("never") and as the engine chooses ("auto": from the
runs' training memory, `engine.sweep.cpu_stack_size`; it used to time a few steps of each, which made the
choice depend on how busy the machine was). Reported: seconds
per model-step of each, and auto's time against the faster of the other two, measured side by side in
this one run. Shapes: the laptop capacity grid's 1x8 (stacking pays there) and the paper's smallest model
(V = 2048, S = 64, 1x32, where it cost 2x in benchmarks/RESULTS.md's training table).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memlib.bits import capacity_monitor  # noqa: E402
from memlib.data import RandomTokens  # noqa: E402
from memlib.engine import Run, TrainConfig, sweep  # noqa: E402
from memlib.models import GPTConfig  # noqa: E402
from memlib.store import RunStore  # noqa: E402
from results_md import write_section  # noqa: E402

HERE = Path(__file__).resolve().parent
K = 14  # the stack size of benchmarks/RESULTS.md's training table (where stacking measured 0.5x at the paper shape)
SHAPES = [("laptop grid, 1x8", 64, 16, 1, 8, 300), ("paper's smallest", 2048, 64, 1, 32, 40)]  # (label, V, S, L, d, steps)


def runs(V, S, L, d, steps):
    tc = TrainConfig(lr=1e-2, batch_size=64, stop="steps", max_steps=steps, warmup=min(100, steps // 10),
                     eval_every=max(steps, 1))
    return [Run(model=GPTConfig(vocab_size=V, seq_len=S, n_layer=L, d_model=d), data=RandomTokens(V, S, 256, s),
                train=tc, seed=s) for s in range(K)]


def timed_sweep(rs, stacking) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ms = sweep(rs, capacity_monitor, RunStore(tmp), device="cpu", progress=False, stacking=stacking)
        return time.perf_counter() - t, max(m["stack_size"] for m in ms)


def main():
    torch.set_num_threads(2)
    timed_sweep(runs(64, 16, 1, 4, 20)[:2], "always")  # warm-up: the first sweep of a process pays lazy set-up
    rows, out = [], []
    for label, V, S, L, d, steps in SHAPES:
        rs = runs(V, S, L, d, steps)
        res = {s: timed_sweep(rs, s) for s in ("always", "never", "auto")}
        per = {s: t / (K * steps) for s, (t, _) in res.items()}
        best = min(per["always"], per["never"])
        out.append({"shape": label, "K": K, "steps": steps, **{f"{s}_s_per_model_step": v for s, v in per.items()},
                    "auto_stack_size": res["auto"][1], "auto_over_best": per["auto"] / best,
                    "stacked_over_alone": per["always"] / per["never"]})
        rows.append(f"| {label} | {K} x {steps} | {1e3 * per['always']:.2f} | {1e3 * per['never']:.2f} | "
                    f"{1e3 * per['auto']:.2f} (stacks {res['auto'][1]}) | {per['never'] / per['always']:.2f}x | "
                    f"{per['auto'] / best:.2f} |")
    (HERE / "results_stack_choice.json").write_text(json.dumps(out, indent=1) + "\n")
    write_section("STACK_CHOICE", [
        "## Stacked or one at a time: the engine's choice on CPU (`benchmarks/stack_choice.py`)",
        "",
        f"{torch.__version__}, 2 threads. K runs of a fixed number of steps trained by `sweep` into empty stores; ms per "
        "model-step including the run store's writes; auto decides from the runs' training memory (no probe).",
        "Modes run in the order stacked, one at a time, auto, in one process after a warm-up sweep; differences of up "
        "to ~30% between them are order and noise (auto, last, came out faster than both at both shapes in the "
        "2026-11-30 run). What the table shows is the choice itself (stacks): the whole stack where stacking is "
        "faster, one model where it is not.",
        "",
        "| shape | runs x steps | stacked | one at a time | auto | stacking speed-up | auto / faster of the two |",
        "|---|---|---|---|---|---|---|", *rows])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

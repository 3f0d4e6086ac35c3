"""How many models to stack on CPU: ms per model-step against the stack size K, at the notebooks' laptop shapes.

    flock /tmp/memlib-cpu.lock .venv/bin/python benchmarks/stack_size.py   # ~6 min; RESULTS.md section
    .venv/bin/python benchmarks/stack_size.py --render                     # the section from the stored JSON

Each point is `Stack.train_step` timed in a fresh process by engine_vs_previous.py's probe (2 threads, about
1.5 s of steps after 3 warm-up steps), divided by K; every K of a shape is measured in one round, rounds
alternate, the median is kept. A model's result does not depend on K (tests/test_stack_independence.py), so
K is chosen for speed alone; but it must be chosen from the runs, never from a timing (issue 24): the engine
(`engine.sweep.cpu_stack_size`) stacks the whole group unless one model's estimated training memory
(`train_bytes_per_model`) exceeds `CPU_STACK_BYTES`. This table checks that rule: the column "engine K" is
its choice for a group of 16 runs of that shape.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from engine_vs_previous import step_time  # noqa: E402  the one timing probe of the benchmarks
KS = (1, 2, 3, 4, 6, 8, 14)
# (label, V, S, n_layer, d_model, sequences per model, batch): the laptop shapes of notebooks 01 and 03-05
SHAPES = [("01 capacity 1x8", 64, 16, 1, 8, 256, 64), ("01 capacity 1x20", 64, 16, 1, 20, 256, 64),
          ("03 text 1x8", 512, 32, 1, 8, 512, 64), ("03 text 1x32", 512, 32, 1, 32, 512, 64),
          ("03 oracle 2x64", 512, 32, 2, 64, 512, 64)]


def per_model_step(shape, K: int) -> float:
    """Seconds per model-step of a stack of K models of `shape` (V, S, n_layer, d_model, sequences, batch)."""
    V, S, L, d, n, b = shape
    return step_time(ROOT, (V, S, L, d, K, n, b)) / K


def engine_k(shape, group: int = 16) -> tuple[int, float]:
    """The engine's stack size for `group` runs of `shape`, and one model's estimated training MB."""
    sys.path.insert(0, str(ROOT))
    from memlib.data import RandomTokens
    from memlib.engine import Run, TrainConfig
    from memlib.engine.sweep import cpu_stack_size, train_bytes_per_model
    from memlib.models import GPTConfig
    V, S, L, d, n, b = shape
    rs = [Run(model=GPTConfig(vocab_size=V, seq_len=S, n_layer=L, d_model=d), data=RandomTokens(V, S, n, k),
              train=TrainConfig(batch_size=b), seed=k) for k in range(group)]
    return cpu_stack_size(rs, 64), train_bytes_per_model(rs[0]) / 2**20


def main(rounds: int = 2):
    rows = []
    for label, *shape in SHAPES:
        t = {K: [] for K in KS}
        for _ in range(rounds):
            for K in KS:
                t[K].append(per_model_step(shape, K))
        med = {K: statistics.median(v) for K, v in t.items()}
        k, mb = engine_k(shape)
        rows.append({"shape": label, "model_mb": mb, "ms_per_model_step": {K: 1e3 * v for K, v in med.items()},
                     "best_k": min(med, key=med.get), "engine_k": k, "rounds": rounds, "all_s": t})
        print(rows[-1], flush=True)
    (HERE / "results_stack_size.json").write_text(json.dumps(rows, indent=1) + "\n")
    render(rows)


def render(rows: list[dict]) -> None:
    """benchmarks/RESULTS.md's STACK_SIZE section from `rows` (as results_stack_size.json holds them)."""
    from results_md import write_section
    ms = [{int(K): v for K, v in r["ms_per_model_step"].items()} for r in rows]
    head = " | ".join(f"K={K}" for K in KS)
    lines = ["## Stack size on CPU: ms per model-step against K (`benchmarks/stack_size.py`)", "",
             f"Eager `Stack.train_step`, 2 threads, median of {rows[0].get('rounds', 2)} fresh processes per point "
             "(rounds alternate); batch 64. MB: one model's estimated training memory (`train_bytes_per_model`). "
             "Engine K: `cpu_stack_size` for 16 runs of the shape. K = 1 computes a lone model as a stack of two "
             "(`models.stacked_bmm`).", "",
             f"| shape | MB | {head} | fastest K | engine K |", "|---|---|" + "---|" * len(KS) + "---|---|"]
    for r, m in zip(rows, ms):
        cells = " | ".join(f"{m[K]:.2f}" for K in KS)
        lines.append(f"| {r['shape']} | {r['model_mb']:.1f} | {cells} | {r['best_k']} | {r['engine_k']} |")
    top = max(KS)
    worst = max(m[top] / min(m.values()) for m in ms)
    lone = min(m[1] / m[2] for m in ms)
    lines += ["", f"K = {top} (the largest timed; the engine stacks the whole group) is within {worst:.2f}x of the "
              f"fastest K at every shape, and a lone model (K = 1) costs at least {lone:.2f}x a model of a stack of "
              "two: the stack of two it is computed as. So stacking whole groups costs little, and what the "
              "issue-24 engine adds on CPU is in lone runs (only runs with a stack key of their own train alone)."]
    write_section("STACK_SIZE", lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:  # the section again from the stored results, without timing anything
        render(json.loads((HERE / "results_stack_size.json").read_text()))
    else:
        main()

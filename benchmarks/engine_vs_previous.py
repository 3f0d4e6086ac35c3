"""Training steps of this checkout's engine against an earlier commit's, side by side in one run, so that
a refactor of the engine is shown not to slow training down.

    flock /tmp/memlib-cpu.lock .venv/bin/python benchmarks/engine_vs_previous.py [REV]   # RESULTS.md section

REV (default: the last commit before the engine became a subpackage) is checked out into a temporary
git worktree; each side times `Stack.train_step` in fresh processes, alternating old/new for several
rounds, at the notebooks' laptop shapes. Reported: the median step time of each and their ratio.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PREVIOUS = "1387358"  # main before the engine split (memlib/engine.py, 614 lines)
# (label, V, S, n_layer, d_model, models K, sequences per model, batch)
SHAPES = [("capacity laptop 1x4", 64, 16, 1, 4, 14, 40, 64), ("capacity laptop 1x20", 64, 16, 1, 20, 14, 262, 64),
          ("text laptop 1x32", 512, 32, 1, 32, 10, 512, 64), ("paper's smallest 1x32", 2048, 64, 1, 32, 2, 1100, 64)]
PROBE = """
import json, sys, time, torch
sys.path.insert(0, sys.argv[1])
from memlib.data import RandomTokens
from memlib.engine import Run, Stack, TrainConfig
from memlib.models import GPTConfig
V, S, L, d, K, n, b = json.loads(sys.argv[2])
cfg = GPTConfig(vocab_size=V, seq_len=S, n_layer=L, d_model=d)
tc = TrainConfig(batch_size=b, weight_decay=0.1)
s = Stack([Run(model=cfg, data=RandomTokens(V, S, n, k), train=tc, seed=k) for k in range(K)], compile=False)
for _ in range(3):
    s.train_step()
t = time.perf_counter()
s.train_step()
steps = max(5, int(1.5 / (time.perf_counter() - t)))  # about 1.5 s of steps
t = time.perf_counter()
for _ in range(steps):
    s.train_step()
print(json.dumps((time.perf_counter() - t) / steps))
"""


def step_time(src: Path, shape) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, str(src), json.dumps(shape)], capture_output=True, text=True,
                         check=True, env={"OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(rev: str = PREVIOUS, rounds: int = 3):
    sys.path.insert(0, str(HERE))
    from results_md import write_section
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "previous"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), rev], check=True,
                       capture_output=True)
        try:
            rows = []
            for label, *shape in SHAPES:
                t = {"previous": [], "this": []}
                for _ in range(rounds):
                    t["previous"].append(step_time(old, shape))
                    t["this"].append(step_time(ROOT, shape))
                med = {k: statistics.median(v) for k, v in t.items()}
                rows.append({"shape": label, "previous_ms": 1e3 * med["previous"], "this_ms": 1e3 * med["this"],
                             "this_over_previous": med["this"] / med["previous"], "all_s": t})
                print(rows[-1], flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    (HERE / "results_engine_vs_previous.json").write_text(json.dumps({"previous": rev, "this": sha, "rows": rows},
                                                                      indent=1) + "\n")
    lines = [f"## Training step: this engine ({sha}) vs the previous one ({rev}) (`benchmarks/engine_vs_previous.py`)", "",
             f"Eager `Stack.train_step`, K models × batch 64, median of {rounds} fresh processes per side, alternating.", "",
             "| shape | K | previous ms/step | this ms/step | this / previous |", "|---|---|---|---|---|"]
    for r, (_, *shape) in zip(rows, SHAPES):
        lines.append(f"| {r['shape']} | {shape[4]} | {r['previous_ms']:.1f} | {r['this_ms']:.1f} | "
                     f"{r['this_over_previous']:.2f} |")
    write_section("ENGINE_VS_PREVIOUS", lines)


if __name__ == "__main__":
    main(*sys.argv[1:2])

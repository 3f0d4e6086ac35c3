"""memlib's performance, measured: training throughput against Hugging Face transformers, torch.compile
on and off, achieved FLOP/s against the measured matmul peak, peak memory, and the throughput of
memorized-bits evaluation and greedy extraction.

    flock /tmp/memlib-cpu.lock .venv/bin/python benchmarks/train_throughput.py   # CPU: RESULTS.md, results.json
    python3 benchmarks/train_throughput.py --gpu [--out DIR]                      # CUDA: RESULTS_gpu.md, results_gpu.json

(run from the repository root; ~10 min on the 2-core CPU.) Throughput is models x tokens / s of
training (forward, backward, AdamW step). Achieved FLOP/s count 6 * params * tokens plus attention
(6 * 2 * layers * T * d per token) and are compared with this machine's measured matmul peak (square
matmuls), the physical limit here. The GPU mode times the paper grid's shapes (V = 2048, S = 64,
2048 sequences per model per step) in fp32 and bf16, eager and compiled, for GPU-hour estimates.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memlib.data import RandomTokens  # noqa: E402
from memlib.engine.decode import generate_greedy  # noqa: E402
from memlib.engine import Run, Stack, TrainConfig  # noqa: E402
from memlib.models import GPTConfig, n_params  # noqa: E402
from results_md import sections  # noqa: E402

HERE = Path(__file__).resolve().parent
K = 14  # models per stack: the capacity notebook's 6 dataset sizes x 2 seeds in fp32, plus 2 bf16 runs
B = 64  # sequences per model per step (the laptop capacity setting)
SHAPES = [  # (label, V, S, n_layer, d_model)
    ("laptop grid, smallest", 64, 16, 1, 4), ("laptop grid, 1x8", 64, 16, 1, 8), ("laptop grid, 1x16", 64, 16, 1, 16),
    ("laptop grid, largest", 64, 16, 1, 20), ("paper's smallest", 2048, 64, 1, 32),
]
# Memory probes (peak RSS of a fresh process that builds the stack, trains 5 steps and evaluates):
# the largest laptop stacks of the notebooks (capacity grid: 14 models of 1x20 with up to 262 sequences;
# the paper point stage: 2 models of the paper's smallest on 1.1K sequences each at batch 64).
MEM_PROBES = [("capacity laptop, largest stack", dict(V=64, S=16, L=1, d=20, k=14, n=262, b=64)),
              ("capacity paper point (laptop stage)", dict(V=2048, S=64, L=1, d=32, k=2, n=1100, b=64))]
GPU_SHAPES = [(1, 32), (2, 64), (4, 128), (8, 256)]  # paper grid corners and diagonal (n_layer, d_model)
GPU_COMPILED = [(1, 32), (4, 128)]  # compiled too (each compile takes ~1 min of device time)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step, n, warm=3, device=torch.device("cpu")):
    for _ in range(warm):
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    return (time.perf_counter() - t) / n


def make_stack(cfg, k, n_seqs, batch, device="cpu", precision="fp32", compile=False):
    tc = TrainConfig(batch_size=batch, precision=precision)
    runs = [Run(model=cfg, data=RandomTokens(cfg.vocab_size, cfg.seq_len, n_seqs, s), train=tc, seed=s) for s in range(k)]
    return Stack(runs, device, compile=compile)


def hf_step(cfg):
    from transformers import GPT2Config, GPT2LMHeadModel
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=cfg.vocab_size + 1, n_positions=cfg.seq_len, n_embd=cfg.d_model,
                                    n_layer=cfg.n_layer, n_head=cfg.heads, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                                    tie_word_embeddings=True))
    opt = torch.optim.AdamW(hf.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=0)
    x = torch.randint(cfg.vocab_size, (B, cfg.seq_len))

    def step():
        loss = hf(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, sum(p.numel() for p in hf.parameters())


def matmul_peak(n, dtype, device=torch.device("cpu"), reps=10):
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    return 2 * n**3 / timed(lambda: a @ b, reps, device=device)


def flops_per_token(cfg):
    return 6 * n_params(cfg) + 6 * 2 * cfg.n_layer * cfg.seq_len * cfg.d_model


def compile_time(stack):
    """Seconds of the first compiled step beyond an eager one (the compile), after which steps are fast."""
    t = time.perf_counter()
    stack.train_step()
    return time.perf_counter() - t


def machine_info(device):
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}
    try:
        info["cpu_model"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


# --- CPU ---------------------------------------------------------------------------------------
def train_rows(peak):
    rows = []
    for label, V, S, L, d in SHAPES:
        cfg = GPTConfig(vocab_size=V, seq_len=S, n_layer=L, d_model=d)
        n = 40 if V <= 64 else 8
        t_stack = timed(make_stack(cfg, K, 4 * B, B).train_step, n)
        comp = make_stack(cfg, K, 4 * B, B, compile=True)
        t_compile = compile_time(comp)
        t_comp = timed(comp.train_step, n)
        t_one = timed(make_stack(cfg, 1, 4 * B, B).train_step, n)
        hf, hf_params = hf_step(cfg)
        t_hf = timed(hf, n)
        tok, fpt = B * S, flops_per_token(cfg)
        r = {"shape": label, "V": V, "S": S, "n_layer": L, "d_model": d, "params": n_params(cfg), "hf_params": hf_params,
             "stacked_tok_s": K * tok / t_stack, "compiled_tok_s": K * tok / t_comp, "compile_s": t_compile,
             "one_tok_s": tok / t_one, "hf_tok_s": tok / t_hf, "stacked_step_ms": 1e3 * t_stack,
             "compiled_step_ms": 1e3 * t_comp}
        for key in ("stacked", "compiled", "one"):
            r[f"{key}_vs_hf"] = r[f"{key}_tok_s"] / r["hf_tok_s"]
            r[f"{key}_pct_peak"] = 100 * r[f"{key}_tok_s"] * fpt / peak
        r["hf_pct_peak"] = 100 * r["hf_tok_s"] * fpt / peak
        # steps a compile must be amortised over to pay for itself
        r["compile_breakeven_steps"] = t_compile / max(t_stack - t_comp, 1e-9) if t_comp < t_stack else None
        rows.append(r)
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}, flush=True)
    return rows


def mem_probe(spec):
    """Runs in a fresh process: build a stack, train 5 steps, evaluate; print peak RSS (MB)."""
    cfg = GPTConfig(vocab_size=spec["V"], seq_len=spec["S"], n_layer=spec["L"], d_model=spec["d"])
    s = make_stack(cfg, spec["k"], spec["n"], spec["b"], spec.get("device", "cpu"), spec.get("precision", "fp32"))
    for _ in range(5):
        s.train_step()
    s.own_nats()
    # VmHWM: this process's own peak RSS (ru_maxrss would include the parent's, inherited through fork + exec)
    hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(json.dumps({"rss_mb": hwm / 1024}))


def mem_rows():
    rows = []
    for label, spec in MEM_PROBES:
        out = subprocess.run([sys.executable, __file__, "--mem-probe", json.dumps(spec)], capture_output=True, text=True,
                             check=True)
        rss = json.loads(out.stdout.strip().splitlines()[-1])["rss_mb"]
        rows.append({"config": label, **spec, "peak_rss_mb": rss})
        print(rows[-1], flush=True)
    return rows


def eval_rows(device=torch.device("cpu"), shapes=None):
    """Memorized-bits evaluation (code length of every own sequence) and greedy extraction (half the
    sequence as prefix, the other half decoded greedily), in sequences / s over all models.
    shapes: (V, S, n_layer, d_model, models, sequences per model); default: the memory probes' stacks."""
    rows = []
    for V, S, L, d, k, n_seqs in shapes or [(p["V"], p["S"], p["L"], p["d"], p["k"], p["n"]) for _, p in MEM_PROBES]:
        cfg = GPTConfig(vocab_size=V, seq_len=S, n_layer=L, d_model=d)
        s = make_stack(cfg, k, n_seqs, B, device)
        t_eval = timed(s.own_nats, 3, warm=1, device=device)
        prefixes = s.y[torch.stack(s.own)][..., : S // 2]  # (k, n_seqs, S/2)
        t_gen = timed(lambda: generate_greedy(s, prefixes, S - S // 2), 1, warm=1, device=device)
        r = {"V": V, "S": S, "n_layer": L, "d_model": d, "models": k, "seqs_per_model": n_seqs,
             "eval_seq_s": k * n_seqs / t_eval, "greedy_seq_s": k * n_seqs / t_gen, "greedy_new_tokens": S - S // 2}
        rows.append(r)
        print(r, flush=True)
    return rows


def write_cpu(res):
    m, p32 = res["machine"], res["machine"]["fp32_matmul_peak_gflops"]
    L = ["# memlib performance on this machine (generated by `benchmarks/train_throughput.py`; do not edit)", "",
         f"Machine: {m.get('cpu_model', m['cpu'])}, {m['cores']} cores ({m['threads']} torch threads), torch {m['torch']}. "
         f"Measured matmul peak (2048² fp32, 1024² bf16): fp32 {p32:.0f} GFLOP/s, bf16 {m['bf16_matmul_peak_gflops']:.0f} GFLOP/s. "
         f"Training: K = {K} stacked models, {B} sequences per model per step; models·tokens / s.", "",
         "## Training throughput", "",
         "| shape | params | stacked eager | stacked compiled (compile s) | one at a time | transformers GPT-2 one at a time "
         "| stacked / transformers (eager, compiled) | one / transformers | % of fp32 peak (eager, compiled, one, transformers) |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in res["train"]:
        L.append(f"| {r['shape']} (V={r['V']}, S={r['S']}, {r['n_layer']}×{r['d_model']}) | {r['params']:,} | "
                 f"{r['stacked_tok_s']:,.0f} | {r['compiled_tok_s']:,.0f} ({r['compile_s']:.0f} s) | {r['one_tok_s']:,.0f} | "
                 f"{r['hf_tok_s']:,.0f} | {r['stacked_vs_hf']:.1f}×, {r['compiled_vs_hf']:.1f}× | {r['one_vs_hf']:.1f}× | "
                 f"{r['stacked_pct_peak']:.0f}%, {r['compiled_pct_peak']:.0f}%, {r['one_pct_peak']:.0f}%, {r['hf_pct_peak']:.0f}% |")
    be = [f"{r['shape']}: {r['compile_breakeven_steps']:,.0f}" for r in res["train"] if r["compile_breakeven_steps"]]
    L += ["", "Compiled = `torch.compile` of the whole step (forward, backward, AdamW; `Stack(compile=True)` or "
          "`MEMLIB_COMPILE=on`). Steps after which a compile has paid for itself (compile s / saved s per step): "
          + "; ".join(be) + ". A stack recompiles once more when its size K first changes (models finish).", "",
          "## Peak memory (fresh process: build, 5 training steps, evaluation)", "",
          "| configuration | models | sequences per model | batch | peak RSS |", "|---|---|---|---|---|"]
    if not res["memory"]:
        L.append("| not measured in this run (`--memory-only` measures it) | | | | |")
    for r in res["memory"]:
        L.append(f"| {r['config']} (V={r['V']}, S={r['S']}, {r['L']}×{r['d']}) | {r['k']} | {r['n']:,} | {r['b']} | "
                 f"{r['peak_rss_mb']:,.0f} MB |")
    L += ["", "## Evaluation and extraction throughput (sequences / s, all models of a stack together)", "",
          "| shape | models × sequences | memorized-bits evaluation | greedy extraction (prefix S/2, decode S/2) |",
          "|---|---|---|---|"]
    for r in res["eval"]:
        L.append(f"| V={r['V']}, S={r['S']}, {r['n_layer']}×{r['d_model']} | {r['models']} × {r['seqs_per_model']:,} | "
                 f"{r['eval_seq_s']:,.0f} | {r['greedy_seq_s']:,.0f} |")
    owned = sections((HERE / "RESULTS.md").read_text()) if (HERE / "RESULTS.md").exists() else ""
    (HERE / "RESULTS.md").write_text("\n".join(L) + "\n" + ("\n" + owned + "\n" if owned else ""))


def main_cpu():
    torch.manual_seed(0)
    dev = torch.device("cpu")
    peak = matmul_peak(2048, torch.float32)
    peak16 = matmul_peak(1024, torch.bfloat16)
    machine = {**machine_info(dev), "fp32_matmul_peak_gflops": peak / 1e9, "bf16_matmul_peak_gflops": peak16 / 1e9,
               "K": K, "B": B}
    print(machine, flush=True)
    res = {"machine": machine, "train": train_rows(peak), "memory": mem_rows(), "eval": eval_rows()}
    (HERE / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    write_cpu(res)


# --- GPU ---------------------------------------------------------------------------------------
def main_gpu(out: Path, k_small=4, reps=10):
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 (the engine does not switch TF32 on)
    res = {"machine": {**machine_info(dev), "fp32_matmul_peak_tflops": matmul_peak(8192, torch.float32, dev) / 1e12,
                       "bf16_matmul_peak_tflops": matmul_peak(8192, torch.bfloat16, dev) / 1e12}, "train": [], "eval": []}
    print(res["machine"], flush=True)

    def save():
        (out / "results_gpu.json").write_text(json.dumps(res, indent=1) + "\n")
        write_gpu(res, out)

    plan = [(L, d, prec, k, False) for L, d in GPU_SHAPES for prec in ("fp32", "bf16") for k in (1, k_small)]
    plan += [(L, d, prec, k_small, True) for L, d in GPU_COMPILED for prec in ("fp32", "bf16")]
    for i, (L, d, precision, k, comp) in enumerate(plan):
        cfg = GPTConfig(vocab_size=2048, seq_len=64, n_layer=L, d_model=d)
        if i == len(plan) - len(GPU_COMPILED) * 2:  # the evaluation rows before the (slow) compiled ones
            res["eval"] = eval_rows(dev, [(2048, 64, 1, 32, k_small, 4096), (2048, 64, 8, 256, k_small, 4096)])
            save()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
        r = {"n_layer": L, "d_model": d, "params": n_params(cfg), "precision": precision, "models": k,
             "batch": 2048, "compiled": comp}
        try:
            s = make_stack(cfg, k, 4096, 2048, "cuda", precision, compile=comp)
            r["compile_s"] = compile_time(s) if comp else None
            t = timed(s.train_step, reps, device=dev)
        except torch.OutOfMemoryError:
            r["error"] = "out of memory"
            s = None
            print(r, flush=True)
            res["train"].append(r)
            continue
        r["step_s"] = t
        r["peak_mem_gb"] = torch.cuda.max_memory_allocated(dev) / 1e9
        r["tok_s"] = k * 2048 * 64 / t
        peak = res["machine"][f"{precision}_matmul_peak_tflops"] * 1e12
        r["pct_peak"] = 100 * r["tok_s"] * flops_per_token(cfg) / peak
        res["train"].append(r)
        print(r, flush=True)
        s = None
        save()


def write_gpu(res, out):
    m = res["machine"]
    L = ["# memlib on a GPU (generated by `benchmarks/train_throughput.py --gpu`; do not edit)", "",
         f"Machine: {m.get('gpu')}, torch {m['torch']}; measured matmul peak (8192³): fp32 (no TF32) "
         f"{m['fp32_matmul_peak_tflops']:.0f} TFLOP/s, bf16 {m['bf16_matmul_peak_tflops']:.0f} TFLOP/s. "
         "Paper grid shapes: V = 2048, S = 64, 2048 sequences per model per step.", "",
         "| n_layer × d_model | params | precision | models in stack | compiled (compile s) | s / step | "
         "s / step / model | models·tok / s | % of peak | peak GPU memory |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["train"]:
        if "error" in r:
            L.append(f"| {r['n_layer']}×{r['d_model']} | {r['params']:,} | {r['precision']} | {r['models']} | "
                     f"{'yes' if r['compiled'] else 'no'} | {r['error']} | | | | |")
            continue
        L.append(f"| {r['n_layer']}×{r['d_model']} | {r['params']:,} | {r['precision']} | {r['models']} | "
                 f"{'yes (%.0f s)' % r['compile_s'] if r['compiled'] else 'no'} | {r['step_s']:.4f} | "
                 f"{r['step_s'] / r['models']:.4f} | {r['tok_s']:,.0f} | {r['pct_peak']:.0f}% | {r['peak_mem_gb']:.1f} GB |")
    if res["eval"]:
        L += ["", "| shape | models × sequences | memorized-bits evaluation (seq/s) | greedy extraction (seq/s) |",
              "|---|---|---|---|"]
        for r in res["eval"]:
            L.append(f"| V={r['V']}, S={r['S']}, {r['n_layer']}×{r['d_model']} | {r['models']} × {r['seqs_per_model']:,} | "
                     f"{r['eval_seq_s']:,.0f} | {r['greedy_seq_s']:,.0f} |")
    (out / "RESULTS_gpu.md").write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpu", action="store_true", help="time the paper grid's shapes on CUDA")
    ap.add_argument("--out", type=Path, default=HERE, help="folder for the GPU results (default: benchmarks/)")
    ap.add_argument("--mem-probe", help=argparse.SUPPRESS)
    ap.add_argument("--memory-only", action="store_true", help="remeasure only the memory rows of results.json")
    a = ap.parse_args()
    if a.mem_probe:
        mem_probe(json.loads(a.mem_probe))
    elif a.memory_only:
        res = json.loads((HERE / "results.json").read_text())
        res["memory"] = mem_rows()
        (HERE / "results.json").write_text(json.dumps(res, indent=1) + "\n")
        write_cpu(res)
    elif a.gpu:
        main_gpu(a.out)
    else:
        main_cpu()

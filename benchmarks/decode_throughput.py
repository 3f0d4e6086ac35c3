"""Decoding throughput: memlib's KV-cache decoder against its cache-free decoder and against Hugging Face
transformers' `generate` (GPT-2 with its KV cache, one model at a time), at the same shapes, in one run.

    .venv/bin/pip install -r requirements-dev.txt
    flock /tmp/memlib-cpu.lock .venv/bin/python benchmarks/decode_throughput.py   # RESULTS.md section, results_decode.json

Greedy extraction as notebook 04 runs it: K stacked models, N prefixes per model of P tokens, n new
tokens each. Sequences / s counts every (model, prefix) pair. The KV-cache output is checked equal,
token for token, to the cache-free output in the same run.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memlib.data import RandomTokens  # noqa: E402
from memlib.engine import Run, Stack, TrainConfig, generate, generate_greedy  # noqa: E402
from memlib.models import GPTConfig  # noqa: E402
from results_md import write_section  # noqa: E402
from train_throughput import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
# (label, V, S, n_layer, d_model, models K, prefixes per model N, prefix length P); n = S - P new tokens
SHAPES = [("text laptop, 1x16 (notebooks 03/04)", 512, 32, 1, 16, 3, 256, 16),
          ("text laptop, 1x32, short prefix", 512, 32, 1, 32, 3, 256, 4),
          ("capacity laptop grid, 1x20", 64, 16, 1, 20, 14, 128, 8),
          ("paper's smallest (V=2048, S=64, 1x32)", 2048, 64, 1, 32, 2, 128, 32)]


def best_of(fn, reps=3):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def hf_generate_fn(cfg, k, prefixes, n_new):
    """transformers GPT-2 of the same shape (its own random weights: with no end token, every prefix gets
    exactly n_new tokens whatever the weights), greedy, KV cache, on model k's prefixes."""
    from transformers import GPT2Config, GPT2LMHeadModel
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=cfg.vocab_size + 1, n_positions=cfg.seq_len, n_embd=cfg.d_model,
                                    n_layer=cfg.n_layer, n_head=cfg.heads, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                                    tie_word_embeddings=True, activation_function="gelu_new", bos_token_id=cfg.vocab_size,
                                    eos_token_id=cfg.vocab_size)).eval()
    x = torch.cat([torch.full((prefixes.shape[1], 1), cfg.vocab_size), prefixes[k]], 1)  # BOS in front

    @torch.no_grad()
    def run():
        return hf.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=n_new, min_new_tokens=n_new,
                           do_sample=False, use_cache=True, pad_token_id=cfg.vocab_size, eos_token_id=None)[:, x.shape[1]:]
    return run


def main():
    torch.manual_seed(0)
    rows = []
    for label, V, S, L, d, K, N, P in SHAPES:
        cfg = GPTConfig(vocab_size=V, seq_len=S, n_layer=L, d_model=d)
        runs = [Run(model=cfg, data=RandomTokens(V, S, N, s), train=TrainConfig(batch_size=64, warmup=0, lr=3e-3), seed=s)
                for s in range(K)]
        stack = Stack(runs)
        for _ in range(20):  # trained a little, so the models are not uniform
            stack.train_step()
        prefixes = stack.y[torch.stack(stack.own)][..., :P]  # (K, N, P)
        n_new = S - P
        t_plain, plain = best_of(lambda: generate_greedy(stack, prefixes, n_new))
        t_cache, cached = best_of(lambda: generate(stack, prefixes, n_new))
        t_hf = sum(best_of(hf_generate_fn(cfg, k, prefixes, n_new))[0] for k in range(K))
        seqs = K * N
        r = {"shape": label, "V": V, "S": S, "n_layer": L, "d_model": d, "models": K, "prefixes": N, "prefix_len": P,
             "new_tokens": n_new, "cache_free_seq_s": seqs / t_plain, "kv_cache_seq_s": seqs / t_cache,
             "transformers_seq_s": seqs / t_hf, "kv_vs_cache_free": t_plain / t_cache, "kv_vs_transformers": t_hf / t_cache,
             "kv_equals_cache_free": bool(torch.equal(plain, cached))}
        rows.append(r)
        print(r, flush=True)
    res = {"machine": machine_info(torch.device("cpu")), "decode": rows}
    (HERE / "results_decode.json").write_text(json.dumps(res, indent=1) + "\n")
    m = res["machine"]
    lines = ["## Decoding throughput (`benchmarks/decode_throughput.py`; sequences / s over all models)", "",
             f"Machine: {m.get('cpu_model', m['cpu'])}, {m['cores']} cores, torch {m['torch']}. Greedy, K stacked models "
             "× N prefixes each, best of 3. transformers: `GPT2LMHeadModel.generate` with its KV cache, one model at a time "
             "(batch N), same shape.", "",
             "| shape | K × N, prefix → new tokens | cache-free (memlib) | KV cache (memlib) | transformers generate | "
             "KV / cache-free | KV / transformers | KV tokens = cache-free tokens |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shape']} | {r['models']} × {r['prefixes']}, {r['prefix_len']} → {r['new_tokens']} | "
                     f"{r['cache_free_seq_s']:,.0f} | {r['kv_cache_seq_s']:,.0f} | {r['transformers_seq_s']:,.0f} | "
                     f"{r['kv_vs_cache_free']:.1f}× | {r['kv_vs_transformers']:.1f}× | {'yes' if r['kv_equals_cache_free'] else 'NO'} |")
    write_section("DECODE", lines)


if __name__ == "__main__":
    main()

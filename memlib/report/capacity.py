"""Words about notebook 01, capacity: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations

from memlib.report.base import fmt


def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        tag = f"({m['scale']}, V={m['vocab_size']}, S={m['seq_len']})"
        rows.append(f"| 01 capacity, fp32 | α = {fmt(m['bits_per_param_fp32'], '.2f')} bits/param, "
                    f"R² {fmt(m['fit_r2_fp32'], '.3f')} {tag} | {m['paper']['bits_per_param_fp32']} (mean); "
                    f"{m['paper']['headline']} headline |")
        rows.append(f"| 01 capacity, bf16 | α = {fmt(m['bits_per_param_bf16'], '.2f')} bits/param {tag} | "
                    f"{m['paper']['bits_per_param_bf16']} |")
        pp = m.get("paper_point")
        if pp:
            rows.append(f"| 01 paper's smallest model ({pp['n_params'] / 1e3:.0f}K params, V={pp['vocab_size']}, "
                        f"S={pp['seq_len']}) | {pp['capacity_bits'] / 1e3:.0f}K bits = {pp['bits_per_param']:.2f} bits/param "
                        f"in {pp['wall_s']:.0f} s" + (f" on {pp['device'].split(': ')[-1]}" if pp.get("device") else "")
                        + (f"; 2× longer: {100 * pp['longer']['relative_gain']:+.1f}%" if pp.get("longer") else "")
                        + ("" if pp["saturated"] else " (step budget reached before a plateau: a lower bound)")
                        + f" | {pp['paper_capacity_bits'] / 1e3:.0f}K bits = {pp['paper_bits_per_param']:.2f} bits/param |")
        ab = m.get("ablation")
        if ab:
            base = next(r for r in ab if r["setting"] == "base")
            moves = ", ".join(f"{r['setting']} {r['value']} {100 * (r['bits_per_param'] / base['bits_per_param'] - 1):+.0f}%"
                              for r in ab if r["setting"] != "base")
            rows.append(f"| 01 ablation at {base['n_params']:,} params (one training choice changed; vs base "
                        f"{base['bits_per_param']:.2f} bits/param) | {moves} | Adam, batch 2048, to saturation |")
    return rows

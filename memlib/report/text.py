"""Words about notebook 03, text generalization: everything it says in prose, rendered from its metrics dict.

- `rows(m)`: its rows of the README results table.
"""
from __future__ import annotations



def rows(m: dict) -> list[str]:
    """The README results rows of this notebook, from its metrics."""
    rows = []
    if m:
        tag = f"({m['scale']}, {m['dataset']}, V={m['vocab_size']}, S={m['seq_len']})"
        rows.append(f"| 03 text: exact duplicate sequences removed from the pool | {m['duplicates_removed']} of "
                    f"{m['n_train_pool_sequences'] + m['duplicates_removed']} ({100 * m['duplicate_fraction']:.2f}%) {tag} "
                    "| 1–2% survive document-level dedup (FineWeb) |")
        for p in m["peaks"]:
            um = f"n={p['unintended_peak_n']} (ratio {p['unintended_peak_ratio']:.2f})" + (
                "" if p["unintended_rises_then_falls"] else ", at the grid's edge")
            tl = f"n={p['test_loss_peak_n']} (ratio {p['test_loss_peak_ratio']:.2f})" + (
                "" if p["test_loss_peak_interior"] else ", at the grid's edge")
            rows.append(f"| 03 text, {p['n_params'] / 1e3:.1f}K params: peak of unintended memorization; of held-out loss "
                        f"| {um}; {tl} | both where dataset bits ≈ capacity (ratio 1) |")
    return rows

"""What every topic's words share: number formatting."""
from __future__ import annotations


def fmt(x, spec: str) -> str:
    """x formatted with `spec`, or an em dash where the pipeline recorded nothing (None)."""
    return "—" if x is None else format(x, spec)

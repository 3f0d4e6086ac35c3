"""Sections of benchmarks/RESULTS.md that other benchmark scripts own: each rewrites only its own
section (between `<!-- NAME:BEGIN -->` and `<!-- NAME:END -->`), and train_throughput.py keeps them."""
from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def sections(text: str) -> str:
    """Every owned section of `text`, in order, each with its markers."""
    return "\n".join(m.group(0) for m in re.finditer(r"<!-- (\w+):BEGIN -->.*?<!-- \1:END -->", text, re.S))


def write_section(name: str, lines: list[str], path: Path = RESULTS) -> None:
    """Put `lines` into section `name` of RESULTS.md (appended if it is not there yet)."""
    block = "\n".join([f"<!-- {name}:BEGIN -->", *lines, f"<!-- {name}:END -->"])
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(rf"<!-- {name}:BEGIN -->.*?<!-- {name}:END -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n")

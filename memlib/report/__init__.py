"""The words of the notebook series, one module per topic (`memlib/report/<topic>.py`), rendered from the
metrics files the pipeline wrote.

`python -m memlib.report` rewrites the block between the RESULTS markers in README.md; a test checks that the
README holds exactly this rendering, so no number there is typed by hand.

One topic, four spellings (kept as they are so no committed result, stage or run moves); `TOPICS` maps them:

| notebook | params.yaml section | DVC stage | modules (experiment, words, figures) |
|---|---|---|---|
| 01_capacity | capacity | capacity (+ capacity_ablation, capacity_paper_point) | capacity, ablation · report.capacity · plots.capacity |
| 02_grokking | grokking | grokking | grokking · report.grokking · plots.grokking |
| 03_text_generalization | text | text_data, text_generalization | text, corpus · report.text · plots.text |
| 04_extraction | extraction | extraction | extraction, canaries · report.extraction · plots.extraction |
| 05_mia_scaling_law | mia | mia_scaling_law | mia, attacks · report.mia · plots.mia |
| 06_data_diet | data_diet | data_diet | diet, scores, images · report.diet · plots.diet |
| 07_unlearning | unlearning | unlearning | unlearning · report.unlearning · plots.unlearning |
| 08_pruning | pruning | pruning | pruning, tasks · report.pruning · plots.pruning |
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from memlib import paths

BEGIN, END = "<!-- RESULTS:BEGIN (python -m memlib.report) -->", "<!-- RESULTS:END -->"

# notebook (= metrics file and figure prefix) -> topic (the module name under memlib/, report/ and plots/)
TOPICS = {
    "01_capacity": "capacity",
    "02_grokking": "grokking",
    "03_text_generalization": "text",
    "04_extraction": "extraction",
    "05_mia_scaling_law": "mia",
    "06_data_diet": "diet",
    "07_unlearning": "unlearning",
    "08_pruning": "pruning",
}


def words(notebook: str):
    """The words module of a notebook: memlib.report.<topic>."""
    return importlib.import_module(f"memlib.report.{TOPICS[notebook]}")


def _read(d: Path, name: str) -> dict | None:
    f = d / f"{name}.json"
    return json.loads(f.read_text()) if f.exists() else None


def render(metrics_dir: Path | None = None) -> str:
    """The README's results table from the metrics files in `metrics_dir` (default: the tracked metrics/)."""
    d = Path(metrics_dir or paths.METRICS)
    rows = ["| notebook | measured (scale) | paper |", "|---|---|---|"]
    for nb in TOPICS:
        m = _read(d, nb)
        if m:
            rows += words(nb).rows(m)
    return "\n".join(rows)


def update_readme(readme: Path = paths.ROOT / "README.md") -> None:
    text = readme.read_text()
    a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:a] + "\n" + render() + "\n" + text[b:])


# The answer each notebook's title cell states, rendered from its tracked metrics by `python -m memlib.report`
ANSWER_BEGIN, ANSWER_END = "<!-- ANSWER:BEGIN (python -m memlib.report, from the committed metrics) -->", "<!-- ANSWER:END -->"


def answer(notebook: str, metrics_dir: Path | None = None) -> str | None:
    """The title cell's answer block for `notebook` from its metrics, or None before the stage has run."""
    m = _read(Path(metrics_dir or paths.METRICS), notebook)
    return None if m is None else f"{ANSWER_BEGIN}\n{words(notebook).answer(m).strip()}\n{ANSWER_END}"


def title_answer(nb: dict) -> str | None:
    """The answer block as it stands in a notebook's title cell (its first cell), or None if it has none."""
    text = "".join(nb["cells"][0]["source"])
    if ANSWER_BEGIN not in text or ANSWER_END not in text:
        return None
    return text[text.index(ANSWER_BEGIN): text.index(ANSWER_END) + len(ANSWER_END)]


def update_titles(root: Path = paths.ROOT, only: list[str] | None = None) -> list[str]:
    """Rewrite each notebook's title-cell answer (or those in `only`) from its tracked metrics; returns the notebooks
    changed. (A changed notebook makes its stage stale: `dvc repro` afterwards brings the executed copy along.)"""
    changed = []
    for nb_name in only or TOPICS:
        path = root / "notebooks" / f"{nb_name}.ipynb"
        nb = json.loads(path.read_text())
        old, new = title_answer(nb), answer(nb_name, root / "metrics")
        if old is None or new is None or old == new:
            continue
        text = "".join(nb["cells"][0]["source"]).replace(old, new)
        nb["cells"][0]["source"] = text.splitlines(keepends=True)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        changed.append(nb_name)
    return changed

"""The DVC pipeline seen from the code: which `memlib` files a stage really runs, and `make repro-all`.

- `stage_deps(stage)`: the `memlib` files a stage's command imports, followed transitively through the
  package (notebook cells, `python -m memlib.X` modules, and every `import` statement in them, function-level
  ones included); `memlib/engine` is listed as one directory. `tests/test_pipeline.py` compares this with
  `dvc.yaml`, so the hand-typed lists cannot drift from the imports again.
- `python -m memlib.pipeline deps`: prints each stage's `memlib` deps as `dvc.yaml` should list them;
  `sync-deps` writes them into `dvc.yaml`.
- `python -m memlib.pipeline repro-all [--fresh]`: regenerates every CPU stage from an empty run store at the
  scale in `params.yaml` (laptop), one stage after another, with the expected time of each (`STAGE_MINUTES`,
  the README's timings). GPU stages (frozen in `dvc.yaml`) are skipped and keep their committed results.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from memlib import paths

PACKAGE = "memlib"
DIR_DEPS = ("memlib/engine",)  # listed in dvc.yaml as one directory (hashed with .dvcignore applied)

# Expected minutes per stage at the laptop scale from an empty run store, measured in one sequential run on the
# 2-core CPU (README, "Laptop dvc repro"). Stages not listed are seconds.
STAGE_MINUTES = {  # stage wall times of the 2026-12-01 laptop rerun (03 contended); 02 timed alone on 2026-12-02
    "capacity_ablation": 31.0, "capacity": 17.7, "grokking": 19.9, "text_data": 0.3, "text_generalization": 40.8,
    "extraction": 8.8, "mia_scaling_law": 23.8, "data_diet": 15.6, "unlearning": 10.8, "pruning": 20.3,
}


def _module_file(name: str, root: Path) -> Path | None:
    """memlib.a.b -> memlib/a/b.py or memlib/a/b/__init__.py (None when it is not a module of the package)."""
    base = root.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _imported_modules(source: str, package: str) -> set[str]:
    """Dotted names of the `memlib` modules a piece of Python source imports (anywhere in it)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(parts + ([mod] if mod else []))
            if mod.split(".")[0] != PACKAGE:
                continue
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from memlib import capacity`: maybe a module
    return out


def _notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for c in cells:
        if c["cell_type"] == "code":
            lines += [ln for ln in "".join(c["source"]).splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def imported_files(entries: list[Path], root: Path = paths.ROOT) -> set[str]:
    """Repo-relative paths of every `memlib` file that running `entries` (.py or .ipynb files) imports."""
    seen: set[Path] = set()
    todo = []
    for e in entries:
        src = _notebook_source(e) if e.suffix == ".ipynb" else e.read_text()
        pkg = ".".join(e.relative_to(root).with_suffix("").parts[:-1]) if e.suffix == ".py" else ""
        todo += sorted(_imported_modules(src, pkg))
        if e.suffix == ".py" and e.resolve().is_relative_to((root / PACKAGE).resolve()):
            todo.append(".".join(e.relative_to(root).with_suffix("").parts))
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__ too
            f = _module_file(".".join(parts[:i]), root)
            if f is None or f in seen:
                continue
            seen.add(f)
            pkg = ".".join(parts[:i]) if f.name == "__init__.py" else ".".join(parts[:i - 1])
            todo += sorted(_imported_modules(f.read_text(), pkg))
    return {str(f.relative_to(root)) for f in seen}


def stage_entries(cmd: str, root: Path = paths.ROOT) -> list[Path]:
    """What a stage's command runs: the notebook papermill executes, or the module `python -m` runs."""
    out = [root / m for m in re.findall(r"papermill\s+(\S+\.ipynb)", cmd)]
    out += [_module_file(m, root) for m in re.findall(r"python\S*\s+-m\s+(memlib(?:\.\w+)*)", cmd)]
    return [p for p in out if p is not None]


def collapse(files: set[str], root: Path = paths.ROOT) -> list[str]:
    """Files -> dvc.yaml's spelling: a directory of DIR_DEPS stands for all of its .py files."""
    out = set(files)
    for d in DIR_DEPS:
        inside = {f for f in files if f.startswith(d + "/")}
        if inside:
            out = (out - inside) | {d}
    return sorted(out)


def load_stages(root: Path = paths.ROOT) -> dict:
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def stage_deps(name: str, root: Path = paths.ROOT) -> list[str]:
    """The memlib deps a stage should list: what its command imports."""
    return collapse(imported_files(stage_entries(load_stages(root)[name]["cmd"], root), root), root)


def listed_deps(name: str, root: Path = paths.ROOT) -> list[str]:
    return sorted(d for d in load_stages(root)[name].get("deps", []) if d.split("/")[0] == PACKAGE)


def order(root: Path = paths.ROOT) -> list[str]:
    """Stages in an order that runs every stage after the stages whose outputs it reads (DVC's own graph)."""
    import networkx as nx  # ships with dvc
    from dvc.repo import Repo
    return [s.addressing for s in reversed(list(nx.topological_sort(Repo(str(root)).index.graph)))]


def gpu_stages(root: Path = paths.ROOT) -> list[str]:
    return [n for n, s in load_stages(root).items() if s.get("frozen")]


def repro_all(fresh: bool, root: Path = paths.ROOT) -> None:
    """Every CPU stage, forced, one after another, from an empty run store."""
    runs = paths.RUNS
    if runs.exists() and any(runs.iterdir()):
        if not fresh:
            sys.exit(f"repro-all: the run store {runs} is not empty, so stages would load stored runs instead of "
                     "training them. Use `make repro` to regenerate only what is stale, or `make repro-all FRESH=1` "
                     "to move the store aside (nothing is deleted) and train everything anew.")
        aside = runs.with_name(f"{runs.name}.before-repro-all-{time.strftime('%Y%m%d-%H%M%S')}")
        runs.rename(aside)
        print(f"repro-all: moved the old run store to {aside}")
    todo = [n for n in order(root) if n not in gpu_stages(root)]
    total = sum(STAGE_MINUTES.get(n, 0.1) for n in todo)
    print(f"repro-all: {len(todo)} stages, about {total:.0f} min on a 2-core CPU; GPU stages kept as committed: "
          f"{', '.join(gpu_stages(root)) or 'none'}", flush=True)
    t_all = time.time()
    for i, n in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {n}: expected ~{STAGE_MINUTES.get(n, 0.1):.1f} min", flush=True)
        t = time.time()
        subprocess.run(["dvc", "repro", "--force", "--single-item", n], cwd=root, check=True)
        print(f"[{i}/{len(todo)}] {n}: done in {(time.time() - t) / 60:.1f} min "
              f"(total {(time.time() - t_all) / 60:.1f} of ~{total:.0f} min)", flush=True)


def sync_deps(root: Path = paths.ROOT) -> list[str]:
    """Rewrite each stage's memlib deps in dvc.yaml as its imports say (other deps, comments and order kept);
    returns the stages that changed."""
    from ruamel.yaml import YAML  # ships with dvc
    y = YAML()
    y.preserve_quotes, y.width = True, 200
    y.indent(mapping=2, sequence=4, offset=2)
    doc = y.load((root / "dvc.yaml").read_text())
    changed = []
    for n, s in doc["stages"].items():
        want = stage_deps(n, root)
        if listed_deps(n, root) != want:
            other = [d for d in s["deps"] if str(d).split("/")[0] != PACKAGE]
            s["deps"].clear()
            s["deps"].extend(other + want)
            changed.append(n)
    with open(root / "dvc.yaml", "w") as f:
        y.dump(doc, f)
    return changed


def main(argv: list[str]) -> None:
    if argv[:1] == ["deps"]:
        for n in load_stages():
            print(f"{n}:\n" + "".join(f"  - {d}\n" for d in stage_deps(n)), end="")
    elif argv[:1] == ["sync-deps"]:
        print("updated:", ", ".join(sync_deps()) or "nothing")
    elif argv[:1] == ["repro-all"]:
        repro_all(fresh="--fresh" in argv[1:] or os.environ.get("FRESH") == "1")
    else:
        sys.exit("usage: python -m memlib.pipeline deps | sync-deps | repro-all [--fresh]")


if __name__ == "__main__":
    main(sys.argv[1:])

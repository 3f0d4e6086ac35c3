"""Notebooks: no logic in them, parameters mirrored by params.yaml, smoke runs write their metrics."""
import ast
import json
import os
import re
from pathlib import Path

import papermill as pm
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _sections() -> dict[str, str]:
    """Notebook stem -> its params.yaml section, read from the dvc stage that runs it (`-p scale ${section.scale}`)."""
    out = {}
    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values():
        cmd = stage.get("cmd", "")
        nb = re.search(r"papermill notebooks/(\w+)\.ipynb", cmd)
        sec = re.search(r"-p scale \$\{(\w+)\.scale\}", cmd)
        if nb and sec:
            out[nb.group(1)] = sec.group(1)
    return out


SECTIONS = _sections()


def test_every_notebook_has_a_dvc_stage():
    assert sorted(SECTIONS) == [nb.stem for nb in NOTEBOOKS]


def cells(nb):
    return json.loads(nb.read_text())["cells"]


def parameters(nb) -> dict:
    src = "".join(next(c for c in cells(nb) if "parameters" in c["metadata"].get("tags", []))["source"])
    ns = {}
    exec(src, ns)  # plain literals only
    return {k: v for k, v in ns.items() if not k.startswith("__")}


LOGIC = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.AsyncFor, ast.While,
         ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def logic_in(source: str) -> list[str]:
    """Functions, classes, loops and comprehensions in a cell's source (IPython magics left out)."""
    src = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    return [f"{type(n).__name__}: {ast.get_source_segment(src, n)[:80]}" for n in ast.walk(ast.parse(src))
            if isinstance(n, LOGIC)]


def test_logic_check_bites():
    assert logic_in("x = [a for a in b]\ny = {k: 1 for k in c}\nfor i in d:\n    pass\nf = lambda: 0")
    assert logic_in("def f():\n    pass") and logic_in("while x:\n    x -= 1") and logic_in("s = sum(v for v in w)")
    assert not logic_in("%matplotlib inline\ndf = cap.run_table(cfg, grid)\ndf.groupby('a').agg(b=('c', 'max'))")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_no_logic_and_mirrors_params_yaml(nb):
    for i, c in enumerate(cells(nb)):
        if c["cell_type"] == "code":
            assert not logic_in("".join(c["source"])), f"cell {i}: loops and functions belong in memlib"
    params = yaml.safe_load((ROOT / "params.yaml").read_text())[SECTIONS[nb.stem]]
    assert parameters(nb) == params


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_cell_states_the_committed_answer(nb):
    """The title cell holds the answer rendered from the committed metrics (python -m memlib.report writes it)."""
    from memlib import report
    book = json.loads(nb.read_text())
    assert book["cells"][0]["cell_type"] == "markdown"
    assert report.title_answer(book) is not None, "the title cell has no answer block"
    assert report.title_answer(book) == report.answer(nb.stem, ROOT / "metrics"), \
        "the title cell's answer is not the committed metrics' (run python -m memlib.report, then dvc repro)"


def smoke(nb, tmp_path):
    pm.execute_notebook(str(ROOT / "notebooks" / f"{nb}.ipynb"), str(tmp_path / f"{nb}.ipynb"),
                        parameters={"scale": "smoke", "device": "cpu"}, kernel_name="python3",
                        progress_bar=False, cwd=str(ROOT))
    return json.loads((Path(os.environ["MEMLIB_METRICS"]) / f"{nb}.json").read_text())


def figure(name):
    return (Path(os.environ["MEMLIB_FIGURES"]) / f"{name}.png").stat().st_size


def test_capacity_smoke_run_writes_metrics(tmp_path):
    m = smoke("01_capacity", tmp_path)
    assert m["scale"] == "smoke" and m["vocab_size"] == 16 and m["seq_len"] == 8
    assert m["bits_per_param_fp32"] > 0 and 0 <= m["fit_r2_fp32"] <= 1
    assert len(m["models"]) == 2 and all(x["capacity_bits"] > 0 for x in m["models"])
    assert set(m["models"][0]) >= {"n_params", "n_layer", "d_model", "precision", "seed", "capacity_bits"}
    for name in ("curves", "scaling", "vocab", "tied"):
        assert figure(f"01_capacity_{name}") > 10_000


def test_grokking_smoke_run_writes_metrics(tmp_path):
    m = smoke("02_grokking", tmp_path)
    assert m["scale"] == "smoke" and m["p"] == 11 and m["train_frac"] == 0.5
    assert len(m["memorize_step"]) == len(m["generalize_step"]) == 1
    assert set(m["weight_decay_ablation"]) >= {"memorize_step", "generalize_step"}
    assert len(m["ratio_sweep"]) == 4
    for row in m["ratio_sweep"]:
        assert set(row) >= {"ratio", "n_train", "n_params", "generalize_step", "final_test_acc"}
        assert row["ratio"] > 0 and 0 <= row["final_test_acc"] <= 1
    for name in ("curves", "no_wd", "bits", "ratio"):
        assert figure(f"02_grokking_{name}") > 10_000


def test_text_smoke_run_writes_metrics(tmp_path):
    m = smoke("03_text_generalization", tmp_path)
    assert m["scale"] == "smoke" and m["vocab_size"] == 300 and m["seq_len"] == 16
    assert m["n_train_pool_sequences"] > 0 and m["n_heldout_sequences"] > 0 and m["duplicates_removed"] >= 0
    assert len(m["curves"]) == 2 * 3
    for row in m["curves"]:
        assert set(row) >= {"n_params", "n_train", "dataset_bits", "unintended_mem_bits", "train_loss", "test_loss"}
        assert row["dataset_bits"] > 0 and row["unintended_mem_bits"] >= 0 and row["test_loss"] > 0
    assert len(m["peaks"]) == 2
    for name in ("unintended", "losses", "ratio"):
        assert figure(f"03_text_{name}") > 10_000


def test_extraction_smoke_run_writes_metrics(tmp_path):
    m = smoke("04_extraction", tmp_path)
    assert m["scale"] == "smoke" and m["ks"] == [4, 8]
    assert len(m["k_extractable"]) == 2 * 3 * 2  # sizes x training sets x ks
    for row in m["k_extractable"]:
        assert set(row) >= {"n_params", "n_train", "k", "train_rate", "heldout_rate"}
        assert 0 <= row["train_rate"] <= 1 and 0 <= row["heldout_rate"] <= 1
    assert {(r["r"], r["k"]) for r in m["duplication"]} == {(r, k) for r in (1, 2, 4) for k in (4, 8)}
    assert set(m["duplication_slope"]) >= {"slope_per_doubling_of_r", "ci_low", "ci_high"}
    assert [e["r"] for e in m["exposure"]] == [0, 1, 4] and all(e["exposure"] >= 0 for e in m["exposure"])
    assert set(m["generate_and_rank"]["precision_at_top_natural"]) >= {"perplexity", "zlib_ratio", "small_model_ratio",
                                                                "lowercase_ratio"}
    for name in ("k", "duplication", "exposure", "rank", "rarity"):
        assert figure(f"04_extraction_{name}") > 10_000


def test_data_diet_smoke_run_writes_metrics(tmp_path):
    m = smoke("06_data_diet", tmp_path)
    assert m["scale"] == "smoke" and m["dataset"] == "digits" and m["n_train"] == 1438 and m["n_test"] == 359
    for key in ("prune_curves", "prune_curves_noisy"):
        rows = m[key]
        assert {(r["keep"], r["frac_kept"]) for r in rows} >= {("highest", 0.3), ("random", 0.7), ("lowest", 0.3), ("all", 1.0)}
        assert len({r["seed"] for r in rows}) == 2 and all(0 <= r["test_acc"] <= 1 for r in rows)
        assert all(set(r) == {"score", "keep", "frac_kept", "seed", "test_acc"} for r in rows)
    assert set(m["noise_detection_auroc"]) == {"el2n", "grand", "mem"}
    assert all(0 <= v <= 1 for v in m["noise_detection_auroc"].values())
    assert {(r["offset"], r["seed"]) for r in m["offset"]} == {(o, s) for o in (0.0, 0.1) for s in (0, 1)}
    assert all(set(r) >= {"offset", "frac_kept", "test_acc"} for r in m["offset"])
    mem = m["memorization"]
    assert mem["n_models"] == 12 and all(-1 <= mem[k] <= 1 for k in ("spearman_with_el2n", "spearman_with_grand"))
    assert len(m["rank_correlations"]) == 2 * 3 and m["training"]["wall_s"] > 0
    for name in ("memorization", "memorized_images", "prune", "noise_scores", "noise_prune", "offset"):
        assert figure(f"06_data_diet_{name}") > 10_000


def test_bad_papermill_parameter_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMLIB_SCALE")  # else the smoke override would replace the bad scale
    with pytest.raises(pm.PapermillExecutionError, match="invalid scale='huge'"):
        pm.execute_notebook(str(NOTEBOOKS[0]), str(tmp_path / "x.ipynb"), parameters={"scale": "huge"},
                            kernel_name="python3", progress_bar=False, cwd=str(ROOT))


def test_readme_results_are_the_pipelines_numbers():
    """The README's results table is exactly what memlib.report renders from metrics/."""
    from memlib import report
    readme = (ROOT / "README.md").read_text()
    assert report.render(ROOT / "metrics") in readme


def _plot_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "plots.save(" in "".join(c["source"])]


def _has_image(cell: dict) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def test_exploring_outside_dvc_shows_figures_and_changes_no_tracked_result(tmp_path, monkeypatch):
    """A notebook run by hand (not the DVC stage) writes explore/<scale>/, shows each figure once, and leaves the
    tracked metrics/ and figures/ as they were."""
    import subprocess
    for v in ("MEMLIB_METRICS", "MEMLIB_FIGURES", "DVC_STAGE"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("MEMLIB_EXPLORE", str(tmp_path / "explore"))
    tracked = ["metrics", "figures"]
    before = subprocess.run(["git", "status", "--porcelain", "--", *tracked], cwd=ROOT, capture_output=True, text=True)
    stamp = {p: p.stat().st_mtime_ns for d in tracked for p in (ROOT / d).rglob("*") if p.is_file()}
    out = tmp_path / "01.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "01_capacity.ipynb"), str(out),
                        parameters={"scale": "smoke", "device": "cpu"}, kernel_name="python3", progress_bar=False,
                        cwd=str(ROOT))
    after = subprocess.run(["git", "status", "--porcelain", "--", *tracked], cwd=ROOT, capture_output=True, text=True)
    assert after.stdout == before.stdout
    assert stamp == {p: p.stat().st_mtime_ns for d in tracked for p in (ROOT / d).rglob("*") if p.is_file()}
    assert json.loads((tmp_path / "explore/smoke/metrics/01_capacity.json").read_text())["scale"] == "smoke"
    assert len(list((tmp_path / "explore/smoke/figures").glob("01_capacity_*.png"))) == 4
    nb = json.loads(out.read_text())
    shown = [sum("image/png" in o.get("data", {}) for o in c["outputs"]) for c in _plot_cells(nb)]
    assert shown.count(1) == 4 and set(shown) <= {0, 1}, shown  # four figures at smoke, each shown once
    said = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "explore/smoke/" in said and "only `dvc repro` writes the tracked" in said


def test_no_committed_file_holds_a_build_machine_path():
    import subprocess
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pattern = re.compile("|".join([re.escape(str(ROOT)), r"/[\w.-]+(?:/[\w.-]+)*/(?:\.venv|site-packages)/"]))
    hits = []
    for f in files:
        p = ROOT / f
        if p.suffix in {".png", ".npy", ".safetensors"} or not p.is_file():
            continue
        hits += [f"{f}: {m.group(0)}" for m in pattern.finditer(p.read_text(errors="ignore"))]
    assert not hits, hits[:10]


def test_every_notebook_names_the_project_kernel():
    for nb in NOTEBOOKS + sorted((ROOT / "notebooks" / "executed").glob("*.ipynb")):
        spec = json.loads(nb.read_text())["metadata"]["kernelspec"]
        assert (spec["name"], spec["display_name"]) == ("python3", "memlib (Python 3)"), nb.name

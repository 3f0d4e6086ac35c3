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
    """Golden values: the smoke metrics (deterministic on CPU, however the runs are stacked)."""
    from memlib.report import capacity as words
    m = smoke("01_capacity", tmp_path)
    assert m["scale"] == "smoke" and m["vocab_size"] == 16 and m["seq_len"] == 8 and m["n_runs"] == 4
    assert [(x["n_params"], x["d_model"], x["precision"], x["seed"]) for x in m["models"]] == \
        [(352, 4, "fp32", 0), (1088, 8, "fp32", 0)]
    gold = (812.194, 0.734684, 0.990088)
    assert (m["models"][1]["capacity_bits"], m["bits_per_param_fp32"], m["fit_r2_fp32"]) == pytest.approx(gold, rel=1e-5)
    assert m["models"][0]["capacity_bits"] == pytest.approx(218.868, rel=1e-5) and m["bits_per_param_bf16"] is None
    c = m["check_longer"]
    assert (c["steps"], c["steps_longer"], c["base_saturated"]) == (300, 600, False)
    assert [c["capacity_bits"], c["capacity_bits_longer"]] == pytest.approx([218.868, 248.948], rel=1e-5)
    assert [(x["vocab_size"], x["seq_len"]) for x in m["vocab"]] == [(8, 8), (16, 8), (32, 8)]  # V at S, S at V
    assert [x["bits_per_param"] for x in m["vocab"]] == pytest.approx([0.407628, 0.621783, 0.786011], rel=1e-5)
    assert m["vocab_dependence"]["vocab"]["verdict"] == "not settled at this scale"  # 1 seed, runs still gaining
    assert [(r["factor"], r["steps"]) for r in c["ladder"]] == [(1.0, 300), (2.0, 600)] and not c["length_saturated"]
    assert c["gain_per_doubling"] == pytest.approx([248.948 / 218.868 - 1], rel=1e-4) == [c["total_gain"]]
    sat = {r["d_model"]: r for r in m["saturation"]}
    assert set(sat) == {4, 8} and not any(r["saturated"] for r in sat.values())  # 300 steps: every shape still moving
    assert m["alpha_fp32"]["ci_low"] <= m["bits_per_param_fp32"] <= m["alpha_fp32"]["ci_high"]
    assert [x["bits_per_param"] for x in m["tied_vs_untied"]] == pytest.approx([0.52667, 0.621783], rel=1e-5)
    # 300 smoke steps saturate one run: the runs say which, and the headline calls alpha a lower bound
    st = m["stops"]
    assert (st["n_runs"], st["n_saturated"], st["by_reason"]) == (8, 1, {"max_steps": 7, "steps": 1})  # 1: the longer check
    assert sum(r["gain_last_doubling"] > 0.01 for r in st["runs"]) == 7
    assert m["n_capacity_runs_unsaturated"] == 2 and "α is a lower bound" in words.rows(m)[0]
    assert m["ablation"] is None  # the ablation stage's metrics are laptop's, not this scale's
    assert f"α ≥ {gold[1]:.2f} bits/param in fp32" in words.answer(m) and f"fp32: slope {gold[1]:.2f}" in words.describe(m)
    for name in ("curves", "scaling", "vocab", "tied"):
        assert figure(f"01_capacity_{name}") > 10_000


def test_grokking_smoke_run_writes_metrics(tmp_path):
    """Golden values: the smoke metrics (deterministic on CPU); those that do not depend on notebook 01's α, which is
    its smoke metrics' when test_capacity_smoke_run_writes_metrics ran first, else the default. At smoke nothing
    generalizes within 300 steps: every width is right-censored, left out of the fit, and the verdict not settled."""
    import math

    from memlib.report import grokking as words
    m = smoke("02_grokking", tmp_path)
    assert (m["scale"], m["p"], m["n_train"], m["d_model"], m["n_params"]) == ("smoke", 11, 60, 16, 3552)
    assert (m["memorize_step"], m["generalize_step"], m["test_acc_at_memorize"]) == ([None], [None], [None])
    assert (m["per_seed"][0]["steps"], m["per_seed"][0]["first_crossing"]) == (300, None)
    assert m["per_seed"][0]["final_test_acc"] == pytest.approx(0.196721, rel=1e-5)
    (n,) = m["decayed_norm"]  # the decayed weights' norm, from its initialization (LayerNorm gains: sqrt(3 * 16))
    assert [n["init"], n["peak"], n["final"]] == pytest.approx([1.03047, 2.64617, 2.64617], rel=1e-5)
    assert (n["peak_step"], n["final_step"]) == (300, 300) and n["undecayed_init"] == pytest.approx(math.sqrt(48), rel=1e-5)
    wd0 = m["weight_decay_ablation"]
    assert (wd0["steps"], wd0["per_seed"][0]["best_step"], wd0["per_seed"][0]["generalize_step"]) == (200, 200, None)
    assert [wd0["per_seed"][0]["best_test_acc"], wd0["with_weight_decay_equal_steps"][0]["best_test_acc"]] == \
        pytest.approx([0.114754, 0.0983607], rel=1e-5)
    assert wd0["decayed_norm"][0]["init"] == n["init"]  # the same initialization, the other arm
    assert [(r["d_model"], r["n_params"], r["n_star"], r["ci_low"], r["ci_high"], r["censored"], r["budget_stable"],
             r["representable"]) for r in m["onset"]] == [(8, 1008, None, 60, 120, "right", True, False),
                                                          (16, 3552, None, 60, 120, "right", False, False)]
    # the open upper end capped at the pairs that exist (11^2 - 1); at d 8 the runs at 60 pairs had stopped rising,
    # at d 16 they were still rising: N* > 60 only within this budget, its lower end (and ratio_low) open
    assert [(r["ci_high_capped"], r["n_star_open"], r["seeds_censored"], r["budget"], r["below_n_star"])
            for r in m["onset"]] == [(True, True, 1, "stable", 60), (True, True, 1, "still rising", 60)]
    r8, r16 = m["onset"]  # the open-ended ratio: its lower end is the grid's largest size in label bits over capacity
    assert r8["ratio_low"] == pytest.approx(60 * math.log2(11) / (m["alpha"] * r8["n_params"]), rel=1e-5)
    assert r16["ratio_low"] is None and r16["gain_below"] >= 0.01
    for f in (m["onset_fit"], m["onset_fit_stored"]):
        assert (f["n_widths"], f["slope"], f["verdict"]) == (0, None, "not settled at this scale")
    st = m["stops"]  # weight-decay runs stop on their target or budget; weight decay 0 and random labels: a fixed budget
    assert (st["n_runs"], st["by_reason"]) == (7, {"max_steps": 4, "steps": 3})
    rc = m["regime_capacity"]  # random labels at d 8 on 60 and 100 pairs: the larger stores more, still gaining
    assert [r["stored_bits"] for r in rc["runs"]] == pytest.approx([35.1536, 45.245], rel=1e-5)
    assert [r["stored_bits_raw"] for r in rc["runs"]] == pytest.approx([62.6971, 75.33], rel=1e-5)  # before the floor
    (c,) = rc["widths"]
    assert (c["d_model"], c["n_train"], c["lower_bound"]) == (8, 100, True) and "still gaining" in c["why"]
    assert (c["capacity_bits"], c["capacity_bits_half"]) == pytest.approx((45.245, 9.90864), rel=1e-5)
    assert r8["ratio_regime_high"] == pytest.approx(120 * math.log2(11) / 45.245, rel=1e-5)  # the all-pairs cap
    assert m["onset"][1]["ratio_regime_high"] is None  # d 16: not measured in this regime at smoke
    assert m["classic_seeds_censored"] == [0]
    a = words.answer(m)
    assert "No held 99% test accuracy within 300 steps" in a and "not settled at this scale" in a and "never" not in a
    assert "N* > 60 pairs (right-censored" in a and "left out of the fit" in a
    assert m["training"]["wall_s"] > 0
    for name in ("curves", "no_wd", "loss", "norm", "onset", "capacity"):
        assert figure(f"02_grokking_{name}") > 10_000


def test_text_smoke_run_writes_metrics(tmp_path):
    from memlib.report import text as words
    m = smoke("03_text_generalization", tmp_path)
    assert m["scale"] == "smoke" and m["vocab_size"] == 300 and m["seq_len"] == 16
    # golden values of the smoke run (the file keeps 6 significant digits); none depends on notebook 01's alpha,
    # so they hold whether or not its smoke run came first
    corpus = ("n_documents", "n_heldout_documents", "n_train_pool_sequences", "n_heldout_sequences",
              "duplicates_removed", "heldout_duplicates_of_train_removed")
    assert [m[k] for k in corpus] == [12, 3, 4134, 1514, 24, 14]
    assert m["pool_sha256"].startswith("c4ad7cf0f478edd0")
    golden = {  # (n_params, n_train): dataset bits, unintended bits (better reference, same size), train, test loss
        (1520, 4): (325.716, 132.064, 184.566, 2.09734, 6.38141),
        (1520, 16): (1312.29, 142.223, 349.333, 3.16895, 5.3194),
        (1520, 64): (5310.06, 17.2551, 409.924, 3.85715, 4.19917),
        (3424, 4): (325.716, 285.807, 319.81, 0.432234, 7.29081),
        (3424, 16): (1312.29, 703.32, 834.847, 1.64688, 6.49616),
        (3424, 64): (5310.06, 740.022, 1236.48, 3.09961, 4.5764),
    }
    cols = ("dataset_bits", "unintended_mem_bits", "unintended_vs_same_size_bits", "train_loss", "test_loss")
    got = {(r["n_params"], r["n_train"]): [r[c] for c in cols] for r in m["curves"]}
    assert sorted(got) == sorted(golden)
    for key, values in golden.items():  # the file's 6 digits: a model's result does not depend on its stack
        assert got[key] == pytest.approx(list(values), rel=1e-5), key
    assert m["oracle"]["n_params"] == 8384 and m["oracle"]["test_loss"] == pytest.approx(3.57819, rel=1e-5)
    assert "runs saturated" in words.rows(m)[1]
    peaks = [[p[k] for k in ("n_params", "unintended_peak_n", "unintended_rises_then_falls", "test_loss_peak_n",
                             "test_loss_peak_interior")] for p in m["peaks"]]
    assert peaks == [[1520, 16, True, 4, False], [3424, 64, False, 4, False]]
    for r in m["curves"]:  # the ratio axis: dataset bits over alpha * params
        assert r["capacity_bits"] == pytest.approx(m["alpha_bits_per_param"] * r["n_params"], rel=1e-5)
        assert r["ratio"] == pytest.approx(r["dataset_bits"] / r["capacity_bits"], rel=1e-4)
    assert "peaks at n = 16 and 64 sequences" in words.answer(m)
    for name in ("unintended", "losses", "ratio"):
        assert figure(f"03_text_{name}") > 10_000


def test_extraction_smoke_run_writes_metrics(tmp_path):
    from memlib.report import extraction as words
    m = smoke("04_extraction", tmp_path)
    assert m["scale"] == "smoke" and m["ks"] == [4, 8] and m["canary_candidates"] == 100
    # golden values of the smoke run (deterministic on CPU; the file keeps 6 significant digits)
    # k-extractability: only the larger model extracts, all 4 sequences of its smallest training set, at both k
    got = {(r["n_params"], r["n_train"], r["k"]): [r["train_rate"], r["train_n"], r["heldout_rate"], r["heldout_n"]]
           for r in m["k_extractable"]}
    assert got == {(p, n, k): [float((p, n) == (3424, 4)), min(n, 16), 0.0, 16]
                   for p in (1520, 3424) for n in (4, 16, 64) for k in (4, 8)}
    # duplication: at r <= 4 these models extract none of the 4 sequences per repetition count
    assert {(r["r"], r["n_params"], r["k"]): [r["rate"], r["n"]] for r in m["duplication"]} == \
        {(r, p, k): [0.0, 4] for r in (1, 2, 4) for p in (1520, 3424) for k in (4, 8)}
    assert m["duplication_slope"] == {"n_params": 3424, "k": 8, "slope_per_doubling_of_r": 0.0, "ci_low": 0.0,
                                      "ci_high": 0.0}
    # canaries (2 per repetition count): exact and extrapolated exposure, of log2(100) = 6.64 bits at most
    golden = {  # (n_params, r, secret): exposure, extrapolated exposure
        (1520, 0, "26"): (0.888969, 0.482057), (1520, 0, "61"): (0.535332, 0.464896),
        (1520, 1, "49"): (3.05889, 3.17065), (1520, 1, "30"): (3.32193, 3.53288),
        (1520, 4, "04"): (5.64386, 5.65423), (1520, 4, "80"): (5.05889, 5.25041),
        (3424, 0, "26"): (0.836501, 0.42922), (3424, 0, "61"): (0.415037, 0.386174),
        (3424, 1, "49"): (3.18442, 3.5482), (3424, 1, "30"): (3.32193, 3.93025),
        (3424, 4, "04"): (5.64386, 5.55495), (3424, 4, "80"): (5.05889, 5.28182),
    }
    got = {(e["n_params"], e["r"], e["secret"]): [e["exposure"], e["exposure_extrapolated"]] for e in m["exposure_runs"]}
    assert sorted(got) == sorted(golden)
    for key, values in golden.items():
        assert got[key] == pytest.approx(list(values), rel=1e-5), key
    assert [e["r"] for e in m["exposure"]] == [0, 1, 4]
    assert [e["exposure"] for e in m["exposure"]] == pytest.approx([0.66896, 3.22179, 5.35137], rel=1e-5)
    assert m["exposure_extrapolation_error"] == pytest.approx(0.201234, rel=1e-5)
    # generate-and-rank: 48 distinct samples, none holding 8 training tokens in a row
    g = m["generate_and_rank"]
    assert [g[k] for k in ("n_samples", "n_unique", "n_canary_template", "model_params", "small_params")] == \
        [48, 48, 0, 3424, 1520]
    for subset in ("precision_at_top", "precision_at_top_natural"):
        assert {k: [v["precision_rate"], v["precision_n"]] for k, v in g[subset].items()} == \
            {"perplexity": [0.0, 10], "zlib_ratio": [0.0, 10], "small_model_ratio": [0.0, 10],
             "lowercase_ratio": [0.0, 10], "random (base rate)": [0.0, 48]}
    assert m["rarity"]["n"] == 0  # no (model size, r) cell with mixed outcomes at smoke
    assert "0.7 bits at r = 0" in words.answer(m)
    for name in ("k", "duplication", "exposure", "rank", "rarity"):
        assert figure(f"04_extraction_{name}") > 10_000


def test_data_diet_smoke_run_writes_metrics(tmp_path):
    m = smoke("06_data_diet", tmp_path)
    assert m["scale"] == "smoke" and m["dataset"] == "digits" and m["n_train"] == 1438 and m["n_test"] == 359
    for key in ("prune_curves", "prune_curves_noisy"):
        rows = m[key]
        assert {(r["keep"], r["frac_kept"]) for r in rows} >= {("highest", 0.3), ("random", 0.7), ("lowest", 0.3), ("all", 1.0)}
        assert len({r["seed"] for r in rows}) == 2 and len(rows) == 2 * (1 + 2 * 5)  # seeds x (all + fracs x 5 ways)
        assert all(set(r) == {"score", "keep", "frac_kept", "seed", "test_acc"} for r in rows)
    assert {(r["offset"], r["seed"]) for r in m["offset"]} == {(o, s) for o in (0.0, 0.1) for s in (0, 1)}
    assert all(set(r) >= {"offset", "frac_kept", "test_acc"} for r in m["offset"])
    # golden values of the smoke run (deterministic on CPU), as the pre-refactor code measured them
    approx = dict(rel=1e-6)
    assert m["full_data_test_acc"] == pytest.approx({"mean": 0.908078, "std": 0.00787863, "seeds": 2}, **approx)
    hardest = {(r["score"], r["seed"]): r["test_acc"] for r in m["prune_curves"] if r["keep"] == "highest" and r["frac_kept"] == 0.3}
    assert hardest[("el2n", 0)] == pytest.approx(0.445682, **approx) and hardest[("grand", 0)] == pytest.approx(0.793872, **approx)
    assert m["noise_detection_auroc"] == pytest.approx({"el2n": 0.989111, "grand": 0.932482, "mem": 0.492586}, **approx)
    assert [r["test_acc"] for r in m["offset"]] == pytest.approx([0.821727, 0.824513, 0.874652, 0.866295], **approx)
    mem = m["memorization"]
    assert mem["n_models"] == 12 and mem["n_out_min"] == 0 and mem["n_out_median"] == 4.0
    assert [mem[k] for k in ("spearman_with_el2n", "spearman_with_grand", "mean", "noisy_mean_flipped")] == \
        pytest.approx([0.0691763, 0.0768202, 0.00948374, 0.00154321], **approx)
    assert len(m["rank_correlations"]) == 2 * 3 and m["rank_correlations"][0]["rho"] == pytest.approx(0.699255, **approx)
    assert m["training"]["wall_s"] > 0
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
    assert len(list((tmp_path / "explore/smoke/figures").glob("01_capacity_*.png"))) == 5  # curves, scaling, steps, vocab, tied
    nb = json.loads(out.read_text())
    shown = [sum("image/png" in o.get("data", {}) for o in c["outputs"]) for c in _plot_cells(nb)]
    assert shown.count(1) == 5 and set(shown) <= {0, 1}, shown  # five figures at smoke, each shown once
    said = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "explore/smoke/" in said and "only `dvc repro` writes the tracked" in said


def build_machine_paths(executed: bool) -> list[str]:
    """Absolute paths of a build machine (this checkout's root, a virtualenv or site-packages) in committed text
    files: those of notebooks/executed/ (executed=True) or all the others."""
    import subprocess
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pattern = re.compile("|".join([re.escape(str(ROOT)), r"/[\w.-]+(?:/[\w.-]+)*/(?:\.venv|site-packages)/"]))
    hits = []
    for f in files:
        p = ROOT / f
        if p.suffix in {".png", ".npy", ".safetensors"} or not p.is_file() or f.startswith("notebooks/executed/") != executed:
            continue
        hits += [f"{f}: {m.group(0)}" for m in pattern.finditer(p.read_text(errors="ignore"))]
    return hits


def test_no_committed_file_holds_a_build_machine_path():
    assert not build_machine_paths(executed=False), build_machine_paths(executed=False)[:10]


def test_no_executed_notebook_holds_a_build_machine_path():
    assert not build_machine_paths(executed=True), build_machine_paths(executed=True)[:10]


def kernels(books) -> set:
    specs = [json.loads(nb.read_text())["metadata"]["kernelspec"] for nb in books]
    return {(k["name"], k["display_name"]) for k in specs}


def test_every_notebook_names_the_project_kernel():
    assert kernels(NOTEBOOKS) == {("python3", "memlib (Python 3)")}


EXECUTED = sorted((ROOT / "notebooks" / "executed").glob("*.ipynb"))


def test_every_executed_notebook_names_the_project_kernel():
    assert kernels(EXECUTED) == {("python3", "memlib (Python 3)")}


@pytest.mark.parametrize("nb", EXECUTED, ids=lambda p: p.stem)
def test_executed_notebook_shows_every_figure_and_no_warning(nb):
    """The committed executed copies (what JupyterLab and a reader open) carry each plot cell's figure as an
    image/png output and no stderr box (warnings, progress bars)."""
    book = json.loads(nb.read_text())
    plots_ = _plot_cells(book)
    assert plots_, "no plot cell"
    without = [i for i, c in enumerate(book["cells"]) if c in plots_ and not _has_image(c)
               and "if " not in "".join(c["source"])]  # a guarded plot (e.g. `if ablation:`) may draw nothing
    assert not without, f"plot cells without a figure: {without}"
    assert sum(map(_has_image, plots_)) >= 1
    noise = [(i, "".join(o.get("text", ""))[:120]) for i, c in enumerate(book["cells"])
             for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert not noise, noise


# the GPU stage's file predates stop information (its "saturated" meant only that the plateau rule fired);
# notebook 01's words call its result a lower bound for that reason (report.capacity.paper_point_saturation)
STOPS_EXEMPT = {"01_capacity_paper_point": "GPU stage, trained before stop information was recorded"}


def test_every_committed_metrics_file_says_how_its_runs_stopped():
    """Each notebook's committed metrics carry `stops`: counts by reason and saturation, and per run its stop
    reason and gain over the last doubling of steps (issue: a run's result depends on its config alone)."""
    files = sorted(p for p in (ROOT / "metrics").glob("*.json") if p.stem not in STOPS_EXEMPT)
    assert len(files) >= 9, files  # 01, its ablation, 02 ... 08
    for p in files:
        st = json.loads(p.read_text()).get("stops")
        assert st is not None, f"{p.name} has no stops block: rerun its stage (dvc repro -s ...)"
        assert st["n_runs"] == len(st["runs"]) > 0, p.name
        assert st["n_saturated"] + st["n_unsaturated"] + st["n_unknown"] == st["n_runs"], p.name
        assert sum(st["by_reason"].values()) == st["n_runs"], p.name
        for r in st["runs"]:
            assert r["stop_reason"] in ("plateau", "max_steps", "steps", "target", "untrained"), (p.name, r)
            assert "gain_last_doubling" in r and r["saturated"] in (True, False, None), (p.name, r)

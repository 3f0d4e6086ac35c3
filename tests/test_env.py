"""environment.yml and requirements.txt list the same packages with the same pins."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_mirrors_requirements():
    req = [l.split("#")[0].strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    req = sorted(r for r in req if r)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip) == req
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", r) for r in req), "every requirement is pinned"
    assert "python=3.11" in env["dependencies"]

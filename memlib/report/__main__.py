"""python -m memlib.report [README]: rewrite the README's results table and each notebook's title-cell answer from
the tracked metrics/ (a changed notebook then needs `dvc repro` for its executed copy)."""
import sys
from pathlib import Path

from memlib import paths
from memlib.report import update_readme, update_titles

update_readme(Path(sys.argv[1]) if len(sys.argv) > 1 else paths.ROOT / "README.md")
changed = update_titles()
print("title answers rewritten:", ", ".join(changed) or "none")

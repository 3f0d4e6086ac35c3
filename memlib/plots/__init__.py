"""Figures: one style, saved to figures/NN_topic_*.png and shown once in the notebook; each notebook's figures
live in memlib/plots/<topic>.py (so a change to one makes only its own stage stale).

The backend is matplotlib's own choice (inline in Jupyter); only a process with no display and no backend set
gets the headless Agg, so DVC stages and tests stay headless while JupyterLab shows every figure.
"""
from __future__ import annotations

import io
import os
import sys

import matplotlib

if not os.environ.get("MPLBACKEND") and not os.environ.get("DISPLAY") and "ipykernel" not in sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from memlib import paths  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")


def save(fig, name: str) -> None:
    """Write <paths.figures_dir()>/<name>.png (name like '01_capacity_curves'), close the figure, and show that
    PNG once in the notebook (as an image/png output, which executed notebooks keep); nothing to display
    outside IPython."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    d = paths.figures_dir()
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.png").write_bytes(buf.getvalue())
    if "IPython" in sys.modules:
        from IPython import get_ipython
        from IPython.display import Image, display
        if get_ipython() is not None:
            display(Image(data=buf.getvalue(), format="png"))

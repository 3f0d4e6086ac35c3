#!/usr/bin/env python3
"""Real-browser check of an executed notebook in JupyterLab (``make browser-check``).

Starts a private, headless ``jupyter lab`` on 127.0.0.1 (random token, Jupyter/IPython dirs under
``<repo>/.cache``), opens the notebook in headless Chromium through selenium and checks that

  (a) every image/png output of the .ipynb file is rendered as a decoded <img> (naturalWidth > 0)
      inside an output area; a file without any image/png output fails with a clear message;
  (b) the kernel runs a cell typed through the UI: select the last cell, press ``b`` in command
      mode, type ``print(6*7)``, Shift+Enter, and ``42`` must appear in that cell's output.

On success a screenshot goes to ``.cache/browser_check/notebook.png``, on failure to
``.cache/browser_check/failure.png`` together with what the page showed. The server (and its
kernels) is always stopped at the end. Nothing is saved to the notebook (autosave is off; the
file's hash is compared before and after; checkpoints go to .cache/browser_check/checkpoints). Chromium is confined to 127.0.0.1 (dead proxy for
everything else, no background networking).

Needs the Debian packages ``chromium`` and ``chromium-driver`` (/usr/bin/chromedriver) and
``selenium`` (requirements-dev.txt). Run it with the project's venv:

    .venv/bin/python scripts/browser_check.py [NOTEBOOK] [--port N] [--timeout S] [--root DIR]

NOTEBOOK is relative to the repo root (default notebooks/executed/01_capacity.ipynb) or absolute;
it has to lie under the server root (--root, default the repo root). Exit status: 0 all checks
passed, 1 a check failed, 2 the check could not be set up (missing notebook/browser/driver, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOK = "notebooks/executed/01_capacity.ipynb"
OUT_DIR = REPO / ".cache" / "browser_check"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
KERNEL_NAME = "python3"
KERNEL_DISPLAY_NAME = "memlib (Python 3)"
CELL_SOURCE = "print(6*7)"
CELL_EXPECT = "42"

# Only ever talk to 127.0.0.1: a direct opener that ignores any *_proxy variables.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SetupError(Exception):
    """The check could not be run at all (exit 2)."""


class CheckFailed(Exception):
    """A check ran and failed (exit 1)."""


def log(msg: str) -> None:
    print(f"[browser-check] {msg}", flush=True)


# --------------------------------------------------------------------------------------------- notebook


def count_png_outputs(nb_path: Path) -> tuple[int, int]:
    """(number of cells, number of image/png outputs) in an .ipynb file."""
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SetupError(f"cannot read notebook {nb_path}: {err}") from err
    cells = nb.get("cells", [])
    n_png = 0
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result") and "image/png" in out.get("data", {}):
                n_png += 1
    return len(cells), n_png


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def lab_settings(user_settings: Path) -> None:
    """Fresh JupyterLab user settings for this run: no autosave, no news/update checks, all cells in the DOM."""
    if user_settings.exists():
        shutil.rmtree(user_settings)
    write_json(user_settings / "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings", {"autosave": False})
    write_json(
        user_settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    write_json(
        user_settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"}
    )
    write_json(
        user_settings / "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings", {"enabled": False}
    )


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    cache = REPO / ".cache"
    env.update(
        {
            # as the Makefile does: tool caches stay in the project, not in $HOME
            "MPLCONFIGDIR": str(cache / "matplotlib"),
            "IPYTHONDIR": str(cache / "ipython"),
            "JUPYTER_CONFIG_DIR": str(cache / "jupyter" / "config"),
            "JUPYTER_DATA_DIR": str(cache / "jupyter" / "data"),
            "JUPYTER_RUNTIME_DIR": str(cache / "jupyter" / "runtime"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    # the project kernel (python3, "memlib (Python 3)") lives in the venv prefix: keep it on the path
    # even though JUPYTER_DATA_DIR points into .cache
    share = []
    for prefix in (Path(sys.prefix), REPO / ".venv"):
        p = prefix / "share" / "jupyter"
        if p.is_dir() and str(p) not in share:
            share.append(str(p))
    old = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p and p not in share]
    env["JUPYTER_PATH"] = os.pathsep.join(share + old)
    for var in ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        Path(env[var]).mkdir(parents=True, exist_ok=True)
    return env


class LabServer:
    def __init__(self, root: Path, port: int, allow_hidden: bool, timeout: float):
        self.root, self.port, self.timeout = root, port, timeout
        self.token = secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = OUT_DIR / "server.log"
        lab = OUT_DIR / "lab"
        lab_settings(lab / "user-settings")
        if (OUT_DIR / "checkpoints").exists():
            shutil.rmtree(OUT_DIR / "checkpoints")
        if (lab / "workspaces").exists():
            shutil.rmtree(lab / "workspaces")
        (lab / "workspaces").mkdir(parents=True)
        self.cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.terminals_enabled=False",
            f"--LabApp.user_settings_dir={lab / 'user-settings'}",
            f"--LabApp.workspaces_dir={lab / 'workspaces'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            # opening a notebook makes a checkpoint: keep it out of the tree (.ipynb_checkpoints/ next to it)
            f"--FileCheckpoints.checkpoint_dir={OUT_DIR / 'checkpoints'}",
        ]  # fmt: skip
        if allow_hidden:  # the notebook sits in a dot-folder (e.g. .cache/): let the contents API serve it
            self.cmd.append("--ContentsManager.allow_hidden=True")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self.cmd.append("--allow-root")
        self.proc: subprocess.Popen | None = None
        self._log = None

    def api(self, path: str, method: str = "GET", timeout: float = 5.0):
        req = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with _LOCAL.open(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def start(self) -> None:
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            self.cmd, cwd=self.root, env=server_env(), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(f"jupyter lab exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("/api/status", timeout=2)
                return
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.5)
        raise SetupError(f"jupyter lab did not answer on {self.base} within {self.timeout:.0f} s:\n{self.log_tail()}")

    def kernel_states(self, rel: str) -> list[str]:
        """execution_state of the kernel(s) of the sessions open on `rel` (server view)."""
        try:
            return [
                s["kernel"].get("execution_state", "?")
                for s in self.api("/api/sessions")
                if s.get("path") == rel and s.get("kernel")
            ]
        except (urllib.error.URLError, OSError, ValueError):
            return []

    def log_tail(self, n: int = 25) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join("    " + line for line in lines[-n:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:  # shut the kernels down cleanly, then the server
                for k in self.api("/api/kernels") or []:
                    try:
                        self.api(f"/api/kernels/{k['id']}", method="DELETE", timeout=10)
                    except (urllib.error.URLError, OSError, ValueError):
                        pass
                self.api("/api/shutdown", method="POST", timeout=10)
            except (urllib.error.URLError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(self.proc.pid, sig)  # the session this script created for the server
                    except ProcessLookupError:
                        break
                    try:
                        self.proc.wait(timeout=10)
                        break
                    except subprocess.TimeoutExpired:
                        continue
        if self._log:
            self._log.close()
        self.proc = None


# ---------------------------------------------------------------------------------------------- browser

JS_STATE = """
const q = (s, el) => Array.from((el || document).querySelectorAll(s));
const cells = q('.jp-Notebook .jp-Cell');
const imgs = Array.from(new Set(q('.jp-OutputArea-output img, .jp-RenderedImage img')));
return {
  title: document.title,
  cells: cells.length,
  imgs: imgs.length,
  kernel: q('.jp-Notebook-ExecutionIndicator').map(e => e.getAttribute('data-status')),
  kernelName: q('.jp-KernelName').map(e => e.textContent.trim()),
  dialogs: q('.jp-Dialog').map(e => e.innerText.trim().slice(0, 400)),
  spinner: q('.jp-Spinner').length,
};
"""

JS_DECODE = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(new Set(document.querySelectorAll('.jp-OutputArea-output img, .jp-RenderedImage img')));
Promise.all(imgs.map(img => (img.decode ? img.decode() : Promise.resolve()).then(() => '', e => String(e))))
  .then(errs => done(imgs.map((img, i) => ({
    w: img.naturalWidth, h: img.naturalHeight, complete: img.complete, err: errs[i],
    src: (img.getAttribute('src') || '').slice(0, 30),
  }))));
"""

JS_CELL = """
const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[arguments[0]];
if (!cell) return null;
const src = cell.querySelector('.cm-content');
return {
  active: cell.classList.contains('jp-mod-active'),
  source: src ? src.innerText : null,
  prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
  output: Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(e => e.innerText).join('\\n'),
};
"""


def find_chromium() -> str:
    for c in CHROMIUM_CANDIDATES:
        if os.access(c, os.X_OK):
            return c
    raise SetupError("Chromium not found: apt-get install -y chromium chromium-driver")


def make_driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise SetupError(f"selenium is not installed ({err}): .venv/bin/pip install -r requirements-dev.txt") from err
    if not os.access(CHROMEDRIVER, os.X_OK):
        raise SetupError(f"{CHROMEDRIVER} not found: apt-get install -y chromium chromium-driver")
    os.environ.setdefault("SE_AVOID_STATS", "true")  # in case Selenium Manager ever runs: no telemetry
    profile = OUT_DIR / "chromium-profile"
    if profile.exists():
        shutil.rmtree(profile, ignore_errors=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = find_chromium()
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
        f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check", "--disable-gpu",
        # never reach anything but 127.0.0.1: everything else goes to a dead proxy and does not resolve
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
        "--disable-client-side-phishing-detection", "--no-pings", "--metrics-recording-only",
        "--disable-breakpad", "--disable-features=Translate,MediaRouter,OptimizationHints",
    ):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(OUT_DIR / "chromedriver.log"))
    try:
        return webdriver.Chrome(service=service, options=opts)
    except Exception as err:  # noqa: BLE001 - report any startup failure plainly
        raise SetupError(f"could not start headless Chromium: {err}") from err


def wait_for(pred, timeout: float, step: float = 0.5):
    """Poll pred() until it returns a truthy value or `timeout` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    val = None
    while True:
        try:
            val = pred()
        except Exception:  # noqa: BLE001 - page in flux (stale element, navigation)
            val = None
        if val or time.monotonic() >= deadline:
            return val
        time.sleep(step)


class Check:
    def __init__(self, args, nb_path: Path, rel: str, n_cells: int, n_png: int):
        self.args, self.nb_path, self.rel = args, nb_path, rel
        self.n_cells, self.n_png = n_cells, n_png
        self.rendered: int | None = None
        self.decoded: int | None = None
        self.cell_ran = False
        self.failures: list[str] = []
        self.driver = None

    def state(self) -> dict:
        return self.driver.execute_script(JS_STATE)

    def open_notebook(self, server: LabServer) -> None:
        quoted = "/".join(urllib.parse.quote(p) for p in self.rel.split("/"))
        url = f"{server.base}/lab/tree/{quoted}?token={server.token}"
        log(f"opening {server.base}/lab/tree/{quoted}?token=…")
        self.driver.set_page_load_timeout(self.args.timeout)
        self.driver.set_script_timeout(self.args.timeout)
        self.driver.get(url)

        def rendered():
            st = self.state()
            if st["dialogs"]:
                return st  # e.g. "Select Kernel" / "File Load Error": stop waiting, report it
            return st if st["cells"] >= max(self.n_cells, 1) and not st["spinner"] else None

        st = wait_for(rendered, self.args.timeout)
        if not st:
            raise CheckFailed(f"the notebook did not render within {self.args.timeout:.0f} s")
        if st["dialogs"]:
            raise CheckFailed("JupyterLab shows a dialog instead of the notebook:\n    " + "\n    ".join(st["dialogs"]))
        log(f"notebook rendered: {st['cells']} cells (file: {self.n_cells})")

    def check_images(self) -> None:
        # outputs render asynchronously: give them time to reach the expected count
        wait_for(lambda: self.state()["imgs"] >= self.n_png, min(self.args.timeout, 30) if self.n_png else 3)
        info = self.driver.execute_async_script(JS_DECODE)
        self.rendered = len(info)
        self.decoded = sum(1 for i in info if i["w"] > 0)
        bad = [i for i in info if i["w"] <= 0]
        if self.n_png == 0:
            self.failures.append(
                f"(a) {self.rel} has no image/png outputs at all, so there is nothing to check the rendering "
                "of; execute the notebook so that its figures are stored as image/png outputs"
            )
        elif self.rendered < self.n_png:
            self.failures.append(
                f"(a) {self.rendered} <img> in the output areas, but the file has {self.n_png} image/png outputs"
            )
        if bad:
            self.failures.append(
                f"(a) {len(bad)} of {self.rendered} images did not decode (naturalWidth 0): "
                + "; ".join(f"complete={i['complete']} err={i['err'] or '-'} src={i['src']}…" for i in bad[:5])
            )
        sizes = ", ".join(f"{i['w']}x{i['h']}" for i in info[:8]) + (" …" if len(info) > 8 else "")
        log(f"images: {self.n_png} image/png in file, {self.rendered} <img> rendered, {self.decoded} decoded ({sizes or 'none'})")

    def wait_kernel_idle(self, server: LabServer) -> None:
        def idle():
            st = self.state()
            if st["dialogs"]:
                return st
            return st if "idle" in st["kernel"] and "idle" in server.kernel_states(self.rel) else None

        st = wait_for(idle, self.args.timeout)
        if not st:
            st = self.state()
            raise CheckFailed(
                f"(b) the kernel was not idle within {self.args.timeout:.0f} s "
                f"(page: {st['kernel']}, server: {server.kernel_states(self.rel)}, kernel shown: {st['kernelName']})"
            )
        if st["dialogs"]:
            raise CheckFailed("(b) JupyterLab shows a dialog:\n    " + "\n    ".join(st["dialogs"]))
        log(f"kernel idle ({', '.join(st['kernelName']) or '?'})")

    def run_cell(self, server: LabServer) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.wait_kernel_idle(server)
        drv = self.driver
        n0 = self.state()["cells"]
        last = drv.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[-1]
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'});", last)
        target = last.find_elements(By.CSS_SELECTOR, ".jp-InputPrompt") or [last]
        ActionChains(drv).move_to_element(target[0]).click().perform()  # select the last cell
        ActionChains(drv).send_keys(Keys.ESCAPE).perform()  # command mode
        ActionChains(drv).send_keys("b").perform()  # insert a cell below
        if not wait_for(lambda: self.state()["cells"] > n0, 10):
            # keyboard focus went elsewhere: fall back on the toolbar button
            btn = drv.find_elements(By.CSS_SELECTOR, '[data-command="notebook:insert-cell-below"]')
            if not btn:
                raise CheckFailed("(b) pressing 'b' on the last cell did not insert a cell (and no toolbar button)")
            log("'b' did not insert a cell; using the toolbar's insert button")
            btn[0].click()
            if not wait_for(lambda: self.state()["cells"] > n0, 10):
                raise CheckFailed("(b) could not insert a new cell below the last one")
        idx = n0  # the new cell sits right below the old last one
        cell = wait_for(lambda: (c := drv.execute_script(JS_CELL, idx)) and c["active"] and c, 10)
        if not cell:
            raise CheckFailed(f"(b) the new cell (#{idx + 1}) is not the active cell")
        ActionChains(drv).send_keys(Keys.ENTER).perform()  # edit mode
        time.sleep(0.3)
        ActionChains(drv).send_keys(CELL_SOURCE).perform()
        src = wait_for(lambda: (s := drv.execute_script(JS_CELL, idx)["source"]) and s.strip() == CELL_SOURCE and s, 5)
        if not src:
            got = drv.execute_script(JS_CELL, idx)["source"]
            raise CheckFailed(f"(b) typing into the new cell gave {got!r}, expected {CELL_SOURCE!r}")
        ActionChains(drv).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        log(f"typed {CELL_SOURCE!r} into new cell #{idx + 1} and pressed Shift+Enter")

        def ran():
            c = drv.execute_script(JS_CELL, idx)
            return c if CELL_EXPECT in c["output"].split() else None

        c = wait_for(ran, self.args.timeout)
        if not c:
            c = drv.execute_script(JS_CELL, idx) or {}
            raise CheckFailed(
                f"(b) {CELL_EXPECT!r} did not appear in the new cell's output within {self.args.timeout:.0f} s "
                f"(prompt {c.get('prompt', '')!r}, output {c.get('output', '')[:300]!r}, "
                f"kernel {self.state()['kernel']})"
            )
        self.cell_ran = True
        drv.execute_script(
            "arguments[0].scrollIntoView({block: 'end'});",
            drv.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[idx],
        )
        log(f"cell ran: prompt {c['prompt'].strip()!r}, output {c['output'].strip()!r}")

    def diagnose(self, server: LabServer) -> None:
        """Print what the browser saw (after a failure)."""
        print("---- what the browser saw ----", flush=True)
        try:
            st = self.state()
            print(f"  url: {self.driver.current_url.split('?')[0]}")
            print(f"  title: {st['title']!r}; cells: {st['cells']}; <img> in outputs: {st['imgs']}")
            print(f"  kernel indicator: {st['kernel']}; kernel shown: {st['kernelName']}; "
                  f"server kernel state: {server.kernel_states(self.rel)}")  # fmt: skip
            for d in st["dialogs"]:
                print(f"  dialog: {d!r}")
            for i in range(max(0, st["cells"] - 2), st["cells"]):
                c = self.driver.execute_script(JS_CELL, i) or {}
                print(f"  cell #{i + 1}: prompt {c.get('prompt', '')!r} source {(c.get('source') or '')[:120]!r} "
                      f"output {(c.get('output') or '')[:200]!r}")  # fmt: skip
            errors = [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]
            for e in errors[-10:]:
                print(f"  console {e['level']}: {e['message'][:300]}")
        except Exception as err:  # noqa: BLE001
            print(f"  (could not inspect the page: {err})")
        print(f"  server log ({server.log_path}), last lines:\n{server.log_tail(15)}")
        print("------------------------------", flush=True)


# ------------------------------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook", nargs="?", default=DEFAULT_NOTEBOOK,
                   help=f"executed notebook, relative to the repo root or absolute (default {DEFAULT_NOTEBOOK})")
    p.add_argument("--port", type=int, default=0, help="port for jupyter lab on 127.0.0.1 (default: a free one)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds to wait for each step: server start, render, kernel idle, cell output (default 120)")
    p.add_argument("--root", default=str(REPO), help="server root (default: the repo root); must contain the notebook")
    return p.parse_args(argv)  # fmt: skip


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    root = Path(args.root).expanduser().resolve()
    nb = Path(args.notebook).expanduser()
    nb_path = (nb if nb.is_absolute() else REPO / nb).resolve()
    if not nb_path.is_file():
        log(f"ERROR: notebook not found: {nb_path}")
        return 2
    try:
        rel = nb_path.relative_to(root).as_posix()
    except ValueError:
        log(f"ERROR: {nb_path} is not under the server root {root}; pass --root")
        return 2
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in ("notebook.png", "failure.png"):
        (OUT_DIR / old).unlink(missing_ok=True)
    n_cells, n_png = count_png_outputs(nb_path)
    digest = sha256(nb_path)
    port = args.port or free_port()
    hidden = any(part.startswith(".") for part in Path(rel).parts[:-1])
    server = LabServer(root, port, allow_hidden=hidden, timeout=args.timeout)
    check = Check(args, nb_path, rel, n_cells, n_png)

    # SIGTERM/SIGHUP (e.g. make killed) must still stop the server: turn them into an exception
    def _bail(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _bail)

    status, error = 0, None
    try:
        log(f"starting jupyter lab on 127.0.0.1:{port} (root {root})")
        server.start()
        specs = server.api("/api/kernelspecs").get("kernelspecs", {})
        if KERNEL_NAME not in specs:
            raise SetupError(f"kernel {KERNEL_NAME!r} not found by the server (has: {sorted(specs)})")
        shown = specs[KERNEL_NAME]["spec"].get("display_name")
        log(f"server up in {time.monotonic() - t0:.1f} s; kernel {KERNEL_NAME!r} = {shown!r}"
            + ("" if shown == KERNEL_DISPLAY_NAME else f" (expected {KERNEL_DISPLAY_NAME!r})"))  # fmt: skip
        check.driver = make_driver()
        check.open_notebook(server)
        check.check_images()
        try:
            check.run_cell(server)
        except CheckFailed as err:
            check.failures.append(str(err))
        if check.failures:
            raise CheckFailed("\n".join(check.failures))
        check.driver.save_screenshot(str(OUT_DIR / "notebook.png"))
    except CheckFailed as err:
        status, error = 1, err
        if str(err) != "\n".join(check.failures):  # raised by a step, not the summary of the failures
            check.failures.append(str(err))
    except SetupError as err:
        status, error = 2, err
    except KeyboardInterrupt as err:
        status, error = 130, f"interrupted ({err})"
    except Exception as err:  # noqa: BLE001 - selenium/webdriver errors: report, screenshot, clean up
        status, error = 1, f"{type(err).__name__}: {err}"
        check.failures.append(str(error))
    finally:
        if status and check.driver is not None:
            try:
                check.driver.save_screenshot(str(OUT_DIR / "failure.png"))
            except Exception:  # noqa: BLE001
                pass
            check.diagnose(server)
        if check.driver is not None:
            try:
                check.driver.quit()
            except Exception:  # noqa: BLE001
                pass
        server.stop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)

    if nb_path.is_file() and sha256(nb_path) != digest:
        check.failures.append(
            f"{rel} changed on disk during the check: another process wrote it (e.g. papermill still running), "
            "or JupyterLab saved it (it must not)"
        )
        status = status or 1

    print(f"notebook:         {rel}")
    print(f"images in file:   {n_png}")
    print(f"images rendered:  {check.rendered if check.rendered is not None else '-'}"
          + (f" ({check.decoded} decoded)" if check.decoded is not None else ""))  # fmt: skip
    print(f"cell ran:         {'yes' if check.cell_ran else 'no'}")
    print(f"time:             {time.monotonic() - t0:.1f} s")
    if status == 0:
        print(f"screenshot:       {(OUT_DIR / 'notebook.png').relative_to(REPO)}")
        print("browser check: PASSED")
    else:
        if (OUT_DIR / "failure.png").exists():
            print(f"screenshot:       {(OUT_DIR / 'failure.png').relative_to(REPO)}")
        if status == 2 or not check.failures:
            print(f"ERROR: {error}")
        for f in check.failures:
            print(f"FAILED: {f}")
        print("browser check: FAILED")
    return status


if __name__ == "__main__":
    sys.exit(main())

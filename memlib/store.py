"""The run store: finished runs on disk, named by the hash of their config.

Layout: `runs/<run_id>/` holds `config.json`, `weights.safetensors`, `metrics.json`, optional extra
tensor files (`<name>.safetensors`, e.g. the optimizer state) and, written last, `manifest.json`
with the sha256 of each file; per-example evaluations of a run are cached beside it in `eval/`.
A run is finished when its manifest exists
and every hash matches; a truncated or altered file is reported with its path, moved aside and
recomputed, never loaded. Every write is atomic (temp file + rename). A claim file per run lets
two processes share one sweep without training the same run twice.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
import warnings
from pathlib import Path

from safetensors.torch import load_file, save_file

from memlib import paths

FILES = ("config.json", "weights.safetensors", "metrics.json")
CLAIM_STALE_S = 1800  # a claim its trainer has not refreshed (heartbeat) for this long is abandoned


class CorruptRunWarning(UserWarning):
    pass


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), fsync, then rename over `path`: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    atomic_write(Path(path), lambda t: Path(t).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n"))


def save_tensors(path: Path, tensors: dict) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(Path(path), lambda t: save_file(tensors, str(t)))


class RunStore:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root or paths.RUNS)

    def dir(self, run_id: str) -> Path:
        return self.root / run_id

    def save(self, run_id: str, config: dict, weights: dict, metrics: dict, extra: dict | None = None) -> None:
        """Write a finished run; `extra` maps names to further tensor dicts (`<name>.safetensors`)."""
        d = self.dir(run_id)
        write_json(d / "config.json", config)
        save_tensors(d / "weights.safetensors", weights)
        write_json(d / "metrics.json", metrics)
        files = list(FILES)
        for name, tensors in (extra or {}).items():
            save_tensors(d / f"{name}.safetensors", tensors)
            files.append(f"{name}.safetensors")
        write_json(d / "manifest.json", {f: sha256(d / f) for f in files})
        self.drop_checkpoint(run_id)

    def _verified(self, run_id: str) -> bool:
        d = self.dir(run_id)
        try:
            manifest = json.loads((d / "manifest.json").read_text())
        except FileNotFoundError:
            return False
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._quarantine(d, "manifest.json is not valid JSON")
        for f in sorted(set(FILES) | set(manifest)):
            if not (d / f).exists():
                return self._quarantine(d, f"{f} is missing")
            if sha256(d / f) != manifest.get(f):
                return self._quarantine(d, f"{f} does not match the hash recorded when it was written")
        return True

    def _quarantine(self, d: Path, why: str) -> bool:
        dest = d.with_name(f"{d.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        warnings.warn(f"corrupt run {d}: {why}; moved to {dest} and it will be recomputed",
                      CorruptRunWarning, stacklevel=3)
        shutil.move(str(d), str(dest))
        return False

    def done(self, run_id: str) -> bool:
        return self._verified(run_id)

    def load(self, run_id: str):
        """(weights, metrics) of a finished, verified run, or None if it must be (re)computed."""
        if not self._verified(run_id):
            return None
        d = self.dir(run_id)
        return load_file(str(d / "weights.safetensors")), json.loads((d / "metrics.json").read_text())

    def load_extra(self, run_id: str, name: str, verify: bool = True):
        """The tensors a finished run stored as `name` (see save), or None if it has none. verify=False
        skips hashing the run's files again when the caller has just loaded (and so verified) it."""
        d = self.dir(run_id)
        if (verify and not self._verified(run_id)) or not (d / f"{name}.safetensors").exists():
            return None
        return load_file(str(d / f"{name}.safetensors"))

    # --- cached per-example evaluations of finished runs -----------------------------------
    def save_eval(self, run_id: str, key: str, tensors: dict) -> None:
        d = self.dir(run_id) / "eval"
        save_tensors(d / f"{key}.safetensors", tensors)
        write_json(d / f"{key}.json", {"sha256": sha256(d / f"{key}.safetensors")})

    def load_eval(self, run_id: str, key: str):
        """A cached evaluation, or None (absent, or corrupt: then it is deleted and recomputed)."""
        d = self.dir(run_id) / "eval"
        try:
            ok = json.loads((d / f"{key}.json").read_text())["sha256"] == sha256(d / f"{key}.safetensors")
        except FileNotFoundError:
            return None
        except (KeyError, json.JSONDecodeError, UnicodeDecodeError):
            ok = False
        if not ok:
            warnings.warn(f"corrupt cached evaluation {d / key}: recomputing it", CorruptRunWarning, stacklevel=2)
            for f in (f"{key}.json", f"{key}.safetensors"):
                (d / f).unlink(missing_ok=True)
            return None
        return load_file(str(d / f"{key}.safetensors"))

    def load_metrics(self, run_id: str):
        out = self.load(run_id)
        return None if out is None else out[1]

    # --- claims: one trainer per run across processes -------------------------------------
    def claim(self, run_id: str) -> bool:
        """Atomically claim `run_id` for this process; False if a live process holds it."""
        d = self.dir(run_id)
        d.mkdir(parents=True, exist_ok=True)
        lock = d / "claim"
        me = f"{socket.gethostname()} {os.getpid()}"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, me.encode())
                os.close(fd)
                return True
            except FileExistsError:
                try:
                    owner = lock.read_text()
                except FileNotFoundError:
                    continue
                if owner == me:
                    return True
                if self.abandoned(run_id):
                    lock.unlink(missing_ok=True)  # its owner died (e.g. SIGKILL) or stopped: take it over
                    continue
                return False
        return False

    def abandoned(self, run_id: str) -> bool:
        """True if `run_id`'s claim has no live owner: a dead process on this host, or no heartbeat for
        CLAIM_STALE_S (its owner may have run on another machine, e.g. a cluster node that was stopped)."""
        lock = self.dir(run_id) / "claim"
        try:
            host, pid = lock.read_text().split()
            age = time.time() - lock.stat().st_mtime
        except (FileNotFoundError, ValueError):
            return False
        return (host == socket.gethostname() and not _alive(int(pid))) or age > CLAIM_STALE_S

    def heartbeat(self, run_id: str) -> None:
        """Refresh this process's claim on `run_id` (trainers call it at every evaluation)."""
        try:
            os.utime(self.dir(run_id) / "claim")
        except FileNotFoundError:
            pass

    def release(self, run_id: str) -> None:
        (self.dir(run_id) / "claim").unlink(missing_ok=True)

    # --- checkpoints of unfinished runs ---------------------------------------------------
    def save_checkpoint(self, run_id: str, tensors: dict, state: dict) -> None:
        d = self.dir(run_id)
        save_tensors(d / "ckpt.safetensors", tensors)
        state = {**state, "sha256": sha256(d / "ckpt.safetensors")}
        write_json(d / "ckpt.json", state)

    def load_checkpoint(self, run_id: str):
        d = self.dir(run_id)
        try:
            state = json.loads((d / "ckpt.json").read_text())
            if sha256(d / "ckpt.safetensors") != state["sha256"]:
                raise ValueError("checkpoint tensors do not match their recorded hash")
            return load_file(str(d / "ckpt.safetensors")), state
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, json.JSONDecodeError) as e:
            warnings.warn(f"ignoring corrupt checkpoint in {d}: {e}; training restarts", CorruptRunWarning)
            self.drop_checkpoint(run_id)
            return None

    def drop_checkpoint(self, run_id: str) -> None:
        for f in ("ckpt.safetensors", "ckpt.json"):
            (self.dir(run_id) / f).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

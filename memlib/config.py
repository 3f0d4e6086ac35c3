"""Typed, validated configs with named scales, and the content hash that names a run.

A config is a frozen dataclass. It validates on creation, so a bad value fails before any
work starts, with a message naming the field and the allowed values. A run's identity is a
hash of the fields that differ from their defaults (open_lth's convention): adding a field
with a default later changes no existing hash, so no finished run is orphaned.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

SCALES = ("smoke", "laptop", "paper")


class ConfigError(ValueError):
    """A parameter is invalid; the message names it and says what is allowed."""


def check(ok: bool, field: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"invalid {field}={value!r}: expected {allowed}")


def check_number(value, field: str, lo=None, hi=None, lo_open=False, integer=False) -> None:
    """Fail unless `value` is a finite number (an int if `integer`) within [lo, hi] (lo open if lo_open)."""
    kind = "an integer" if integer else "a number"
    rng = ("" if lo is None else f" {'>' if lo_open else '>='} {lo}") + ("" if hi is None else f" and <= {hi}")
    is_num = isinstance(value, int) if integer else isinstance(value, (int, float))
    ok = is_num and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (lo is None or (value > lo if lo_open else value >= lo)) and (hi is None or value <= hi)
    check(ok, field, value, kind + rng)


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every config: validation on creation, non-default fields, content hash."""

    def __post_init__(self):
        for f in dataclasses.fields(self):  # JSON/YAML give lists; configs hold tuples (hashable)
            v = getattr(self, f.name)
            if isinstance(v, list):
                object.__setattr__(self, f.name, tuple(v))
        self.validate()

    def validate(self) -> None:
        pass

    def non_default(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = dataclasses.MISSING  # a required field is always part of the identity
            if v != default:
                out[f.name] = v.to_dict() if isinstance(v, Config) else v
        return out

    def to_dict(self) -> dict:
        return {"type": type(self).__name__, **self.non_default()}

    def run_id(self) -> str:
        """16 hex digits of sha256 over the type name and the non-default fields."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def replace(self, **kw):
        return dataclasses.replace(self, **kw)

"""Onsets on a grid, censored, and the slope of an onset against size over intervals (notebook 02).

One seed's onset is the smallest grid point from which every larger point succeeded (`bracket`: the interval it lies
in, open where the grid ends); a size's onset is its seeds' median with their range (`width_onset`); how the onset
grows with size is the least-squares slope of log onset on log size, whose range over every size's interval is found
at the corners of the box of intervals (`slope_interval`), and a verdict on a predicted slope says "not settled at
this scale" when that range cannot decide (`onset_verdict`).
"""
from __future__ import annotations

import math

import numpy as np


def bracket(grid, generalized) -> tuple[float, float]:
    """(lo, hi]: where one seed's onset N*_s lies, N*_s = hi = the smallest grid n from which every larger grid point
    generalized. lo = 0: left-censored (every point generalized); hi = inf: right-censored (the largest did not)."""
    i = len(grid)
    while i > 0 and generalized[i - 1]:
        i -= 1
    if i == len(grid):
        return float(grid[-1]), math.inf
    return (0.0 if i == 0 else float(grid[i - 1])), float(grid[i])


def width_onset(brackets) -> dict:
    """A width's onset from its seeds' brackets: N* = the median seed's N*_s (the higher middle one for an even
    count), censored like it; the interval spans the lowest lower end to the highest upper end (a seed range:
    with 3 seeds it covers the median with probability 0.75, it is not a 95% interval). Open ends are None."""
    mid = sorted(brackets, key=lambda b: (b[1], b[0]))[len(brackets) // 2]
    lo, hi = min(b[0] for b in brackets), max(b[1] for b in brackets)
    fin = lambda x: None if x in (0, math.inf) else int(x)
    return {"n_star": fin(mid[1]), "ci_low": fin(lo), "ci_high": fin(hi),
            "censored": "right" if mid[1] == math.inf else "left" if mid[0] == 0 else None}


def slope_interval(params, lows, highs) -> tuple[float, float]:
    """The range of the least-squares slope of log y on log params over every y_i in [lows_i, highs_i]. The slope
    is linear in log y (sum of w_i log y_i, w_i = (x_i - mean x) / sum (x_j - mean x)^2), so its ends are box
    corners: an open end (0 or inf) where it matters makes that end of the slope infinite."""
    x = np.log(np.asarray(params, dtype=float))
    w = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    ends = []
    for upper in (False, True):
        total = 0.0
        for wi, lo, hi in zip(w, lows, highs):
            if wi == 0:
                continue
            v = hi if (wi > 0) == upper else lo
            if v <= 0 or v == math.inf:
                total = math.inf if upper else -math.inf
                break
            total += wi * math.log(v)
        ends.append(total)
    return ends[0], ends[1]


NOT_SETTLED = "not settled at this scale"


def open_upper(lo: float) -> str:
    """The verdict when slope 1 lies inside [lo, +inf) only because the upper end is open (a censored, capped or
    budget-unstable width): a bound from below, which does not test slope 1."""
    return f"slope > {lo:.2f}; slope 1 not tested (upper end open)"


def onset_verdict(lo, hi, n_widths: int, high_open: bool = False) -> str:
    """'inconsistent' with slope 1 (N* bits = alpha params) if 1 lies outside [lo, hi]; 'consistent' if it lies
    inside, 0 (an onset that does not grow with size) outside, and the upper end is finite and measured (not
    `high_open`: an end set by a cap such as the number of pairs that exist counts as open); with an open upper
    end, `open_upper(lo)`; else, or with fewer than 2 widths, not settled."""
    if n_widths < 2 or lo is None or hi is None:
        return NOT_SETTLED
    if not lo <= 1 <= hi:
        return "inconsistent"
    if lo <= 0 <= hi:
        return NOT_SETTLED
    return open_upper(lo) if high_open or hi == math.inf else "consistent"


def finite_slope_limit(grids, params) -> float:
    """The largest slope any box of finite grid ends can give: each width below the mean log size at its own grid's
    first point, each above at its last (label bits, two widths or more; `grids` one grid per width, or one grid
    for all). Below 1, 'consistent' cannot come from finite ends."""
    per = grids if grids and isinstance(grids[0], (list, tuple)) else [grids] * len(params)
    return float(slope_interval(params, [g[0] for g in per], [g[-1] for g in per])[1])

"""Uncertainty for the notebooks' numbers: binomial intervals for rates, bootstrap intervals for fitted slopes.

Every rate a notebook reports carries a Clopper–Pearson 95% interval; every log-linear slope a
bootstrap 95% interval, resampling independent units (e.g. a sequence in one seed's model) with
replacement within each level of the fitted variable, so every level stays in every resample.
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def rate_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """(rate, low, high): the Clopper–Pearson (exact) interval of a binomial rate; (nan, 0, 1) when n = 0."""
    if n == 0:
        return float("nan"), 0.0, 1.0
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="exact")
    return successes / n, float(ci.low), float(ci.high)


def loglinear_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y against log2(x): y's change per doubling of x."""
    lx = np.log2(np.asarray(x, float))
    if np.ptp(lx) == 0:
        return float("nan")
    return float(np.polyfit(lx, np.asarray(y, float), 1)[0])


def bootstrap_slope(levels: np.ndarray, outcomes: list[np.ndarray], n_boot: int = 2000, seed: int = 0,
                    level: float = 0.95) -> dict:
    """Slope of mean outcome against log2(level), with a bootstrap interval.

    levels (L,): the x values (e.g. repetitions r); outcomes: for each level, the outcomes (e.g. 0/1
    extracted) of its independent units. Each resample draws every level's units with replacement.
    """
    rng = np.random.default_rng(seed)
    means = np.array([o.mean() for o in outcomes])
    est = loglinear_slope(levels, means)
    boot = np.array([loglinear_slope(levels, [rng.choice(o, len(o)).mean() for o in outcomes]) for _ in range(n_boot)])
    a = (1 - level) / 2
    return {"slope": est, "ci_low": float(np.nanquantile(boot, a)), "ci_high": float(np.nanquantile(boot, 1 - a)),
            "levels": [float(v) for v in levels], "rates": [float(m) for m in means], "n_boot": n_boot}


def spearman_ci(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Spearman rank correlation of paired samples (non-finite pairs dropped) with a bootstrap (over pairs)
    percentile interval; resamples whose ranks are constant give no correlation and are skipped."""
    from memlib.config import check
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    check(len(a) >= 3, "scores", len(a), "at least 3 pairs with finite values in both")
    g = np.random.Generator(np.random.Philox(key=[seed, 43]))
    boot = [_rho(a[i], b[i]) for i in (g.integers(0, len(a), len(a)) for _ in range(n_boot))]
    lo, hi = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2]) if n_boot else (np.nan, np.nan)
    return {"rho": _rho(a, b), "ci_low": float(lo), "ci_high": float(hi), "n": int(len(a))}


def _rho(a, b) -> float:
    ra, rb = stats.rankdata(a), stats.rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])

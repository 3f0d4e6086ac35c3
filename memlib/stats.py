"""Uncertainty for the notebooks' numbers: binomial intervals for rates, bootstrap intervals for fitted slopes.

Every rate a notebook reports carries a Clopper–Pearson 95% interval; every log-linear slope a
bootstrap 95% interval, resampling independent units (e.g. a sequence in one seed's model) with
replacement within each level of the fitted variable, so every level stays in every resample.
"""
from __future__ import annotations

import warnings

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
    """Spearman rank correlation of paired samples with a bootstrap (over pairs) interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    rho = float(stats.spearmanr(a, b).statistic)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n_boot, len(a)))
    with warnings.catch_warnings():  # a resample of a few distinct values can be constant: its rho is nan, skipped
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        boot = np.array([stats.spearmanr(a[i], b[i]).statistic for i in idx])
    q = (1 - level) / 2
    return {"rho": rho, "ci_low": float(np.nanquantile(boot, q)), "ci_high": float(np.nanquantile(boot, 1 - q)),
            "n": len(a)}

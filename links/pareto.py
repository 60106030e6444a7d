"""Pareto fronts of (cost, fidelity) points and confidence intervals of means.

A configuration is on the **Pareto front** of a set when no other
configuration costs at most as much (channel uses per image) *and* is at
least as good, with one of the two strictly. The front is what a link
designer chooses from: every other configuration is beaten for free.
"""

from __future__ import annotations

import math

import numpy as np

# two-sided 95 % Student-t quantiles t_{0.975, df} for small df (exact to 3 decimals)
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228}
_Z975 = 1.959964


def t_quantile_975(df: int) -> float:
    """Student-t quantile ``t_{0.975, df}`` (two-sided 95 %).

    Exact table for ``df <= 10``; above, the Cornish-Fisher expansion around the
    normal quantile (error < 2e-4 for df > 10).
    """
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df!r}")
    if df in _T975:
        return _T975[df]
    z = _Z975
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def mean_ci95(values) -> tuple[float, float, float]:
    """Mean and two-sided 95 % confidence interval of a mean, from per-image values.

    :param values: [n] per-image metric values (NaN are dropped).
    :returns: ``(mean, low, high)``; with one value the interval is that value
        (no spread can be estimated); NaNs when there is no value.
    Notes: ``mean +- t_{0.975, n-1} * s / sqrt(n)`` with the sample standard
    deviation ``s`` (images treated as independent draws).
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1:
        return mean, mean, mean
    half = t_quantile_975(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return mean, mean - half, mean + half


def pareto_front(costs, values, higher_is_better: bool = True) -> list[int]:
    """Indices of the Pareto-optimal points, by increasing cost.

    :param costs: [n] costs (channel uses per image; lower is better).
    :param values: [n] fidelities (higher is better unless ``higher_is_better=False``).
    :returns: indices of the non-dominated points sorted by cost (ties in cost:
        only the best value survives; exact duplicates: the first index).
    NaN values are never on the front.
    """
    c = np.asarray(costs, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    if c.shape != v.shape:
        raise ValueError(f"costs and values must have the same length, got {c.size} and {v.size}")
    if not higher_is_better:
        v = -v
    ok = np.flatnonzero(~(np.isnan(c) | np.isnan(v)))
    # sort by cost, then best value first, then index: one sweep keeps the running best
    order = sorted(ok, key=lambda i: (c[i], -v[i], i))
    front, best = [], -math.inf
    for i in order:
        if v[i] > best:
            front.append(int(i))
            best = v[i]
    return front

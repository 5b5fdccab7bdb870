"""Calibration of survey weights to known population totals (Deville & Särndal 1992).

``calibration_factors`` is the pure function: base weights ``d``, a matrix of calibration
variables ``M`` (one row per record) and the population totals of the columns of ``M`` in,
g-factors out, such that ``sum(d * g * M, axis=0) == totals``.

* ``linear``: ``g = 1 + M @ lam`` (the GREG estimator; R ``calibrate(..., calfun="linear")``),
  solved in closed form; with group dummies this is post-stratification;
* ``raking``: ``g = exp(M @ lam)`` (multiplicative; the fixed point of iterative proportional
  fitting on the margins; R ``rake`` / ``calibrate(..., calfun="raking")``), solved by Newton steps;
* ``bounds=(low, high)`` truncates linear g-factors by iterating on the records within bounds.
"""

from __future__ import annotations

import numpy as np

from statcoder.errors import EstimationError

METHODS = ("linear", "raking")


def calibration_factors(
    base_weights: np.ndarray,
    matrix: np.ndarray,
    totals: np.ndarray,
    *,
    method: str = "linear",
    bounds: tuple[float, float] | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> np.ndarray:
    """Return the g-factors (dimensionless, one per record) that calibrate ``base_weights``.

    Raises ``EstimationError`` when the totals cannot be met (e.g. a category with population
    count but no sample record, or raking that does not converge).
    """
    if method not in METHODS:
        raise EstimationError(
            f"unknown calibration method {method!r}", where="method", hint=f"use one of {METHODS}"
        )
    d = np.asarray(base_weights, dtype=float)
    m = np.asarray(matrix, dtype=float)
    t = np.asarray(totals, dtype=float)
    empty = (np.abs(m) * (d[:, None] > 0)).sum(axis=0) == 0
    if np.any(empty & (t != 0)):
        raise EstimationError(
            f"{int((empty & (t != 0)).sum())} calibration variable(s) are zero for every sampled "
            "record but have a non-zero population total",
            where="calibration totals",
            hint="collapse the empty categories with a neighbour before calibrating",
        )
    if method == "linear":
        g = _linear(d, m, t)
        if bounds is not None:
            g = _bounded_linear(d, m, t, bounds, max_iter)
        return g
    return _raking(d, m, t, max_iter, tol)


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    # lstsq tolerates redundant columns (e.g. an intercept plus a full set of dummies)
    return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def _linear(d: np.ndarray, m: np.ndarray, t: np.ndarray) -> np.ndarray:
    gram = m.T @ (m * d[:, None])
    lam = _solve(gram, t - m.T @ d)
    return 1.0 + m @ lam


def _bounded_linear(
    d: np.ndarray, m: np.ndarray, t: np.ndarray, bounds: tuple[float, float], max_iter: int
) -> np.ndarray:
    low, high = bounds
    fixed = np.zeros(len(d), dtype=bool)
    g = np.ones(len(d))
    for _ in range(max_iter):
        free = ~fixed
        target = t - m[fixed].T @ (d[fixed] * g[fixed])
        gram = m[free].T @ (m[free] * d[free, None])
        lam = _solve(gram, target - m[free].T @ d[free])
        g_free = 1.0 + m[free] @ lam
        g[free] = g_free
        out = free & ((g < low) | (g > high))
        if not out.any():
            if not np.allclose(m.T @ (d * g), t, rtol=1e-8, atol=1e-8 * np.abs(t).max()):
                break  # every record pinned at a bound: the totals are out of reach
            return g
        g[out] = np.clip(g[out], low, high)
        fixed |= out
    raise EstimationError(
        "the calibration totals cannot be met with g-factors inside the bounds",
        where=f"bounds={bounds}",
        hint="widen the bounds, check the totals, or use fewer calibration variables",
    )


def _raking(d: np.ndarray, m: np.ndarray, t: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    lam = np.zeros(m.shape[1])
    scale = np.maximum(np.abs(t), 1.0)
    for _ in range(max_iter):
        g = np.exp(m @ lam)
        gap = t - m.T @ (d * g)
        if np.max(np.abs(gap) / scale) < tol:
            return g
        jac = m.T @ (m * (d * g)[:, None])
        lam = lam + _solve(jac, gap)
    raise EstimationError(
        "raking did not converge",
        where="rake margins",
        hint="check that the margins agree on the population size and that no category is empty",
    )


def dummies(values: np.ndarray, levels: list[str]) -> np.ndarray:
    """Return an ``(n, len(levels))`` 0/1 matrix of ``values == level`` (values as str)."""
    v = np.asarray(values).astype(str)
    return (v[:, None] == np.asarray(levels, dtype=str)[None, :]).astype(float)

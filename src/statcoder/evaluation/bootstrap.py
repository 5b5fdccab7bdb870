"""Nonparametric bootstrap intervals for evaluation metrics.

Records are resampled with replacement (Efron 1979). Each replicate is represented by
multinomial frequency weights instead of copied rows, and statistics are vectorised over a
block of replicates (a weights matrix), so 1,000 replicates of per-level F1 on 10^4 records
take a fraction of a second.

Intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13) re-centred on the
estimate: [est - (median - q_lo), est + (q_hi - median)], where q_lo, q_hi are the
alpha/2 and 1 - alpha/2 quantiles of the replicates. For accuracy-like means the median of
the replicates equals the estimate up to Monte-Carlo noise and this is the plain percentile
interval. Macro-F1 is different: a code seen once in the sample is missing from ~37 % of
resamples, which shifts every replicate the same way; that shift is an artefact of
resampling rare codes, so the interval keeps the spread of the replicates and drops their
shift. Intervals for macro-F1 on data dominated by singleton codes remain rough.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

#: maps a (m, n) matrix of per-record weights to {metric: array of m values}
Statistic = Callable[[np.ndarray], Mapping[str, np.ndarray]]


def bootstrap_weights(n: int, *, n_boot: int, seed: int) -> np.ndarray:
    """Multinomial resampling weights, shape ``(n_boot, n)``; each row sums to ``n``."""
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros((n_boot, 0))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


def recentred_percentile_interval(
    replicates: np.ndarray, estimate: float, *, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``replicates`` shifted so that their median sits on ``estimate``."""
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    alpha = 1 - confidence
    lo, median, hi = np.quantile(reps, [alpha / 2, 0.5, 1 - alpha / 2])
    return float(estimate - (median - lo)), float(estimate + (hi - median))


def bootstrap_intervals(
    statistic: Statistic,
    n: int,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    block: int = 250,
) -> pd.DataFrame:
    """Point estimates and re-centred percentile bootstrap intervals of a vectorised statistic.

    ``statistic(W)`` receives a ``(m, n)`` matrix of frequency weights (one replicate per
    row) and returns ``{metric: array of m values}``; the point estimate uses weights of 1.
    Replicates are evaluated ``block`` rows at a time to bound memory. Returns a frame with
    columns ``metric, estimate, lower, upper`` (same units as the statistic).
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    estimate = {k: float(np.asarray(v)[0]) for k, v in statistic(np.ones((1, n))).items()}
    weights = bootstrap_weights(n, n_boot=n_boot, seed=seed)
    draws: dict[str, list[np.ndarray]] = {k: [] for k in estimate}
    for start in range(0, n_boot, block):
        out = statistic(weights[start : start + block])
        for k in estimate:
            draws[k].append(np.asarray(out[k], dtype=float))
    rows = []
    for k, value in estimate.items():
        reps = np.concatenate(draws[k]) if draws[k] else np.array([])
        lower, upper = recentred_percentile_interval(reps, value, confidence=confidence)
        rows.append({"metric": k, "estimate": value, "lower": lower, "upper": upper})
    return pd.DataFrame(rows, columns=["metric", "estimate", "lower", "upper"])


def weighted_mean(values: np.ndarray) -> Statistic:
    """A statistic for ``bootstrap_intervals``: the weighted mean of ``values`` as ``{"mean": ...}``."""
    values = np.asarray(values, dtype=float)

    def stat(w: np.ndarray) -> dict[str, np.ndarray]:
        total = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"mean": np.where(total > 0, (w @ values) / total, np.nan)}

    return stat

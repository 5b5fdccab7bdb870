"""Per-level confidence thresholds for a target accuracy, and the deepest-confident-level rule.

For each level of the classification, the threshold is the smallest confidence whose
accepted records (confidence >= threshold) have a one-sided Clopper-Pearson lower
confidence bound on their accuracy of at least the target. Applying the thresholds,
each record is coded at the deepest level whose confidence clears that level's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import beta

from statcoder.errors import ConfigurationError

AUTO, PARTIAL, REVIEW = "auto", "partial", "review"


def clopper_pearson_lower(k: int | np.ndarray, n: int | np.ndarray, *, confidence: float = 0.95) -> np.ndarray | float:
    """One-sided Clopper-Pearson lower bound on a proportion with ``k`` successes in ``n`` trials.

    Returns a value in [0, 1] (0 when k = 0 or n = 0): the ``1 - confidence`` quantile of
    Beta(k, n - k + 1).
    """
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = beta.ppf(1.0 - confidence, k_arr, n_arr - k_arr + 1.0)
    bound = np.where((k_arr <= 0) | (n_arr <= 0), 0.0, bound)
    return float(bound) if np.ndim(bound) == 0 else bound


def clopper_pearson_interval(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval (lower, upper) for k successes in n trials."""
    if n <= 0:
        return (0.0, 1.0)
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lower, upper


def threshold_for_target(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    target: float = 0.95,
    confidence_level: float = 0.95,
) -> float:
    """Smallest threshold whose accepted records have a Clopper-Pearson lower bound >= target.

    ``confidence`` are the model's probabilities of its prediction (one per held-out record)
    and ``correct`` whether the prediction was right. Returns a probability in (0, 1], or
    ``inf`` when no threshold reaches the target (nothing is coded automatically).
    """
    if not 0.0 < target < 1.0:
        raise ConfigurationError(f"target accuracy must be between 0 and 1, got {target}", hint="e.g. 0.95")
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape:
        raise ValueError("confidence and correct must have the same shape")
    if conf.size == 0:
        return float("inf")
    order = np.argsort(-conf, kind="stable")
    conf_sorted = conf[order]
    k = np.cumsum(hits[order])
    n = np.arange(1, conf.size + 1)
    # a threshold t accepts every record with confidence >= t: only the last record of a run
    # of equal confidences is a valid cut point
    last_of_run = np.r_[conf_sorted[1:] != conf_sorted[:-1], True]
    lower = clopper_pearson_lower(k[last_of_run], n[last_of_run], confidence=confidence_level)
    ok = np.flatnonzero(np.asarray(lower) >= target)
    if ok.size == 0:
        return float("inf")
    return float(conf_sorted[last_of_run][ok[-1]])


def decide(
    level_confidence: Mapping[int, np.ndarray],
    *,
    thresholds: Mapping[int, float],
    full_depth: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the deepest-confident-level rule.

    ``level_confidence[L]`` is, per record, the probability of the best code at level L.
    Returns ``(predicted_level, decision)``: the deepest level L whose confidence is
    >= ``thresholds[L]`` (0 when none) and ``"auto"`` when that level is ``full_depth``,
    ``"partial"`` for a shallower level, ``"review"`` when no level clears its threshold.
    """
    levels = sorted(level_confidence)
    n = len(next(iter(level_confidence.values()))) if levels else 0
    chosen = np.zeros(n, dtype=np.int64)
    for level in levels:  # deeper levels overwrite shallower ones
        ok = np.asarray(level_confidence[level]) >= thresholds.get(level, float("inf"))
        chosen[ok] = level
    decision = np.where(chosen == 0, REVIEW, np.where(chosen >= full_depth, AUTO, PARTIAL)).astype(object)
    return chosen, decision

"""Per-level confidence thresholds for a target accuracy, and the deepest-confident-level rule.

For each level of the classification, the threshold is the smallest confidence whose
accepted records (confidence >= threshold) have a one-sided Clopper-Pearson lower
confidence bound on their accuracy of at least the target. Applying the thresholds,
each record is coded at the deepest level whose confidence clears that level's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
from scipy.stats import beta

from statcoder.contract import Decision
from statcoder.errors import ConfigurationError, InputError

AUTO, PARTIAL, REVIEW = Decision.AUTO.value, Decision.PARTIAL.value, Decision.REVIEW.value


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


def min_records_for(target: float, confidence_level: float) -> int:
    """The fewest records whose Clopper-Pearson lower bound can reach ``target`` (all of them right)."""
    return int(np.ceil(np.log(1.0 - confidence_level) / np.log(target)))


@lru_cache(maxsize=64)
def first_cut_with_slack(target: float, confidence_level: float) -> int:
    """The fewest records whose Clopper-Pearson lower bound reaches ``target`` with an observed error
    rate of half the allowed one, ``(1 - target) / 2`` (about 215 records at 0.95 / 0.95)."""
    m = min_records_for(target, confidence_level)
    while clopper_pearson_lower(m - int(np.floor(m * (1.0 - target) / 2)), m, confidence=confidence_level) < target:
        m += 1
    return m


def candidate_cuts(n: int, *, target: float, confidence_level: float, max_steps: int = 50) -> np.ndarray:
    """Numbers of accepted records tested by ``threshold_for_target``, most confident first.

    They depend on ``n``, ``target`` and ``confidence_level`` only, never on the labels (what
    fixed-sequence testing needs). Large samples: ``max_steps`` evenly spaced counts. Small
    samples (fewer than ``max_steps`` x ~215 records at 0.95): the first count is the smallest
    that passes with an observed error rate of half the allowed one (``first_cut_with_slack``),
    and the next ones follow in steps of half that, so one or two errors among the most
    confident records do not end the sequence (starting where all must be right would: with
    1,000 records the old first step was 63 records, all of which had to be right). Below
    that many records the sequence starts at the fewest records that can pass at all. Empty
    when ``n`` is below that.
    """
    smallest = min_records_for(target, confidence_level)
    if n < smallest:
        return np.zeros(0, dtype=np.int64)
    first = first_cut_with_slack(target, confidence_level)
    if n < first:
        steps = max(1, min(max_steps, n // smallest))
        return np.unique(np.ceil(n * np.arange(1, steps + 1) / steps).astype(np.int64))
    if n >= max_steps * first:
        return np.unique(np.ceil(n * np.arange(1, max_steps + 1) / max_steps).astype(np.int64))
    step = first / 2
    cuts = np.ceil(first + step * np.arange(int(np.ceil((n - first) / step)) + 1)).astype(np.int64)
    return np.unique(np.minimum(cuts, n))


def threshold_for_target(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    target: float = 0.95,
    confidence_level: float = 0.95,
    max_steps: int = 50,
) -> float:
    """Threshold chosen by fixed-sequence testing (Learn-then-Test) with Clopper-Pearson bounds.

    ``confidence`` are the model's probabilities of its prediction (one per held-out record)
    and ``correct`` whether the prediction was right. The candidate thresholds accept the
    most confident m records for a grid of counts m (``candidate_cuts``: up to ``max_steps``
    steps, fixed by the confidences alone). They are tested from the highest down; at each,
    the hypothesis "the accuracy of the records accepted at this threshold is below
    ``target``" is rejected when the one-sided Clopper-Pearson lower bound of the accepted
    records reaches ``target``. Testing stops at the first threshold that fails, and the lowest
    rejected one is returned. Given the confidences, this controls the family-wise error: with
    probability >= ``confidence_level`` over the labels of the held-out sample, the accuracy
    of the records the returned threshold accepts (on the population the held-out records are
    exchangeable with) is >= ``target`` (Angelopoulos et al. 2021, "Learn then Test").
    Picking the smallest passing threshold after a failure would not.

    Returns a probability in (0, 1], or ``inf`` when the first candidate fails (nothing is
    coded automatically).
    """
    if not 0.0 < target < 1.0:
        raise ConfigurationError(f"target accuracy must be between 0 and 1, got {target}", hint="e.g. 0.95")
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape:
        raise InputError(f"confidence ({conf.shape}) and correct ({hits.shape}) must have the same shape",
                         where="threshold_for_target", hint="pass one correct flag per confidence")
    cuts = candidate_cuts(conf.size, target=target, confidence_level=confidence_level, max_steps=max_steps)
    if cuts.size == 0:
        return float("inf")
    order = np.argsort(-conf, kind="stable")
    conf_sorted = conf[order]
    k_sorted = np.cumsum(hits[order])
    chosen = float("inf")
    for m in cuts:
        t = conf_sorted[m - 1]
        n = int(np.searchsorted(-conf_sorted, -t, side="right"))  # every record with confidence >= t
        if clopper_pearson_lower(int(k_sorted[n - 1]), n, confidence=confidence_level) < target:
            break
        chosen = float(t)
    return chosen


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

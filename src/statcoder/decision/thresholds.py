"""Per-level confidence thresholds for a target accuracy, and the deepest-confident-level rule.

For each level of the classification, the threshold is the lowest confidence whose
accepted records (confidence >= threshold) pass a one-sided exact binomial (Clopper-Pearson)
test of "accuracy < target" inside a fallback testing procedure that controls the
family-wise error (``threshold_for_target``). Applying the thresholds,
each record is coded at the deepest level whose confidence clears that level's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
from scipy.stats import beta, binom

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


def binomial_p_value(k: int, n: int, target: float) -> float:
    """One-sided exact binomial p-value of "accuracy < ``target``" with ``k`` right of ``n``:
    P(Binomial(n, target) >= k). It is <= a level ``a`` exactly when the Clopper-Pearson lower
    bound at confidence ``1 - a`` reaches ``target`` (k >= 1)."""
    return float(binom.sf(k - 1, n, target)) if n > 0 and k > 0 else 1.0


@lru_cache(maxsize=64)
def records_to_pass(target: float, confidence_level: float, error_share: float) -> int:
    """The fewest records whose Clopper-Pearson lower bound (at ``confidence_level``) reaches
    ``target`` with an observed error rate of ``error_share`` times the allowed one, ``1 - target``
    (at 0.95 / 0.95: 153 records at half the allowed rate, i.e. 3 errors; at 0.95 / 0.975: 230
    records at half, 5 errors; 1,013 at three quarters of it, 37 errors)."""
    m = min_records_for(target, confidence_level)
    while clopper_pearson_lower(m - int(np.floor(m * (1.0 - target) * error_share)), m,
                                confidence=confidence_level) < target:
        m += 1
    return m


def first_cut_with_slack(target: float, confidence_level: float) -> int:
    """The fewest records whose Clopper-Pearson lower bound reaches ``target`` with an observed error
    rate of half the allowed one, ``(1 - target) / 2`` (153 records at 0.95 / 0.95)."""
    return records_to_pass(target, confidence_level, 0.5)


#: the two starts of the testing sequence: the share of the allowed error rate each passes with
#: (the first among the most confident records, the second further down, for noisy labels)
START_ERROR_SHARES = (0.5, 0.75)


def _grid(n: int, first: int, smallest: int, max_steps: int) -> np.ndarray:
    if n < first:
        steps = max(1, min(max_steps, n // smallest))
        return np.unique(np.ceil(n * np.arange(1, steps + 1) / steps).astype(np.int64))
    if n >= max_steps * first:
        return np.unique(np.ceil(n * np.arange(1, max_steps + 1) / max_steps).astype(np.int64))
    step = first / 2
    cuts = np.ceil(first + step * np.arange(int(np.ceil((n - first) / step)) + 1)).astype(np.int64)
    return np.unique(np.minimum(cuts, n))


def fallback_plan(n: int, *, target: float, confidence_level: float,
                 max_steps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """The sequence ``threshold_for_target`` tests: (numbers of accepted records, ascending; the
    share of the error budget ``1 - confidence_level`` each starts with, summing to 1).

    Both depend on ``n``, ``target`` and ``confidence_level`` only, never on the labels (what
    the fallback procedure needs). Two starts, half the budget each: the first at the fewest
    records that pass (at half the budget) with an observed error rate of half the allowed
    one (230 records at 0.95 / 0.95), the second where three quarters of it still pass (1,013
    records, 37 errors) — for noisy labels, where one or two more errors among the most
    confident few hundred records would otherwise end the testing. Counts continue in steps of
    half the first start (``max_steps`` evenly spaced counts for large samples). When the
    sample is too small for the second start, the whole budget goes to one start at the
    fewest records that pass with half the allowed error rate (153 records), as in version 2's
    fixed sequence; below that the counts start at the fewest records that can pass at all
    (59) and are empty when ``n`` is below that.
    """
    alpha = 1.0 - confidence_level
    smallest = min_records_for(target, confidence_level)
    if n < smallest:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    split = 1.0 - alpha / len(START_ERROR_SHARES)
    starts = [records_to_pass(target, split, share) for share in START_ERROR_SHARES]
    if n >= starts[-1]:
        cuts = _grid(n, starts[0], smallest, max_steps)
        weights = np.zeros(len(cuts))
        for size in starts:  # each start's share goes to the first count at or above its size
            weights[min(int(np.searchsorted(cuts, size)), len(cuts) - 1)] += 1.0 / len(starts)
        return cuts, weights
    return _one_start(n, target=target, confidence_level=confidence_level, smallest=smallest, max_steps=max_steps)


def _one_start(n: int, *, target: float, confidence_level: float, smallest: int,
               max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-sequence testing's plan: the whole budget on the first count, the fewest records that
    pass with half the allowed error rate."""
    cuts = _grid(n, first_cut_with_slack(target, confidence_level), smallest, max_steps)
    weights = np.zeros(len(cuts))
    weights[0] = 1.0
    return cuts, weights


def candidate_cuts(n: int, *, target: float, confidence_level: float, max_steps: int = 50) -> np.ndarray:
    """Numbers of accepted records tested by ``threshold_for_target``, most confident first
    (``fallback_plan``'s counts)."""
    return fallback_plan(n, target=target, confidence_level=confidence_level, max_steps=max_steps)[0]


def threshold_for_target(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    target: float = 0.95,
    confidence_level: float = 0.95,
    max_steps: int = 50,
) -> float:
    """Threshold chosen by a fallback testing procedure (Learn-then-Test) with exact binomial tests.

    ``confidence`` are the model's probabilities of its prediction (one per held-out record)
    and ``correct`` whether the prediction was right. Candidate thresholds accept the most
    confident m records for a sequence of counts m fixed by the number of records alone
    (``fallback_plan``). Hypothesis j, "the accuracy of the records accepted at threshold j is
    below ``target``", is tested from the most confident down with the one-sided exact binomial
    (Clopper-Pearson) test at level ``a_j``: ``a_j = w_j alpha`` plus ``a_{j-1}`` when hypothesis
    j - 1 was rejected (alpha = 1 - ``confidence_level``, w_j the start weights, summing to 1).
    A failure does not end the testing: the budget of the failed hypothesis is lost and the
    next start brings its own (the fallback procedure, Wiens 2003; a chain in the graphical
    procedures of Bretz et al. 2009). The lowest rejected threshold is returned. Given the
    confidences, this controls the family-wise error at alpha for any dependence between the
    tests: with probability >= ``confidence_level`` over the labels of the held-out sample, no
    rejected threshold — in particular the returned one — accepts records whose accuracy (on the
    population the held-out records are exchangeable with) is below ``target`` (Angelopoulos
    et al. 2021, "Learn then Test"). With one start this is fixed-sequence testing.

    Returns a probability in (0, 1], or ``inf`` when no hypothesis is rejected (nothing is
    coded automatically).
    """
    if not 0.0 < target < 1.0:
        raise ConfigurationError(f"target accuracy must be between 0 and 1, got {target}", hint="e.g. 0.95")
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape:
        raise InputError(f"confidence ({conf.shape}) and correct ({hits.shape}) must have the same shape",
                         where="threshold_for_target", hint="pass one correct flag per confidence")
    cuts, weights = fallback_plan(conf.size, target=target, confidence_level=confidence_level, max_steps=max_steps)
    return fallback_test(conf, hits, cuts, weights, target=target, alpha=1.0 - confidence_level)


def fallback_test(confidence: np.ndarray, correct: np.ndarray, cuts: np.ndarray, weights: np.ndarray, *,
                  target: float, alpha: float) -> float:
    """The fallback procedure of ``threshold_for_target`` for any label-free sequence: ``cuts``
    (numbers of accepted records, ascending) with ``weights`` (shares of ``alpha``, summing to at
    most 1). Weight 1 on the first count is fixed-sequence testing. Returns the lowest threshold
    whose hypothesis was rejected (a probability), or ``inf``."""
    conf = np.asarray(confidence, dtype=float)
    order = np.argsort(-conf, kind="stable")
    conf_sorted = conf[order]
    k_sorted = np.cumsum(np.asarray(correct, dtype=bool)[order])
    chosen, carried = float("inf"), 0.0
    for m, w in zip(cuts, weights, strict=True):
        level = carried + w * alpha
        t = conf_sorted[m - 1]
        n = int(np.searchsorted(-conf_sorted, -t, side="right"))  # every record with confidence >= t
        if level > 0 and binomial_p_value(int(k_sorted[n - 1]), n, target) <= level * (1 + 1e-12):
            chosen, carried = float(t), level
        else:
            carried = 0.0
    return chosen


def fixed_sequence_v2(confidence: np.ndarray, correct: np.ndarray, *, target: float = 0.95,
                      confidence_level: float = 0.95, max_steps: int = 50) -> float:
    """Version 2's rule, kept for comparison (benchmarks): fixed-sequence testing from one start
    (153 records at 0.95 / 0.95, or ``max_steps`` even counts), stopping at the first failure."""
    conf = np.asarray(confidence, dtype=float)
    smallest = min_records_for(target, confidence_level)
    if conf.size < smallest:
        return float("inf")
    cuts, weights = _one_start(conf.size, target=target, confidence_level=confidence_level, smallest=smallest,
                               max_steps=max_steps)
    return fallback_test(conf, correct, cuts, weights, target=target, alpha=1.0 - confidence_level)


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

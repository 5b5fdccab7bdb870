"""Split-conformal prediction sets (adaptive prediction sets, APS) from calibrated probabilities.

A prediction set lists, best first, the codes a record may have, so that the set contains the
true code with a chosen probability (the *coverage*, e.g. 0.90). The method is the
non-randomised adaptive prediction set of Romano, Sesia & Candès (2020):

* the conformity score of a held-out record is the probability mass of the codes ranked
  strictly above its true code (0 when the best code is right; codes ranked by probability,
  ties in a fixed order);
* the threshold ``q`` is the ``ceil((n + 1) * coverage)``-th smallest of the n held-out scores;
* a new record's set holds every code whose mass ranked strictly above it is ``<= q``: the best
  code always, then codes in order of probability until the mass before them passes ``q``.

Guarantee (split conformal, Vovk et al. 2005): when the held-out records and the new record are
exchangeable and the probabilities come from a model that did not see the held-out records
(statcoder's out-of-fold probabilities), P(true code in set) >= coverage, on average over the
held-out sample and the new record. The guarantee is marginal (over records), not per record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from statcoder.errors import ConfigurationError, InputError

#: the coverages a trained coder stores quantiles for
DEFAULT_COVERAGES: tuple[float, ...] = (0.90, 0.95)


@dataclass(frozen=True)
class ConformalLevel:
    """One fitted coverage: its score quantile and how it did on held-out records.

    ``heldout_coverage`` is the share of held-out records whose set held the true code, with the
    quantile fitted on the other half of the held-out records (2-fold cross-fitting, so it is
    not the in-sample figure); ``mean_set_size`` is the mean number of codes per set.
    """

    coverage: float
    quantile: float
    heldout_coverage: float
    mean_set_size: float
    n: int


def _check_proba(proba: np.ndarray) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] == 0:
        raise InputError(f"probabilities must be a 2-D array (records x codes), got shape {p.shape}",
                         where="conformal prediction sets", hint="pass the output of Coder.predict_proba")
    return p


def _check_coverage(coverage: float) -> float:
    if not 0.0 < float(coverage) < 1.0:
        raise ConfigurationError(f"coverage must be between 0 and 1, got {coverage}",
                                 where="conformal prediction sets", hint="e.g. 0.9 or 0.95")
    return float(coverage)


def conformity_scores(proba: np.ndarray, y_index: np.ndarray) -> np.ndarray:
    """Per record, the probability mass of the codes ranked strictly above its true code.

    ``y_index`` holds the column of each record's true code (-1 for a code the model does not
    know: score 1, never covered). Returns floats in [0, 1]; 0 means the best code is right.
    """
    p = _check_proba(proba)
    y = np.asarray(y_index, dtype=np.int64)
    if y.shape != (p.shape[0],):
        raise InputError(f"{len(y)} true codes for {p.shape[0]} probability rows", where="conformal prediction sets",
                         hint="pass one true code per record")
    known = y >= 0
    scores = np.ones(len(y))
    rows = np.flatnonzero(known)
    columns = np.arange(p.shape[1])
    for start in range(0, len(rows), 2048):  # no sort: mass of the codes ranked above (ties: lower column first)
        r = rows[start:start + 2048]
        p_true = p[r, y[r]][:, None]
        above = (p[r] > p_true) | ((p[r] == p_true) & (columns < y[r][:, None]))
        scores[r] = np.where(above, p[r], 0.0).sum(axis=1)
    return np.clip(scores, 0.0, 1.0)


def conformal_quantile(scores: np.ndarray, *, coverage: float) -> float:
    """The split-conformal threshold: the ``ceil((n + 1) * coverage)``-th smallest score.

    Returns ``inf`` when there are too few held-out records for the coverage (every code in
    every set: the only choice that keeps the guarantee).
    """
    cov = _check_coverage(coverage)
    s = np.sort(np.asarray(scores, dtype=np.float64))
    rank = math.ceil((len(s) + 1) * cov)
    if rank > len(s) or len(s) == 0:
        return float("inf")
    return float(s[rank - 1])


def set_masks(proba: np.ndarray, *, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (order, in_set): columns ranked best first per record, and whether each is in the set."""
    p = _check_proba(proba)
    order = np.argsort(-p, axis=1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=1)
    before = np.cumsum(sorted_p, axis=1) - sorted_p
    in_set = before <= quantile
    in_set[:, 0] = True  # the best code is always in the set (its score is 0)
    return order, in_set


def prediction_sets(proba: np.ndarray, classes: Sequence[str], *, quantile: float) -> list[list[str]]:
    """Per record, the codes of its prediction set, best first (never empty)."""
    order, in_set = set_masks(proba, quantile=quantile)
    names = np.asarray(list(classes), dtype=object)
    if len(names) != order.shape[1]:
        raise InputError(f"{len(names)} classes for {order.shape[1]} probability columns",
                         where="conformal prediction sets", hint="pass the coder's classes_")
    return [names[o[m]].tolist() for o, m in zip(order, in_set, strict=True)]


def coverage_and_size(proba: np.ndarray, y_index: np.ndarray, *, quantile: float) -> tuple[float, float]:
    """Return (share of records whose set holds the true code, mean set size) on labelled records."""
    scores = conformity_scores(proba, y_index)
    covered = (scores <= quantile) & (np.asarray(y_index) >= 0)
    return float(covered.mean()) if len(covered) else float("nan"), float(set_sizes(proba, quantile=quantile).mean())


def set_sizes(proba: np.ndarray, *, quantile: float, top: int = 64) -> np.ndarray:
    """Number of codes in each record's prediction set (what ``set_masks`` keeps), without a full sort.

    Only the ``top`` most probable codes are sorted; rows whose set could reach past them are
    counted with the full sort.
    """
    p = _check_proba(proba)
    if p.shape[1] <= top:
        return set_masks(p, quantile=quantile)[1].sum(axis=1)
    part = -np.partition(-p, top - 1, axis=1)[:, :top]
    part = -np.sort(-part, axis=1)
    before = np.cumsum(part, axis=1) - part
    sizes = np.maximum((before <= quantile).sum(axis=1), 1)
    spill = np.flatnonzero(before[:, -1] <= quantile)  # the set may hold more than ``top`` codes
    if len(spill):
        sizes[spill] = set_masks(p[spill], quantile=quantile)[1].sum(axis=1)
    return sizes


def fit_conformal(
    proba: np.ndarray,
    y_index: np.ndarray,
    *,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    seed: int = 0,
) -> tuple[ConformalLevel, ...]:
    """Fit the score quantile for each coverage on held-out probabilities and true codes.

    The quantile is fitted on all records. The reported ``heldout_coverage`` and
    ``mean_set_size`` come from 2-fold cross-fitting (quantile from one random half, checked on
    the other, both ways), so they estimate what new records get.
    """
    p = _check_proba(proba)
    y = np.asarray(y_index, dtype=np.int64)
    scores = conformity_scores(p, y)
    halves = np.random.default_rng(seed).permutation(len(y)) % 2 == 0
    fitted = []
    for cov in coverages:
        q = conformal_quantile(scores, coverage=cov)
        hits, sizes = [], []
        for part in (halves, ~halves):
            q_part = conformal_quantile(scores[~part], coverage=cov)
            c, s = coverage_and_size(p[part], y[part], quantile=q_part)
            hits.append(c * part.sum())
            sizes.append(s * part.sum())
        n = max(len(y), 1)
        fitted.append(ConformalLevel(coverage=float(cov), quantile=q, heldout_coverage=float(sum(hits) / n),
                                     mean_set_size=float(sum(sizes) / n), n=len(y)))
    return tuple(fitted)

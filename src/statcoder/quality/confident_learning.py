"""Confident learning: find mislabelled records from out-of-fold predicted probabilities.

An own implementation of the method of Northcutt, Jiang & Chuang (2021), "Confident
Learning: Estimating Uncertainty in Dataset Labels", JAIR 70, 1373-1411, written from the
paper (not from cleanlab, whose code is AGPL). Notation follows the paper:

* ``labels`` - the given (possibly noisy) label of each record, as a column index of
  ``proba`` (the paper's ``ỹ``);
* ``proba`` - out-of-fold predicted probabilities ``p̂(ỹ=j; x)``, shape ``(n, m)``;
* the per-class threshold ``t_j`` is the mean self-confidence of the records labelled ``j``;
* the confident joint ``C[i, j]`` counts records labelled ``i`` whose probability for ``j``
  reaches ``t_j`` (the largest such ``j`` when several do), i.e. records "confidently" of
  latent true class ``j``;
* calibrating ``C`` to the label counts and normalising gives ``Q``, an estimate of the
  joint distribution of given and true labels; its off-diagonal mass is the label noise.

Every function is pure: arrays in, arrays out, options keyword-only. Work that would need
several ``(n, m)`` temporaries is done in row chunks so 100,000 x 1,000 matrices fit in memory.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from statcoder.errors import InputError

FilterBy = Literal[
    "both", "prune_by_noise_rate", "prune_by_class", "confident_learning", "predicted_neq_given"
]
ScoreMethod = Literal["normalized_margin", "self_confidence"]

_CHUNK = 8192
# Probabilities equal to a threshold up to float noise still count as reaching it.
_EPS = 1e-9


def _check(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(proba)
    labels = np.asarray(labels)
    if proba.ndim != 2:
        raise InputError(f"proba must be a 2-d array (records x classes), got {proba.ndim} dimensions")
    if labels.shape != (proba.shape[0],):
        raise InputError(
            f"labels has shape {labels.shape} but proba has {proba.shape[0]} rows",
            hint="pass one label (a column index of proba) per row of proba",
        )
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() >= proba.shape[1]):
        raise InputError(
            "labels must be integer column indices of proba",
            hint="map codes to indices with the classes list returned next to proba",
        )
    return labels.astype(np.intp, copy=False), proba


def class_thresholds(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-class thresholds ``t_j``: mean predicted probability of class ``j`` over the records labelled ``j``.

    Returns a float array of length ``m`` (probabilities, 0-1). Classes without any record
    get ``inf``: no record can be confidently counted for a class whose threshold is unknown.
    """
    labels, proba = _check(labels, proba)
    m = proba.shape[1]
    self_conf = proba[np.arange(labels.size), labels]
    sums = np.bincount(labels, weights=self_conf, minlength=m)
    counts = np.bincount(labels, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
    return thresholds


def confident_assignment(
    labels: np.ndarray, proba: np.ndarray, *, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """The latent class each record is confidently counted for in the confident joint.

    For each record, among the classes ``j`` with ``proba[x, j] >= t_j`` the one with the
    largest probability; ``-1`` when no class reaches its threshold (the record is not counted).
    Returns an int array of length ``n``.

    Guard (not in the paper): a threshold never goes below chance, ``1/m``. A class the model
    cannot recognise at all (e.g. one record, absent from its own training fold) has a mean
    self-confidence near 0; left as is, every record would "reach" it and be counted for it.
    """
    labels, proba = _check(labels, proba)
    t = class_thresholds(labels, proba) if thresholds is None else np.asarray(thresholds, float)
    t = np.maximum(t, 1.0 / proba.shape[1])
    out = np.full(labels.size, -1, dtype=np.intp)
    for start in range(0, labels.size, _CHUNK):
        block = proba[start : start + _CHUNK]
        above = block >= (t - _EPS)
        masked = np.where(above, block, -1.0)
        best = masked.argmax(axis=1)
        has_any = above.any(axis=1)
        out[start : start + block.shape[0]] = np.where(has_any, best, -1)
    return out


def confident_joint(
    labels: np.ndarray,
    proba: np.ndarray,
    *,
    thresholds: np.ndarray | None = None,
    calibrate: bool = True,
) -> np.ndarray:
    """The confident joint ``C`` (rows: given label, columns: latent true label), shape ``(m, m)``.

    Without calibration the entries are counts of records, except that the diagonal entry of
    every label some record carries is at least 1 (as in cleanlab). With ``calibrate=True``
    (paper, Eq. 2) each row is rescaled so that it sums to the number of records with that given
    label.
    """
    labels, proba = _check(labels, proba)
    m = proba.shape[1]
    assigned = confident_assignment(labels, proba, thresholds=thresholds)
    counted = assigned >= 0
    joint = np.zeros((m, m), dtype=float)
    np.add.at(joint, (labels[counted], assigned[counted]), 1.0)
    # Every given label keeps at least one record on the diagonal (cleanlab's compute_confident_joint
    # does the same): without it a small code whose few confidently counted records all went to
    # other codes gets an estimated noise rate of exactly 1, however many of its records were fine.
    present = np.flatnonzero(np.bincount(labels, minlength=m) > 0)
    joint[present, present] = np.maximum(joint[present, present], 1.0)
    if calibrate:
        joint = calibrate_confident_joint(joint, np.bincount(labels, minlength=m))
    return joint


def calibrate_confident_joint(joint: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """Rescale each row of a confident joint to sum to the number of records with that given label.

    Returns a float ``(m, m)`` array. Rows without counted records get their label count on the
    diagonal (no evidence of noise for that label).
    """
    joint = np.asarray(joint, dtype=float)
    counts = np.asarray(label_counts, dtype=float)
    row_sums = joint.sum(axis=1)
    out = np.zeros_like(joint)
    has = row_sums > 0
    out[has] = joint[has] / row_sums[has, None] * counts[has, None]
    empty = np.flatnonzero(~has)
    out[empty, empty] = counts[empty]
    return out


def estimate_joint(labels: np.ndarray, proba: np.ndarray, *, thresholds: np.ndarray | None = None) -> np.ndarray:
    """``Q``: the estimated joint distribution of (given label, true label), shape ``(m, m)``, summing to 1."""
    labels, proba = _check(labels, proba)
    joint = confident_joint(labels, proba, thresholds=thresholds, calibrate=True)
    total = joint.sum()
    return joint / total if total > 0 else joint


def noise_rates(joint: np.ndarray) -> np.ndarray:
    """Estimated share of records with each given label whose true label differs: ``P(y* != i | ỹ = i)``.

    ``joint`` is ``Q`` (or a calibrated confident joint). Returns a float array of length ``m``
    (0-1); ``nan`` for labels that no record carries.
    """
    joint = np.asarray(joint, dtype=float)
    rows = joint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, 1.0 - np.diag(joint) / rows, np.nan)


def noise_matrix(joint: np.ndarray) -> np.ndarray:
    """``P(ỹ = i | y* = j)``: column-normalised joint, shape ``(m, m)``; all-zero columns stay zero."""
    joint = np.asarray(joint, dtype=float)
    cols = joint.sum(axis=0)
    return np.divide(joint, cols, out=np.zeros_like(joint), where=cols > 0)


def label_quality_scores(
    labels: np.ndarray, proba: np.ndarray, *, method: ScoreMethod = "normalized_margin"
) -> np.ndarray:
    """Label quality score per record in [0, 1]; low means the given label is likely wrong.

    ``self_confidence`` is the predicted probability of the given label. ``normalized_margin``
    is ``(p_given - max_{j != given} p_j + 1) / 2``: below 0.5 when another class is more
    probable than the given one.
    """
    labels, proba = _check(labels, proba)
    rows = np.arange(labels.size)
    if method == "self_confidence":
        return proba[rows, labels].astype(float)
    if method != "normalized_margin":
        raise InputError(f"unknown score method {method!r}", hint="use normalized_margin or self_confidence")
    _, best_other_p = best_other_class(labels, proba)
    return (proba[rows, labels] - best_other_p + 1.0) / 2.0


def best_other_class(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most probable class other than the given label, and its probability.

    Returns ``(index, probability)`` arrays of length ``n``; with a single class the index is
    ``-1`` and the probability 0.
    """
    labels, proba = _check(labels, proba)
    n, m = proba.shape
    idx = np.full(n, -1, dtype=np.intp)
    val = np.zeros(n, dtype=float)
    if m < 2:
        return idx, val
    for start in range(0, n, _CHUNK):
        block = np.array(proba[start : start + _CHUNK], dtype=float)
        local = np.arange(block.shape[0])
        block[local, labels[start : start + block.shape[0]]] = -np.inf
        best = block.argmax(axis=1)
        idx[start : start + block.shape[0]] = best
        val[start : start + block.shape[0]] = block[local, best]
    return idx, val


def find_label_issues(
    labels: np.ndarray,
    proba: np.ndarray,
    *,
    filter_by: FilterBy = "both",
    min_examples_per_class: int = 1,
    joint: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask of records whose given label is estimated to be wrong.

    ``filter_by`` selects the paper's method:

    * ``prune_by_noise_rate`` (PBNR): for each off-diagonal cell ``(i, j)`` of ``Q``, the
      ``round(n * Q[i, j])`` records labelled ``i`` with the largest margin ``p_j - p_i``;
    * ``prune_by_class`` (PBC): for each label ``i``, the ``round(n * sum_{j!=i} Q[i, j])``
      records labelled ``i`` with the lowest self-confidence;
    * ``both``: records flagged by PBNR and by PBC (the default, most precise);
    * ``confident_learning`` (C_confusion-free ``C_{ỹ,y*}``): records counted off the diagonal
      of the confident joint;
    * ``predicted_neq_given``: records whose most probable class is not the given one.

    At least ``min_examples_per_class`` records of each given label are never flagged by the
    pruning methods. ``joint`` may pass a precomputed ``Q``. Returns a bool array of length ``n``.
    """
    labels, proba = _check(labels, proba)
    n, m = proba.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if filter_by == "predicted_neq_given":
        pred = np.concatenate([proba[s : s + _CHUNK].argmax(axis=1) for s in range(0, n, _CHUNK)])
        return pred != labels
    if filter_by == "confident_learning":
        assigned = confident_assignment(labels, proba)
        return (assigned >= 0) & (assigned != labels)
    if filter_by not in ("both", "prune_by_noise_rate", "prune_by_class"):
        raise InputError(
            f"unknown filter_by {filter_by!r}",
            hint="use both, prune_by_noise_rate, prune_by_class, confident_learning or predicted_neq_given",
        )
    q = estimate_joint(labels, proba) if joint is None else np.asarray(joint, dtype=float)
    counts = np.bincount(labels, minlength=m)
    budget = np.maximum(counts - int(min_examples_per_class), 0)
    members = _members_by_label(labels, m)
    mask_pbc = _prune_by_class(labels, proba, q, n, budget, members) if filter_by != "prune_by_noise_rate" else None
    mask_pbnr = _prune_by_noise_rate(proba, q, n, budget, members) if filter_by != "prune_by_class" else None
    if filter_by == "prune_by_class":
        return mask_pbc  # type: ignore[return-value]
    if filter_by == "prune_by_noise_rate":
        return mask_pbnr  # type: ignore[return-value]
    return mask_pbc & mask_pbnr  # type: ignore[operator]


def _members_by_label(labels: np.ndarray, m: int) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(m + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(m)]


def _prune_by_class(labels, proba, q, n, budget, members) -> np.ndarray:
    mask = np.zeros(labels.size, dtype=bool)
    off_diag = q.sum(axis=1) - np.diag(q)
    for i in np.flatnonzero(off_diag > 0):
        k = min(round(n * off_diag[i]), int(budget[i]))
        if k <= 0:
            continue
        rows = members[i]
        conf = proba[rows, i]
        mask[rows[np.argsort(conf, kind="stable")[:k]]] = True
    return mask


def _prune_by_noise_rate(proba, q, n, budget, members) -> np.ndarray:
    mask = np.zeros(proba.shape[0], dtype=bool)
    off = q.copy()
    np.fill_diagonal(off, 0.0)
    given, true = np.nonzero(off)
    per_label: dict[int, list[int]] = {}
    for i, j in zip(given.tolist(), true.tolist()):
        per_label.setdefault(i, []).append(j)
    for i, targets in per_label.items():
        rows = members[i]
        if rows.size == 0 or budget[i] == 0:
            continue
        chosen: set[int] = set()
        p_given = proba[rows, i]
        for j in targets:
            k = round(n * off[i, j])
            if k <= 0:
                continue
            margin = proba[rows, j] - p_given
            top = np.argsort(-margin, kind="stable")[:k]
            chosen.update(rows[top].tolist())
        if len(chosen) > budget[i]:
            # keep the budget: the records with the lowest self-confidence among the chosen
            picked = np.fromiter(chosen, dtype=np.intp)
            picked = picked[np.argsort(proba[picked, i], kind="stable")[: int(budget[i])]]
            chosen = set(picked.tolist())
        if chosen:
            mask[np.fromiter(chosen, dtype=np.intp)] = True
    return mask


def rank_label_issues(
    labels: np.ndarray, proba: np.ndarray, issues: np.ndarray, *, method: ScoreMethod = "normalized_margin"
) -> np.ndarray:
    """Indices of the flagged records, most likely mislabelled first (ascending label quality score)."""
    scores = label_quality_scores(labels, proba, method=method)
    flagged = np.flatnonzero(np.asarray(issues, dtype=bool))
    return flagged[np.argsort(scores[flagged], kind="stable")]

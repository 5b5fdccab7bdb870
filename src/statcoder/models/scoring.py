"""Scoring featurised texts with a linear model: margins, grouped log-softmax and calibrated
probabilities, array at a time.

The hot path of coding: for short titles most of a record's CPU time is here. Two pieces:

* :class:`Weights` multiplies a batch's feature matrix by the weights. The weights of the most
  frequent features form one dense float32 block (at most ``DENSE_BYTES``) multiplied feature
  column by feature column (the batch in CSC form: each weight row is read once per batch and
  applied to every text that has the feature, instead of once per text); the rare features'
  weights stay sparse and are multiplied sparse x sparse. A text's sums run in the same order
  whatever batch it comes in, so its scores never depend on the batch.
* :func:`calibrated_proba` turns the margins of a two-stage (group, then code within the group)
  model into temperature-scaled probabilities in one pass over the classes: the within-group
  log-softmax, the group log-probabilities and the calibrated softmax fused, in float64 (a
  float32 ``exp`` changed outputs). It equals ``softmax(grouped_scores(...) / temperature)`` up
  to rounding (~1e-15).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

DENSE_BYTES = 48 * 2**20  #: per model: weights of the most frequent features kept dense (float32)


class Weights:
    """A (n_outputs, n_features) weight matrix (or its row blocks) in the form that scores batches fastest.

    ``order`` ranks the features from the most to the least frequent (e.g. by IDF); the first
    ``dense_bytes // (4 * n_outputs)`` of them are kept as a dense (features x outputs) float32
    block, the others as a sparse (features x outputs) matrix. Which feature goes where
    depends on the model alone.
    """

    def __init__(self, weights: sp.spmatrix | Sequence[sp.spmatrix], order: np.ndarray, *,
                 dense_bytes: int = DENSE_BYTES) -> None:
        blocks = [weights] if sp.issparse(weights) else list(weights)  # blocks of rows, stacked in order
        # stacked here rather than by the caller, so that copy is freed before the sparse part is
        # cut out: one weight-matrix copy less at a worker's start (~60 MB per member on long texts)
        stacked = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
        by_feature = sp.csr_matrix(stacked.T, dtype=np.float32)  # (n_features, n_outputs)
        del stacked, blocks
        n_features, n_outputs = by_feature.shape
        self.n_dense = int(min(n_features, dense_bytes // max(1, 4 * n_outputs)))
        self.position = np.empty(n_features, dtype=np.int64)  # feature -> row in [dense | sparse]
        self.position[order] = np.arange(n_features)
        self.dense = by_feature[order[: self.n_dense]].toarray()
        self.sparse = by_feature[order[self.n_dense :]]  # no full reordered copy: it would raise peak memory
        self.n_outputs = n_outputs

    def product(self, Z: sp.csr_matrix) -> np.ndarray:
        """``Z @ weights.T`` as a float32 (n_texts, n_outputs) array.

        Per text, the dense block's terms are summed in the order of their position (feature
        frequency rank), then the rare features' sum is added: the same order in any batch.
        """
        Z = sp.csr_matrix(Z, dtype=np.float32)
        n = Z.shape[0]
        position = self.position[Z.indices]
        rows = np.repeat(np.arange(n), np.diff(Z.indptr))
        in_dense = position < self.n_dense
        if in_dense.all():
            dense_part = _csc(Z.data, position, rows, n, self.n_dense)
        else:
            dense_part = _csc(Z.data[in_dense], position[in_dense], rows[in_dense], n, self.n_dense)
        out = dense_part @ self.dense  # CSC x dense: one pass per feature column
        if not in_dense.all():
            rare = ~in_dense
            part = _csr(Z.data[rare], position[rare] - self.n_dense, rows[rare], n, self.sparse.shape[0])
            out += (part @ self.sparse).toarray()
        return out


def _csr(data: np.ndarray, columns: np.ndarray, rows: np.ndarray, n_rows: int, n_columns: int) -> sp.csr_matrix:
    """CSR matrix from entries already ordered by row."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((data, columns, indptr), shape=(n_rows, n_columns))


def _csc(data: np.ndarray, columns: np.ndarray, rows: np.ndarray, n_rows: int, n_columns: int) -> sp.csc_matrix:
    """CSC matrix from entries ordered by row (scipy's linear-time conversion keeps each
    column's rows ascending)."""
    return _csr(data, columns, rows, n_rows, n_columns).tocsc()


class GroupLayout:
    """Classes of a two-stage model arranged by group: ``order`` (class columns by group,
    None when the classes already are), ``starts`` (first column of each group in that
    order), ``sizes``, ``of_class`` (group rank of each class, in class order) and
    ``group_at`` (the group index of each rank)."""

    def __init__(self, class_group: np.ndarray) -> None:
        groups = np.asarray(class_group, dtype=np.int64)
        order = np.argsort(groups, kind="stable")
        new_group = np.r_[True, np.diff(groups[order]) != 0] if len(groups) else np.zeros(0, dtype=bool)
        self.starts = np.flatnonzero(new_group)
        self.sizes = np.diff(np.r_[self.starts, len(groups)])
        self.of_class = np.empty(len(groups), dtype=np.int64)
        self.of_class[order] = np.cumsum(new_group) - 1
        self.group_at = groups[order][self.starts]  # group index of each group rank
        self.order = None if np.array_equal(order, np.arange(len(groups))) else order
        self.inverse = None if self.order is None else np.argsort(order)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax."""
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def grouped_log_softmax(z: np.ndarray, layout: GroupLayout) -> np.ndarray:
    """Log-softmax of ``z`` within each group of columns."""
    ordered = z[:, layout.order] if layout.order is not None else z.copy()
    m = np.maximum.reduceat(ordered, layout.starts, axis=1)
    ordered -= np.repeat(m, layout.sizes, axis=1)
    np.exp(ordered, out=ordered)
    log_sum = np.log(np.add.reduceat(ordered, layout.starts, axis=1)) + m
    return z - log_sum[:, layout.of_class]


def grouped_scores(margins: np.ndarray, intercept: np.ndarray, group_intercept: np.ndarray | None,
                   layout: GroupLayout | None, *, group_temperature: float) -> np.ndarray:
    """The model's scores (float64, classes in class order) from its margins ``[classes | groups]``.

    Flat model (``layout`` None): margins + intercept. Two-stage model: log P(group) +
    log P(code | group), each stage a softmax of its margins at ``group_temperature``.
    """
    n_classes = len(intercept)
    scores = np.asarray(margins[:, :n_classes], dtype=np.float64)
    scores += intercept
    if layout is None:
        return scores
    top = np.asarray(margins[:, n_classes:], dtype=np.float64)
    top += group_intercept
    top /= group_temperature
    out = log_softmax(top)[:, layout.of_class]
    scores /= group_temperature
    out += grouped_log_softmax(scores, layout)
    return out


def calibrated_proba(margins: np.ndarray, intercept: np.ndarray, group_intercept: np.ndarray | None,
                     layout: GroupLayout | None, *, group_temperature: float, temperature: float) -> np.ndarray:
    """``softmax(grouped_scores(...) / temperature)`` computed in one fused pass (float64).

    With s the within-group scores and M the group's maximum, a class's calibrated
    log-probability is ``(log P(group) - log sum_group exp(s - M) + (s - M)) / temperature``
    up to the row's normaliser; its maximum over the row is known from the groups alone (the
    class at M has s - M = 0), so only two ``exp`` passes over the classes remain.
    """
    n_classes = len(intercept)
    s = np.add(margins[:, :n_classes], intercept, dtype=np.float64)  # float64 (exact cast), one pass
    if layout is None:
        s /= temperature
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        return s
    if layout.order is not None:
        s = s[:, layout.order]
    s /= group_temperature
    top = np.add(margins[:, n_classes:], group_intercept, dtype=np.float64)
    top /= group_temperature
    log_group = log_softmax(top)[:, layout.group_at]  # (n, groups with classes), group-rank order
    m = np.maximum.reduceat(s, layout.starts, axis=1)
    _add_by_group(s, -m, layout)  # s - M <= 0
    e = np.exp(s)
    # per group: (log P(group) - log sum exp(s - M)) / T, then shifted by the row's maximum
    shift = log_group - np.log(np.add.reduceat(e, layout.starts, axis=1))
    shift /= temperature
    shift -= shift.max(axis=1, keepdims=True)
    np.multiply(s, 1.0 / temperature, out=e)
    _add_by_group(e, shift, layout)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e if layout.inverse is None else e[:, layout.inverse]


def _add_by_group(x: np.ndarray, per_group: np.ndarray, layout: GroupLayout) -> None:
    """``x[:, columns of group g] += per_group[:, g]`` in place (classes ordered by group).

    One slice per group for a few groups (no temporary as large as ``x``), else one
    ``np.repeat``.
    """
    if len(layout.starts) > 64:
        x += np.repeat(per_group, layout.sizes, axis=1)
        return
    for g, (start, size) in enumerate(zip(layout.starts.tolist(), layout.sizes.tolist(), strict=True)):
        x[:, start:start + size] += per_group[:, g:g + 1]

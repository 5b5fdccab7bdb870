"""Array-at-a-time pieces of coding a chunk, without Python work per record.

Used by ``Coder._code_chunk``: the level of every class looked up once, the probabilities
of every level of the tree summed in one sparse product, and the candidates JSON of a whole
chunk built column by column. (De-duplicating repeated texts stays a dict
look-up per record in ``Coder.code``: measured faster than ``pandas.factorize`` on chunks.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from statcoder.classifications import Classification

#: "%.4f" of every multiple of 0.0001 in [0, 1]: probabilities are formatted by table look-up
_P4 = np.array([f"{i / 10000:.4f}" for i in range(10001)], dtype=object)


def class_levels(classification: Classification, classes: Sequence[str]) -> np.ndarray:
    """The level (1 = top) of each class, as an int64 array in ``classes`` order."""
    return np.array([classification.level(c) for c in classes], dtype=np.int64)


def candidate_prefixes(classification: Classification, classes: Sequence[str]) -> np.ndarray:
    """Per class, the JSON text of its candidate up to the probability: ``{"code": .., "title": .., "p": ``."""
    return np.array(['{"code": ' + json.dumps(c) + ', "title": ' + json.dumps(classification.title(c)) + ', "p": '
                     for c in classes], dtype=object)


def top_k(proba: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indexes and probabilities of the ``k`` best classes per row, best first (ties: lower index).

    For a few candidates among many classes, ``k`` row-wise ``argmax`` passes (vectorised,
    and ``argmax`` takes the first of equal values, so ties keep the lower index without a
    sort); the chosen entries are masked in place and restored before returning.
    Probabilities must not be NaN.
    """
    n, width = proba.shape
    k = min(k, width)
    if k == width or k * 16 > width or not proba.flags.writeable:
        return _top_k_sorted(proba, k)
    rows = np.arange(n)
    top = np.empty((n, k), dtype=np.int64)
    top_p = np.empty((n, k), dtype=proba.dtype)
    done = 0
    try:
        for j in range(k):
            best = proba.argmax(axis=1)
            top[:, j] = best
            top_p[:, j] = proba[rows, best]
            proba[rows, best] = -np.inf
            done = j + 1
    finally:
        for j in range(done):
            proba[rows, top[:, j]] = top_p[:, j]
    return top, top_p


def _top_k_sorted(proba: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` by sorting (many candidates, or a read-only array): a stable sort of whole rows
    up to 1,024 classes (ties: lower index), else ``argpartition`` and a sort of the chosen."""
    k = min(k, proba.shape[1])
    if proba.shape[1] <= 1024:
        top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return top, np.take_along_axis(proba, top, axis=1)
    if k < proba.shape[1]:
        top = np.argpartition(-proba, k - 1, axis=1)[:, :k]
    else:
        top = np.tile(np.arange(proba.shape[1]), (len(proba), 1))
    top_p = np.take_along_axis(proba, top, axis=1)
    order = np.lexsort((top, -top_p), axis=1) if k > 1 else np.zeros((len(proba), 1), dtype=np.int64)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_p, order, axis=1)


def candidates_json(prefixes: np.ndarray, proba: np.ndarray, k: int, *,
                    margins: np.ndarray | None = None) -> np.ndarray:
    """The candidates JSON list (``[{"code", "title", "p"}, ...]``, best first) of every row.

    Built one candidate column at a time with vectorised string concatenation; ``p`` is
    rounded to 4 decimals. ``margins`` (float array, one per row), when given, receives each
    row's p(best) - p(second) of those rounded probabilities (p(best) with one candidate): the
    margin the review queue orders by, without parsing the JSON again.
    """
    top, top_p = top_k(proba, k)
    steps = np.rint(np.clip(top_p, 0.0, 1.0) * 10000).astype(np.int64)
    p_text = _P4[steps]
    if margins is not None:
        margins[:] = steps[:, 0] / 10000 - (steps[:, 1] / 10000 if steps.shape[1] > 1 else 0.0)
    out = np.full(len(proba), "[", dtype=object)
    for j in range(top.shape[1]):
        out = out + prefixes[top[:, j]] + p_text[:, j] + ("}, " if j < top.shape[1] - 1 else "}]")
    return out



class LevelAggregator:
    """Best code and its probability at every level, for a whole chunk, without a matrix product.

    Built once per coder from the per-level 0/1 aggregation matrices (class -> code of that
    level, ``statcoder.coder.levels.level_aggregators``). A level whose matrix is the identity
    (the leaf level when every class is a leaf of it) reads the probabilities directly. A
    level where every class has at most one code and every code at least one class is summed
    with ``np.add.reduceat`` over the class columns sorted by code (classes sorted by code
    usually are, and then nothing is copied), or from the sums of the next deeper level when
    that level's codes nest in its codes. Any other level keeps the sparse product. Gives
    what ``statcoder.coder.levels.best_by_level`` gives (sums may differ in the last bit).
    """

    def __init__(self, aggregators: dict[int, tuple[sp.csr_matrix, list[str]]]) -> None:
        #: per level: (level, codes, how): how = None (identity), "empty", a matrix, or (columns, starts)
        self.levels: list[tuple[int, np.ndarray, object]] = []
        for level, (matrix, codes) in aggregators.items():
            codes_arr = np.asarray(codes, dtype=object)
            if matrix.shape[1] == 0:
                self.levels.append((level, codes_arr, "empty"))
                continue
            if matrix.shape[0] == matrix.shape[1] and (matrix != sp.identity(matrix.shape[0], format="csr")).nnz == 0:
                self.levels.append((level, codes_arr, None))
                continue
            self.levels.append((level, codes_arr, _segments(sp.csr_matrix(matrix, dtype=np.float64))))
        self._chain(aggregators)

    def _chain(self, aggregators: dict[int, tuple[sp.csr_matrix, list[str]]]) -> None:
        """Sum a level from the sums of a deeper one where each of the deeper level's codes lies
        in one code of it (level 3 from the leaves, level 2 from level 3, ...): fewer columns."""
        full: dict[int, np.ndarray] = {}  # level -> code of every class, for levels summed in class order
        for level, _, how in self.levels:
            matrix = aggregators[level][0]
            if how is None:
                full[level] = np.arange(matrix.shape[0])
            elif isinstance(how, tuple) and how[0] is None and len(matrix.indices) == matrix.shape[0]:
                full[level] = np.asarray(matrix.indices, dtype=np.int64)
        chained = []
        for level, codes, how in self.levels:
            deeper = [d for d in sorted(full) if d > level]
            if level in full and isinstance(how, tuple) and deeper:
                d = deeper[0]
                first = np.flatnonzero(np.r_[True, np.diff(full[d]) != 0])  # first class of each deeper code
                segment = np.cumsum(np.r_[True, np.diff(full[d]) != 0]) - 1
                if np.array_equal(full[level], full[level][first][segment]):
                    starts = np.flatnonzero(np.r_[True, np.diff(full[level][first]) != 0])
                    how = ("from", d, starts)
            chained.append((level, codes, how))
        self.levels = sorted(chained, key=lambda entry: -entry[0])  # deeper levels first

    def best(self, proba: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per level: (best code per record as an object array, its probability summed up the tree)."""
        rows = np.arange(len(proba))
        out, sums = {}, {}
        for level, codes, how in self.levels:
            if isinstance(how, str):
                out[level] = (np.full(len(proba), "", dtype=object), np.zeros(len(proba)))
                continue
            if how is None:
                agg = proba
            elif isinstance(how, tuple) and len(how) == 3:  # ("from", deeper level, starts)
                agg = np.add.reduceat(sums[how[1]], how[2], axis=1)
            elif isinstance(how, tuple):
                columns, starts = how
                agg = np.add.reduceat(proba if columns is None else proba[:, columns], starts, axis=1)
            else:
                agg = np.asarray(proba @ how)
            sums[level] = agg
            best = agg.argmax(axis=1)
            out[level] = (codes[best], agg[rows, best])
        return {level: out[level] for level in sorted(out)}


def _segments(matrix: sp.csr_matrix) -> tuple[np.ndarray | None, np.ndarray] | sp.csc_matrix:
    """(class columns ordered by code or None when already, start of each code) for ``reduceat``,
    or the matrix itself (as CSC) when the level is not a plain grouping of classes."""
    per_class = np.diff(matrix.indptr)
    per_code = np.bincount(matrix.indices, minlength=matrix.shape[1])
    if per_class.max(initial=0) > 1 or per_code.min(initial=1) < 1 or not np.all(matrix.data == 1.0):
        return sp.csc_matrix(matrix)
    classes = np.flatnonzero(per_class == 1)
    code_of = matrix.indices  # one entry per class that has a code, in class order
    order = classes[np.argsort(code_of, kind="stable")]
    starts = np.r_[0, np.cumsum(per_code)[:-1]]
    columns = None if np.array_equal(order, np.arange(matrix.shape[0])) else order
    return columns, starts

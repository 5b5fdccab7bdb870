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
    """Column indexes and probabilities of the ``k`` best classes per row, best first (ties: lower index)."""
    k = min(k, proba.shape[1])
    if k < proba.shape[1]:
        top = np.argpartition(-proba, k - 1, axis=1)[:, :k]
    else:
        top = np.tile(np.arange(proba.shape[1]), (len(proba), 1))
    top_p = np.take_along_axis(proba, top, axis=1)
    order = np.lexsort((top, -top_p), axis=1) if k > 1 else np.zeros((len(proba), 1), dtype=np.int64)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_p, order, axis=1)


def candidates_json(prefixes: np.ndarray, proba: np.ndarray, k: int) -> np.ndarray:
    """The candidates JSON list (``[{"code", "title", "p"}, ...]``, best first) of every row.

    Built one candidate column at a time with vectorised string concatenation; ``p`` is
    rounded to 4 decimals.
    """
    top, top_p = top_k(proba, k)
    p_text = _P4[np.rint(np.clip(top_p, 0.0, 1.0) * 10000).astype(np.int64)]
    out = np.full(len(proba), "[", dtype=object)
    for j in range(top.shape[1]):
        out = out + prefixes[top[:, j]] + p_text[:, j] + ("}, " if j < top.shape[1] - 1 else "}]")
    return out



class LevelAggregator:
    """Best code and its probability at every level, for a whole chunk in one sparse product.

    Built once per coder from the per-level 0/1 aggregation matrices (class -> code of that
    level, ``statcoder.coder.levels.level_aggregators``). A level whose matrix is the identity
    (the leaf level when every class is a leaf of it) reads the probabilities directly; the
    other levels are stacked side by side and summed by one ``proba @ A`` product. Gives what
    ``statcoder.coder.levels.best_by_level`` gives (sums may differ in the last bit).
    """

    def __init__(self, aggregators: dict[int, tuple[sp.csr_matrix, list[str]]]) -> None:
        self.levels: list[tuple[int, np.ndarray, slice | None]] = []
        stacked, width = [], 0
        for level, (matrix, codes) in aggregators.items():
            codes_arr = np.asarray(codes, dtype=object)
            if matrix.shape[1] == 0:
                self.levels.append((level, codes_arr, slice(0, 0)))
                continue
            if matrix.shape[0] == matrix.shape[1] and (matrix != sp.identity(matrix.shape[0], format="csr")).nnz == 0:
                self.levels.append((level, codes_arr, None))
                continue
            stacked.append(sp.csr_matrix(matrix, dtype=np.float64))
            self.levels.append((level, codes_arr, slice(width, width + matrix.shape[1])))
            width += matrix.shape[1]
        self.matrix = sp.hstack(stacked, format="csc") if stacked else None

    def best(self, proba: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per level: (best code per record as an object array, its probability summed up the tree)."""
        summed = np.asarray(proba @ self.matrix) if self.matrix is not None else None
        rows = np.arange(len(proba))
        out = {}
        for level, codes, columns in self.levels:
            if columns is not None and columns.stop == columns.start:
                out[level] = (np.full(len(proba), "", dtype=object), np.zeros(len(proba)))
                continue
            agg = proba if columns is None else summed[:, columns]
            best = agg.argmax(axis=1)
            out[level] = (codes[best], agg[rows, best])
        return out

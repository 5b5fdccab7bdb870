"""The best code at every level of the tree, from leaf probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from statcoder.classifications import Classification

Aggregators = Mapping[int, tuple[sp.csr_matrix, list[str]]]


def level_aggregators(classification: Classification, classes: Sequence[str]) -> dict[int, tuple[sp.csr_matrix, list[str]]]:
    """Per level 1..depth: the 0/1 matrix summing class columns into that level, and its codes."""
    return {lv: classification.aggregation_matrix(classes, lv) for lv in range(1, classification.depth + 1)}


def best_by_level(proba: np.ndarray, aggregators: Aggregators) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per level: (best code per record as an object array, its probability summed up the tree).

    A level that no class reaches gives "" with probability 0.
    """
    out = {}
    for level, (matrix, codes) in aggregators.items():
        if matrix.shape[1] == 0:
            out[level] = (np.full(len(proba), "", dtype=object), np.zeros(len(proba)))
            continue
        agg = np.asarray(matrix.T.dot(proba.T).T)
        best = agg.argmax(axis=1)
        out[level] = (np.asarray(codes, dtype=object)[best], agg[np.arange(len(agg)), best])
    return out


def top_level_groups(classification: Classification, codes: Sequence[str]) -> dict[str, str]:
    """Code -> its top-level group, for the hierarchy-aware linear model (one rule, used by
    ``train``, ``out_of_fold_proba`` and the quality checks)."""
    return {c: classification.truncate(c, 1) for c in set(codes) if c in classification}

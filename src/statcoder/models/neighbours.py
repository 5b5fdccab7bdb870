"""Nearest-neighbour evidence: the codes of the most similar training texts, as class votes.

A coding index and previously coded answers are lists of (text, code) pairs; an answer very
close to one of them (a plural, a word order, a typo, one extra word) most likely shares its
code. Schierholz & Schonlau (2020) found that combining such a similarity vote with a
statistical classifier was the most accurate of the occupation coders they compared. Here
the similarity is the cosine between the texts' TF-IDF vectors (the same word and character
n-grams the linear model reads), and the ``k`` most similar training texts vote for their
codes with weight ``similarity ** power`` (a high power lets a near-duplicate outvote a
crowd of loose matches).

Out of fold the votes only ever come from the rows the model was fitted on: scores for a
record are honest exactly when the record was not in the fitted rows, which is how
``statcoder`` computes every held-out score (a refit per fold).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_CELLS_PER_CHUNK = 8_000_000  # dense similarity cells computed at once (32 MB of float32)


def neighbour_votes(
    queries: sp.csr_matrix,
    index: sp.csr_matrix,
    index_class: np.ndarray,
    n_classes: int,
    *,
    k: int,
    power: float,
) -> np.ndarray:
    """Return (n_queries, n_classes) vote shares of the ``k`` nearest index rows; rows sum to 1 or 0.

    ``queries`` and ``index`` are row-normalised sparse matrices over the same features
    (their product is the cosine similarity); ``index_class`` holds each index row's class
    column. A query with no overlapping feature gets a row of zeros.
    """
    n, n_index = queries.shape[0], index.shape[0]
    votes = np.zeros((n, n_classes), dtype=np.float64)
    if n == 0 or n_index == 0 or k < 1:
        return votes
    k = min(k, n_index)
    index_t = sp.csr_matrix(index.T)
    step = max(1, _CELLS_PER_CHUNK // n_index)
    for start in range(0, n, step):
        block = queries[start:start + step]
        sims = np.asarray((block @ index_t).todense(), dtype=np.float32)
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n_index else np.tile(np.arange(n_index), (len(sims), 1))
        weight = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0).astype(np.float64) ** power
        rows = np.repeat(np.arange(start, start + len(sims)), top.shape[1])
        np.add.at(votes, (rows, index_class[top].ravel()), weight.ravel())
    total = votes.sum(axis=1, keepdims=True)
    np.divide(votes, total, out=votes, where=total > 0)
    return votes


def row_normalise(Z: sp.csr_matrix) -> sp.csr_matrix:
    """Return ``Z`` with every non-empty row scaled to unit L2 norm (float32 CSR)."""
    Z = sp.csr_matrix(Z, dtype=np.float32)
    norms = np.sqrt(np.asarray(Z.multiply(Z).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    return sp.csr_matrix(sp.diags(scale) @ Z, dtype=np.float32)

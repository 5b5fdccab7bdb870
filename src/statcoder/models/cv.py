"""The K-fold split statcoder uses (the recipe that uses it is ``statcoder.coder.HierarchicalCoder``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold


def fold_indices(codes: Sequence[str], *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (train, test) index pairs: stratified by code where possible, shuffled with ``seed``."""
    y = np.asarray([str(c) for c in codes])
    _, counts = np.unique(y, return_counts=True)
    dummy = np.zeros(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes with fewer members than folds
        if counts.max() >= n_splits:
            splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            return list(splitter.split(dummy, y))
    return list(KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(dummy))

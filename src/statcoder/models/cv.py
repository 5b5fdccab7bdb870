"""Out-of-fold scores and calibrated probabilities by K-fold cross-validation.

Every threshold and every held-out metric statcoder reports is computed on predictions
for records the model did not see, so they estimate performance on new data honestly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from statcoder.models.calibration import fit_temperature, softmax

ProgressFn = Callable[[int, int, str], None]


def fold_indices(codes: Sequence[str], *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (train, test) index pairs: stratified by code where possible, shuffled with ``seed``."""
    y = np.asarray(codes, dtype=object)
    _, counts = np.unique(y, return_counts=True)
    dummy = np.zeros(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes with fewer members than folds
        if counts.max() >= n_splits:
            splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            return list(splitter.split(dummy, y))
    return list(KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(dummy))


def out_of_fold_scores(
    make_estimator: Callable[[], Any],
    texts: Sequence[str],
    codes: Sequence[str],
    *,
    n_splits: int = 5,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Return out-of-fold decision scores (n, n_classes) and the classes (sorted codes).

    Classes absent from a fold's training part get a score of ``-inf`` for that fold's records
    (probability 0; such records carry no information for calibration and are left out of it).
    """
    texts = list(texts)
    y = np.asarray([str(c) for c in codes], dtype=object)
    classes = sorted(set(y.tolist()))
    column = {c: i for i, c in enumerate(classes)}
    scores = np.full((len(y), len(classes)), -np.inf)
    folds = fold_indices(y, n_splits=n_splits, seed=seed)
    for done, (train_idx, test_idx) in enumerate(folds, start=1):
        model = make_estimator().fit([texts[i] for i in train_idx], y[train_idx])
        fold_scores = model.decision_function([texts[i] for i in test_idx])
        cols = np.asarray([column[c] for c in model.classes_], dtype=np.int64)
        scores[np.ix_(test_idx, cols)] = fold_scores
        if on_progress is not None:
            on_progress(done, len(folds), "cross-validation")
    return scores, classes


def cross_val_proba(
    texts: Sequence[str],
    codes: Sequence[str],
    *,
    backend: str = "linear",
    n_splits: int = 5,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
    **params: Any,
) -> tuple[np.ndarray, list[str]]:
    """Return out-of-fold calibrated probabilities (n, n_classes; rows sum to 1) and the classes.

    The temperature is fitted on the out-of-fold scores themselves (one parameter, so the
    optimism is negligible next to the n records).
    """
    from statcoder.models.registry import make_model

    scores, classes = out_of_fold_scores(
        lambda: make_model(backend, seed=seed, **params), texts, codes, n_splits=n_splits, seed=seed,
        on_progress=on_progress,
    )
    column = {c: i for i, c in enumerate(classes)}
    y_index = np.asarray([column[str(c)] for c in codes])
    # A record whose class was absent from its fold's training part has the -1e3 filler as
    # true-class score; left in, it drives the temperature to its upper bound (flat probabilities).
    unseen = scores[np.arange(len(y_index)), y_index] <= -1e3
    temperature = fit_temperature(scores, np.where(unseen, -1, y_index))
    return softmax(scores, temperature=temperature), classes

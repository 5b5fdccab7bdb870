"""What the errors look like: per-code precision/recall, confused pairs, tree distance of errors.

An error inside the same 3-digit group is less harmful than one across major groups, so the
tree distance (``Classification.tree_distance``: levels from the deeper code up to the
deepest common ancestor; 0 = same code) is reported for every wrong prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from statcoder.evaluation.metrics import encode_pair


def per_code_table(y_true: Sequence[str], y_pred: Sequence[str], *, classification: Any) -> pd.DataFrame:
    """Support, precision, recall and F1 for every code seen in truth or prediction.

    Returns columns ``code, title, support, predicted, precision, recall, f1`` sorted by
    support (descending). Precision is NaN for codes never predicted, recall NaN for codes
    never true. Proportions in [0, 1].
    """
    truth = np.asarray(y_true, dtype=object)
    pred = np.asarray(y_pred, dtype=object)
    t, p, labels = encode_pair(truth, pred)
    k = len(labels)
    support = np.bincount(t, minlength=k)
    coded = p >= 0
    predicted = np.bincount(p[coded], minlength=k)
    tp = np.bincount(t[t == p], minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), np.nan)
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        f1 = np.where(support + predicted > 0, 2 * tp / np.maximum(support + predicted, 1), np.nan)
    frame = pd.DataFrame(
        {
            "code": labels,
            "title": [classification.title(c) if c in classification else "" for c in labels],
            "support": support,
            "predicted": predicted,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    )
    return frame.sort_values(["support", "code"], ascending=[False, True], kind="stable").reset_index(drop=True)


def confused_pairs(
    y_true: Sequence[str], y_pred: Sequence[str], *, classification: Any, top: int = 20
) -> pd.DataFrame:
    """The most frequent (true code, predicted code) errors.

    Returns columns ``true_code, true_title, predicted_code, predicted_title, n,
    share_of_errors, tree_distance`` for the ``top`` most frequent pairs, plus a column
    ``rows`` with the record positions of each pair (for example texts; not for JSON).
    """
    truth = np.asarray(y_true, dtype=object)
    pred = np.asarray(y_pred, dtype=object)
    wrong = np.flatnonzero((truth != pred) & (pred != ""))
    if wrong.size == 0:
        return pd.DataFrame(
            columns=["true_code", "true_title", "predicted_code", "predicted_title", "n", "share_of_errors", "tree_distance", "rows"]
        )
    pairs = pd.DataFrame({"t": truth[wrong], "p": pred[wrong], "row": wrong})
    grouped = pairs.groupby(["t", "p"], sort=False)["row"].agg(list).reset_index()
    grouped["n"] = grouped["row"].map(len)
    grouped = grouped.sort_values(["n", "t", "p"], ascending=[False, True, True], kind="stable").head(top)
    return pd.DataFrame(
        {
            "true_code": grouped["t"].to_numpy(),
            "true_title": [classification.title(c) for c in grouped["t"]],
            "predicted_code": grouped["p"].to_numpy(),
            "predicted_title": [classification.title(c) for c in grouped["p"]],
            "n": grouped["n"].to_numpy(dtype=int),
            "share_of_errors": grouped["n"].to_numpy(dtype=float) / wrong.size,
            "tree_distance": [classification.tree_distance(a, b) for a, b in zip(grouped["t"], grouped["p"], strict=True)],
            "rows": grouped["row"].to_list(),
        }
    ).reset_index(drop=True)


def error_tree_distances(y_true: Sequence[str], y_pred: Sequence[str], *, classification: Any) -> dict[str, Any]:
    """Tree distance of the wrong predictions: mean and a count per distance.

    Uncoded predictions (``""``) are left out. Returns ``{"n_errors", "mean_distance",
    "distribution": [{"distance", "n", "share"}]}`` (distance in levels).
    """
    truth = np.asarray(y_true, dtype=object)
    pred = np.asarray(y_pred, dtype=object)
    wrong = np.flatnonzero((truth != pred) & (pred != ""))
    cache: dict[tuple[str, str], int] = {}
    distances = np.empty(wrong.size, dtype=int)
    for j, i in enumerate(wrong):
        key = (truth[i], pred[i])
        if key not in cache:
            cache[key] = classification.tree_distance(*key)
        distances[j] = cache[key]
    values, counts = np.unique(distances, return_counts=True)
    return {
        "n_errors": int(wrong.size),
        "mean_distance": float(distances.mean()) if wrong.size else float("nan"),
        "distribution": [
            {"distance": int(v), "n": int(c), "share": float(c / wrong.size)} for v, c in zip(values, counts, strict=True)
        ],
    }

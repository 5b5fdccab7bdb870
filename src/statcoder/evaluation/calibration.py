"""Calibration of predicted probabilities: top-label ECE, classwise ECE, reliability data.

* Top-label ECE (Guo et al. 2017, "On calibration of modern neural networks"): records are
  binned by the probability of their predicted class into ``n_bins`` equal-width bins on
  [0, 1]; ECE = sum over bins of (bin share) x |accuracy in bin - mean confidence in bin|.
* Classwise ECE (Kull et al. 2019, "Beyond temperature scaling"): for every class k, the
  same binned gap between p_k and 1[y = k] over all records; the mean over classes.
  With many classes most p_k are near 0, so the value is small; it is reported for the
  classes that occur in the truth or get probability mass.

Bins are closed on the right, the first one also on the left: [0, 1/B], ..., ((B-1)/B, 1]
(the binning of scikit-learn's ``calibration_curve``). Empty bins contribute nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each confidence in [0, 1], right-closed, as scikit-learn's ``calibration_curve``."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], confidence, side="left")


def reliability_table(confidence: Sequence[float], correct: Sequence[bool], *, n_bins: int = 15) -> pd.DataFrame:
    """Data for a reliability diagram: one row per non-empty equal-width bin.

    Columns ``bin_lower, bin_upper, n, mean_confidence, accuracy, gap`` where
    ``gap = accuracy - mean_confidence`` (negative = over-confident). Proportions in [0, 1].
    """
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.shape != hit.shape:
        raise ValueError("confidence and correct must have the same length")
    bins = _bin_index(conf, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=conf, minlength=n_bins)
    hit_sum = np.bincount(bins, weights=hit, minlength=n_bins)
    rows = []
    for b in np.flatnonzero(count):
        mean_conf = conf_sum[b] / count[b]
        acc = hit_sum[b] / count[b]
        rows.append(
            {
                "bin_lower": b / n_bins,
                "bin_upper": (b + 1) / n_bins,
                "n": int(count[b]),
                "mean_confidence": float(mean_conf),
                "accuracy": float(acc),
                "gap": float(acc - mean_conf),
            }
        )
    return pd.DataFrame(rows, columns=["bin_lower", "bin_upper", "n", "mean_confidence", "accuracy", "gap"])


def top_label_ece(confidence: Sequence[float], correct: Sequence[bool], *, n_bins: int = 15) -> float:
    """Expected calibration error of the predicted class's probability (in [0, 1])."""
    conf = np.asarray(confidence, dtype=float)
    if conf.size == 0:
        return float("nan")
    hit = np.asarray(correct, dtype=float)
    bins = _bin_index(conf, n_bins)
    gap = np.abs(np.bincount(bins, weights=hit, minlength=n_bins) - np.bincount(bins, weights=conf, minlength=n_bins))
    return float(gap.sum() / conf.size)


def classwise_ece(
    proba: np.ndarray, classes: Sequence[str], y_true: Sequence[str], *, n_bins: int = 15
) -> float:
    """Mean over classes of the binned calibration error of p_k against 1[y = k] (in [0, 1]).

    Classes averaged over: those that occur in ``y_true`` or are the top prediction of some
    record (the others have p_k close to 0 and y != k everywhere, so they add ~0 and only
    dilute the mean).
    """
    proba = np.asarray(proba, dtype=float)
    n = proba.shape[0]
    if n == 0:
        return float("nan")
    column = {code: i for i, code in enumerate(classes)}
    truth = np.array([column.get(str(c), -1) for c in y_true], dtype=np.int64)
    used = np.union1d(truth[truth >= 0], np.unique(proba.argmax(axis=1)))
    errors = []
    for j in used:
        p = proba[:, j]
        bins = _bin_index(p, n_bins)
        y = (truth == j).astype(float)
        gap = np.abs(np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins))
        errors.append(gap.sum() / n)
    return float(np.mean(errors)) if errors else float("nan")


def calibration_summary(
    proba: np.ndarray, classes: Sequence[str], y_true: Sequence[str], *, n_bins: int = 15
) -> dict[str, object]:
    """Top-label ECE, classwise ECE, mean confidence, accuracy and the reliability table.

    Returns a dict with keys ``top_label_ece``, ``classwise_ece``, ``mean_confidence``,
    ``accuracy`` (all in [0, 1]) and ``reliability`` (a frame, see ``reliability_table``).
    """
    proba = np.asarray(proba, dtype=float)
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(top)), top]
    predicted = np.asarray(classes, dtype=object)[top]
    correct = predicted == np.asarray([str(c) for c in y_true], dtype=object)
    return {
        "top_label_ece": top_label_ece(confidence, correct, n_bins=n_bins),
        "classwise_ece": classwise_ece(proba, classes, y_true, n_bins=n_bins),
        "mean_confidence": float(confidence.mean()) if len(confidence) else float("nan"),
        "accuracy": float(correct.mean()) if len(correct) else float("nan"),
        "reliability": reliability_table(confidence, correct, n_bins=n_bins),
    }

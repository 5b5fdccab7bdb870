"""Accuracy metrics for hierarchical coding: per level, top-k, per code, automation shares.

Pure functions in the cleanlab style: arrays (or sequences of code strings) in, numbers or
small data frames out, options keyword-only. A predicted code ``""`` means "not coded" and
always counts as wrong. Codes are compared after truncating both the truth and the
prediction to the level being scored (``Classification.truncate``); a prediction coded at a
coarser level than the one scored (``partial`` coding) therefore counts as wrong there.

Macro-F1 is the unweighted mean of the per-code F1 over the codes present in the truth;
weighted-F1 weights each code's F1 by its support. This equals scikit-learn's
``f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro" | "weighted")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from statcoder.contract import DECISIONS


def _as_str_array(values: Sequence[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Codes as an object array of ``str``; missing values become ``""`` (not coded)."""
    out = pd.Series(values, dtype=object).where(lambda s: s.notna(), "").astype(str)
    return out.to_numpy(dtype=object)


def truncate_codes(codes: Sequence[str] | np.ndarray, level: int, *, classification: Any) -> np.ndarray:
    """Each code truncated to ``level`` (its ancestor there); ``""`` and unknown codes stay as given.

    Returns an object array of str, same length as ``codes``.
    """
    codes = _as_str_array(codes)
    cache: dict[str, str] = {}
    out = np.empty(len(codes), dtype=object)
    for i, code in enumerate(codes):
        hit = cache.get(code)
        if hit is None:
            hit = classification.truncate(code, level) if code and code in classification else code
            cache[code] = hit
        out[i] = hit
    return out


def encode_pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Integer-encode truth and prediction on one shared label list.

    Returns ``(t, p, labels)``; ``p`` is -1 where the prediction is ``""`` (not coded).
    """
    labels = sorted(set(y_true.tolist()) | (set(y_pred.tolist()) - {""}))
    index = {code: i for i, code in enumerate(labels)}
    t = np.fromiter((index[c] for c in y_true), dtype=np.int64, count=len(y_true))
    p = np.fromiter((index.get(c, -1) if c else -1 for c in y_pred), dtype=np.int64, count=len(y_pred))
    return t, p, labels


def f1_scores(
    t: np.ndarray, p: np.ndarray, *, n_labels: int, weights: np.ndarray | None = None
) -> dict[str, Any]:
    """Accuracy, macro-F1 and weighted-F1 from integer-encoded truth ``t`` and prediction ``p``.

    ``p == -1`` is "not coded" (wrong). ``weights`` are per-record frequency weights: a
    vector of length n (floats returned) or an (m, n) matrix of m bootstrap replicates
    (arrays of m values returned). Macro-F1 averages over labels with positive support in
    the truth (of that replicate). Values are proportions in [0, 1], NaN for zero weight.
    """
    t = np.asarray(t, dtype=np.int64)
    p = np.asarray(p, dtype=np.int64)
    n = t.size
    single = weights is None or np.ndim(weights) == 1
    w = np.ones((1, n)) if weights is None else np.atleast_2d(np.asarray(weights, dtype=float))
    hit = t == p
    rows = np.arange(n)
    one_hot_t = sp.csr_matrix((np.ones(n), (rows, t)), shape=(n, n_labels))
    one_hot_hit = sp.csr_matrix((hit.astype(float), (rows, t)), shape=(n, n_labels))
    coded = p >= 0
    one_hot_p = sp.csr_matrix((np.ones(int(coded.sum())), (rows[coded], p[coded])), shape=(n, n_labels))
    # (K, n) sparse @ (n, m) dense -> (K, m); transposed back to one row per replicate
    support = np.asarray(one_hot_t.T @ w.T).T
    tp = np.asarray(one_hot_hit.T @ w.T).T
    predicted = np.asarray(one_hot_p.T @ w.T).T
    total = w.sum(axis=1)
    denom = support + predicted
    f1 = np.divide(2.0 * tp, denom, out=np.zeros_like(denom), where=denom > 0)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "accuracy": np.where(total > 0, (w @ hit.astype(float)) / total, np.nan),
            "macro_f1": np.where(present.any(axis=1), (f1 * present).sum(axis=1) / present.sum(axis=1), np.nan),
            "weighted_f1": np.where(total > 0, (f1 * support).sum(axis=1) / total, np.nan),
        }
    return {k: float(v[0]) for k, v in out.items()} if single else out


def scores_by_level(
    y_true: Sequence[str], y_pred: Sequence[str], *, classification: Any, levels: Sequence[int] | None = None
) -> pd.DataFrame:
    """Accuracy, macro-F1 and weighted-F1 at each level of the classification.

    Both codes are truncated to each level before comparing; ``""`` predictions count as
    wrong. Records whose true code is shallower than a level (e.g. a broad-group code) are
    left out at that level, so ``n`` can fall with depth. Returns a frame with columns ``level, n, accuracy, macro_f1, weighted_f1``
    (proportions in [0, 1]), one row per level, top level first.
    """
    truth = _as_str_array(y_true)
    pred = _as_str_array(y_pred)
    if len(truth) != len(pred):
        raise ValueError(f"y_true has {len(truth)} codes but y_pred has {len(pred)}")
    true_level = np.array([classification.level(c) if c in classification else 0 for c in truth])
    rows = []
    for level in levels or range(1, classification.depth + 1):
        # a true code shallower than `level` says nothing about that level: leave it out
        keep = (true_level >= level) | (true_level == 0)
        t_codes = truncate_codes(truth[keep], level, classification=classification)
        p_codes = truncate_codes(pred[keep], level, classification=classification)
        t, p, labels = encode_pair(t_codes, p_codes)
        rows.append({"level": level, "n": int(keep.sum()), **f1_scores(t, p, n_labels=len(labels))})
    return pd.DataFrame(rows, columns=["level", "n", "accuracy", "macro_f1", "weighted_f1"])


def top_k_hits(proba: np.ndarray, classes: Sequence[str], y_true: Sequence[str], *, k: int) -> np.ndarray:
    """Per record: is the true code among the ``k`` most probable columns? Boolean array.

    A true code that is not one of ``classes`` is a miss.
    """
    proba = np.asarray(proba, dtype=float)
    truth = _as_str_array(y_true)
    if proba.shape != (len(truth), len(classes)):
        raise ValueError(f"proba has shape {proba.shape}, expected ({len(truth)}, {len(classes)})")
    column = {code: i for i, code in enumerate(classes)}
    idx = np.array([column.get(c, -1) for c in truth], dtype=np.int64)
    k = min(int(k), proba.shape[1])
    if k < 1:
        raise ValueError("k must be at least 1")
    known = idx >= 0
    hits = np.zeros(len(truth), dtype=bool)
    if known.any():
        rows = np.flatnonzero(known)
        p_true = proba[rows, idx[rows]]
        # rank = number of classes strictly more probable than the true one: a tie with the
        # k-th class counts as a hit (scikit-learn breaks ties by column order instead)
        higher = (proba[rows] > p_true[:, None]).sum(axis=1)
        hits[rows] = higher < k
    return hits


def top_k_accuracy(proba: np.ndarray, classes: Sequence[str], y_true: Sequence[str], *, k: int) -> float:
    """Share of records whose true code is among the ``k`` most probable classes (in [0, 1])."""
    return float(top_k_hits(proba, classes, y_true, k=k).mean()) if len(y_true) else float("nan")


def top_k_by_level(
    proba: np.ndarray,
    classes: Sequence[str],
    y_true: Sequence[str],
    *,
    classification: Any,
    k: int = 5,
) -> pd.DataFrame:
    """Top-1 and top-k accuracy at every level, aggregating leaf probabilities up the tree.

    Returns a frame with columns ``level, top1, topk, k``.
    """
    truth = _as_str_array(y_true)
    rows = []
    for level in range(1, classification.depth + 1):
        agg, codes = classification.aggregate(np.asarray(proba, dtype=float), list(classes), level)
        t = truncate_codes(truth, level, classification=classification)
        rows.append(
            {
                "level": level,
                "top1": top_k_accuracy(agg, codes, t, k=1),
                "topk": top_k_accuracy(agg, codes, t, k=k),
                "k": min(k, len(codes)),
            }
        )
    return pd.DataFrame(rows, columns=["level", "top1", "topk", "k"])


def correct_at_coded_level(coded: pd.DataFrame, y_true: Sequence[str], *, classification: Any) -> np.ndarray:
    """Per record: does ``predicted_code`` equal the truth truncated to ``predicted_level``?

    Records without a predicted code are wrong. Returns a boolean array.
    """
    truth = _as_str_array(y_true)
    pred = _as_str_array(coded["predicted_code"])
    levels = pd.to_numeric(pd.Series(coded["predicted_level"]), errors="coerce").fillna(0).astype(int).to_numpy()
    out = np.zeros(len(truth), dtype=bool)
    for i, (t, p, lvl) in enumerate(zip(truth, pred, levels, strict=True)):
        if p and lvl > 0 and t in classification:
            out[i] = classification.truncate(t, lvl) == p
        elif p:
            out[i] = t == p
    return out


def automation_summary(coded: pd.DataFrame, y_true: Sequence[str], *, classification: Any) -> pd.DataFrame:
    """Share of records per decision and the accuracy of each share at the level it was coded.

    ``coded`` follows the coded-output contract (``predicted_code``, ``predicted_level``,
    ``decision``). ``partial`` records are scored as ``predicted_code`` against the truth
    truncated to ``predicted_level``; ``review`` rows are scored the same way on whatever
    code the model proposed (what accuracy would have been had they been accepted).
    Returns rows ``auto``, ``partial``, ``review``, ``automatic (auto+partial)`` with
    columns ``decision, n, share, accuracy, mean_level`` (share and accuracy in [0, 1]).
    """
    if len(coded) != len(y_true):
        raise ValueError(f"coded has {len(coded)} rows but y_true has {len(y_true)}")
    correct = correct_at_coded_level(coded, y_true, classification=classification)
    decision = _as_str_array(coded["decision"])
    levels = pd.to_numeric(pd.Series(coded["predicted_level"]), errors="coerce").to_numpy(dtype=float)
    n = len(decision)
    groups = [(d, decision == d) for d in DECISIONS]
    groups.append(("automatic (auto+partial)", (decision == "auto") | (decision == "partial")))
    rows = []
    for name, mask in groups:
        k = int(mask.sum())
        rows.append(
            {
                "decision": name,
                "n": k,
                "share": k / n if n else float("nan"),
                "accuracy": float(correct[mask].mean()) if k else float("nan"),
                "mean_level": float(np.nanmean(levels[mask])) if k and np.isfinite(levels[mask]).any() else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["decision", "n", "share", "accuracy", "mean_level"])

"""Automation: how much can be coded automatically, at what accuracy, at which level.

* The coverage-accuracy curve of a level ranks records by the confidence of their best code
  at that level and plots, for every cut-off, the share of records accepted (coverage)
  against the accuracy of the accepted records.
* The operating point is where the coder's threshold for that level cuts the curve; its
  accuracy comes with the one-sided Clopper-Pearson lower bound used to choose thresholds.
* The partial-coding gain counts the records coded at a coarser level (``partial``) that a
  full-depth-only rule would have sent to review.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def coverage_accuracy_curve(
    confidence: Sequence[float], correct: Sequence[bool], *, n_points: int = 101
) -> pd.DataFrame:
    """Coverage (share accepted) vs accuracy of the accepted records when accepting the most confident first.

    Returns at most ``n_points`` rows, evenly spaced in coverage, with columns
    ``coverage, accuracy, threshold`` (proportions in [0, 1]; threshold = lowest accepted
    confidence). Ties in confidence are accepted together, as a threshold would.
    """
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    n = conf.size
    if n == 0:
        return pd.DataFrame(columns=["coverage", "accuracy", "threshold"])
    order = np.argsort(-conf, kind="stable")
    sorted_conf = conf[order]
    cum_hits = np.cumsum(hit[order])
    # the last position of each run of equal confidence: a threshold cannot split ties
    last = np.flatnonzero(np.r_[sorted_conf[1:] != sorted_conf[:-1], True])
    wanted = np.unique(np.ceil(np.linspace(1, n, min(n_points, n))).astype(int) - 1)
    stops = np.unique(last[np.searchsorted(last, wanted)])
    return pd.DataFrame(
        {
            "coverage": (stops + 1) / n,
            "accuracy": cum_hits[stops] / (stops + 1),
            "threshold": sorted_conf[stops],
        }
    )


def operating_point(
    confidence: Sequence[float], correct: Sequence[bool], *, threshold: float, confidence_level: float = 0.95
) -> dict[str, float]:
    """Coverage, accuracy and Clopper-Pearson lower bound of the records with confidence >= threshold.

    Returns ``threshold, n_accepted, coverage, accuracy, cp_lower`` (proportions in [0, 1];
    accuracy and bound are NaN when nothing is accepted).
    """
    from statcoder.decision import clopper_pearson_lower

    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=bool)
    accepted = conf >= threshold
    k, m = int(hit[accepted].sum()), int(accepted.sum())
    return {
        "threshold": float(threshold),
        "n_accepted": m,
        "coverage": m / conf.size if conf.size else float("nan"),
        "accuracy": k / m if m else float("nan"),
        "cp_lower": float(clopper_pearson_lower(k, m, confidence=confidence_level)) if m else float("nan"),
    }


def partial_coding_gain(coded: pd.DataFrame, correct: Sequence[bool], *, depth: int) -> pd.DataFrame:
    """Records coded automatically per level, with their accuracy at the level coded.

    ``correct`` is per record (``metrics.correct_at_coded_level``). Returns one row per
    (level, decision) for ``auto`` and ``partial`` records, every level 1..``depth`` present
    for ``partial`` below full depth, with columns ``level, decision, n, share, accuracy``.
    The ``partial`` rows are the gain: records coded at a coarser level instead of going
    to review under a full-depth-only rule.
    """
    hit = np.asarray(correct, dtype=bool)
    levels = pd.to_numeric(pd.Series(coded["predicted_level"]), errors="coerce").fillna(0).astype(int).to_numpy()
    decision = pd.Series(coded["decision"]).astype(str).to_numpy()
    n = len(decision)
    pairs = {(lvl, "partial") for lvl in range(1, depth)} | {(depth, "auto")}
    pairs |= {(int(lvl), str(d)) for lvl, d in zip(levels, decision, strict=True) if d in ("auto", "partial")}
    rows = []
    for level, name in sorted(pairs):
        mask = (levels == level) & (decision == name)
        k = int(mask.sum())
        rows.append(
            {
                "level": level,
                "decision": name,
                "n": k,
                "share": k / n if n else float("nan"),
                "accuracy": float(hit[mask].mean()) if k else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["level", "decision", "n", "share", "accuracy"])

"""Per-level thresholds and held-out figures from out-of-fold probabilities (one place only).

``choose_thresholds`` is the decision calibration of ``HierarchicalCoder.fit`` and of
``Coder.recalibrate``; ``decision_summary`` the share and accuracy per decision that the model
card reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from statcoder.classifications import Classification
from statcoder.contract import Decision
from statcoder.decision import clopper_pearson_lower, decide, threshold_for_target


@dataclass(frozen=True)
class LevelFigures:
    """Held-out figures of one level: top-1 accuracy at that level over the records whose true
    code reaches it, the share of all records coded at that level, their accuracy (None when
    none were) and its one-sided Clopper-Pearson lower bound."""

    accuracy: float
    coded_share: float
    coded_accuracy: float | None
    lower_bound: float


@dataclass(frozen=True)
class DecisionFigures:
    """Share of held-out records with a decision and their accuracy at the level coded (None for review)."""

    share: float
    accuracy: float | None = None


def _truth_at(codes: Sequence[str], classification: Classification, level: int) -> np.ndarray:
    return np.asarray([classification.truncate(c, level) if classification.level(c) >= level else ""
                       for c in codes], dtype=object)


def choose_thresholds(
    per_level: Mapping[int, tuple[np.ndarray, np.ndarray]],
    y_true: Sequence[str],
    classification: Classification,
    *,
    target: float,
    confidence_level: float = 0.95,
) -> tuple[dict[int, float], dict[int, LevelFigures]]:
    """Per-level thresholds from held-out probabilities, and per-level held-out figures.

    ``per_level[L]`` = (best code at level L, its probability) per held-out record. Levels are
    calibrated deepest first, in the order the decision rule applies them: the threshold of
    level L is chosen on the records no deeper level accepted, by fallback testing from
    the most confident record down (``threshold_for_target``). The records coded at L are
    exactly those, so each decision level reaches the target on its own.
    """
    thresholds: dict[int, float] = {}
    figures: dict[int, LevelFigures] = {}
    true_level = np.asarray([classification.level(c) for c in y_true])
    remaining = np.ones(len(y_true), dtype=bool)
    for level in range(classification.depth, 0, -1):
        best, conf = per_level[level]
        eligible = true_level >= level  # records whose true code reaches this level
        if not np.asarray(conf).any() or not eligible.any():
            thresholds[level] = float("inf")
            continue
        correct = best == _truth_at(y_true, classification, level)
        pool = eligible & remaining
        t = threshold_for_target(conf[pool], correct[pool], target=target, confidence_level=confidence_level)
        thresholds[level] = t
        accepted = pool & (conf >= t)
        k, n = int(correct[accepted].sum()), int(accepted.sum())
        figures[level] = LevelFigures(
            accuracy=float(correct[eligible].mean()),
            coded_share=float(n / len(y_true)),
            coded_accuracy=float(k / n) if n else None,
            lower_bound=float(clopper_pearson_lower(k, n, confidence=confidence_level)) if n else 0.0,
        )
        remaining &= ~(conf >= t)
    return thresholds, dict(sorted(figures.items()))


def decision_summary(
    per_level: Mapping[int, tuple[np.ndarray, np.ndarray]],
    codes: Sequence[str],
    classification: Classification,
    thresholds: Mapping[int, float],
) -> dict[str, DecisionFigures]:
    """Share and accuracy (at the level coded) of held-out records per decision."""
    chosen, decision = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=thresholds,
                              full_depth=classification.depth)
    summary = {}
    for name in Decision:
        mask = decision == name.value
        accuracy = None
        if name is not Decision.REVIEW and mask.any():
            hits = [per_level[lv][0][i] == classification.truncate(codes[i], lv)
                    for i, lv in zip(np.flatnonzero(mask), chosen[mask], strict=True)]
            accuracy = float(np.mean(hits))
        summary[name.value] = DecisionFigures(share=float(mask.mean()), accuracy=accuracy)
    return summary

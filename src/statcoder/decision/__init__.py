"""Decisions: per-level thresholds for a target accuracy and the deepest-confident-level rule."""

from statcoder.decision.thresholds import (
    AUTO,
    PARTIAL,
    REVIEW,
    clopper_pearson_interval,
    clopper_pearson_lower,
    decide,
    threshold_for_target,
)

__all__ = [
    "AUTO",
    "PARTIAL",
    "REVIEW",
    "clopper_pearson_interval",
    "clopper_pearson_lower",
    "decide",
    "threshold_for_target",
]

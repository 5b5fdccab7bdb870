"""Evaluation of coders: metrics per level, automation, calibration, tables, subgroups, the quality report.

Pure metric functions live in ``metrics``, ``calibration``, ``automation``, ``tables``,
``subgroups``, ``bootstrap``, ``error_analysis`` and ``cost``; ``evaluate`` runs them all on one
coder and labelled data; ``build_report`` renders the self-contained HTML quality report.
"""

from statcoder.evaluation.calibration import (
    calibration_summary,
    classwise_ece,
    reliability_table,
    top_label_ece,
)
from statcoder.evaluation.compare import compare
from statcoder.evaluation.holistic import Evaluation, evaluate
from statcoder.evaluation.metrics import (
    automation_summary,
    scores_by_level,
    top_k_accuracy,
    top_k_by_level,
)

__all__ = [
    "Evaluation",
    "automation_summary",
    "build_comparison_report",
    "build_report",
    "calibration_summary",
    "classwise_ece",
    "compare",
    "evaluate",
    "reliability_table",
    "scores_by_level",
    "top_k_accuracy",
    "top_k_by_level",
    "top_label_ece",
]


def __getattr__(name: str):  # the HTML report imports matplotlib: only when asked for
    if name in ("build_report", "build_comparison_report"):
        from statcoder.evaluation import report

        return getattr(report, name)
    raise AttributeError(name)

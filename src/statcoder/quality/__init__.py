"""Training-data quality: label issues, coverage, duplicates/conflicts, coder agreement, personal data.

Pure functions and small result objects; ``check_training_data`` runs them all and
``quality_report`` (in ``statcoder.quality.report``) renders the HTML report.
"""

from statcoder.quality.agreement import (
    coder_agreement,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    percentage_agreement,
)
from statcoder.quality.check import QualityResult, check_training_data, suspicious_records
from statcoder.quality.confident_learning import (
    class_thresholds,
    confident_joint,
    estimate_joint,
    find_label_issues,
    label_quality_scores,
    noise_matrix,
    noise_rates,
    rank_label_issues,
)
from statcoder.quality.coverage import CoverageResult, coverage
from statcoder.quality.duplicates import DuplicatesResult, find_duplicates
from statcoder.quality.label_issues import LabelIssueResult, detect_label_issues, hierarchy_relation
from statcoder.quality.national_ids import NATIONAL_ID_PATTERNS, IdPattern
from statcoder.quality.noise import detection_scores, inject_label_noise
from statcoder.quality.pii import PiiDetector, PiiMatch, PiiSummary, redact_frame

__all__ = [
    "NATIONAL_ID_PATTERNS",
    "CoverageResult",
    "DuplicatesResult",
    "IdPattern",
    "LabelIssueResult",
    "PiiDetector",
    "PiiMatch",
    "PiiSummary",
    "QualityResult",
    "check_training_data",
    "class_thresholds",
    "coder_agreement",
    "cohen_kappa",
    "confident_joint",
    "coverage",
    "detect_label_issues",
    "detection_scores",
    "estimate_joint",
    "find_duplicates",
    "find_label_issues",
    "fleiss_kappa",
    "fleiss_kappa_from_counts",
    "hierarchy_relation",
    "inject_label_noise",
    "label_quality_scores",
    "noise_matrix",
    "noise_rates",
    "percentage_agreement",
    "rank_label_issues",
    "redact_frame",
    "suspicious_records",
]

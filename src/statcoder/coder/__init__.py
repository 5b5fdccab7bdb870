"""Training and applying automated coders (the core of statcoder)."""

from statcoder.coder.card import (
    CalibrationDataRef,
    ClassificationRef,
    HeldoutFigures,
    ModelCard,
    TrainingDataSummary,
    TrainingLimits,
)
from statcoder.coder.coder import Coder
from statcoder.coder.estimator import HierarchicalCoder
from statcoder.coder.index import CodingIndex
from statcoder.coder.train import (
    NoTargetCalibrationWarning,
    data_fingerprint,
    prepare_training_data,
    train,
)
from statcoder.contract import OUTPUT_COLUMNS, Decision

__all__ = [
    "OUTPUT_COLUMNS",
    "CalibrationDataRef",
    "ClassificationRef",
    "Coder",
    "CodingIndex",
    "Decision",
    "HeldoutFigures",
    "HierarchicalCoder",
    "ModelCard",
    "NoTargetCalibrationWarning",
    "TrainingDataSummary",
    "TrainingLimits",
    "data_fingerprint",
    "prepare_training_data",
    "train",
]

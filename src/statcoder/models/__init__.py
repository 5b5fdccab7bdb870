"""Classifiers (linear default, fastText backend), calibration, cross-validation and safe persistence."""

from statcoder.models.calibration import (
    TemperatureCalibrator,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from statcoder.models.cv import fold_indices
from statcoder.models.linear import LinearTextCoder
from statcoder.models.registry import BACKENDS, make_model

__all__ = [
    "BACKENDS",
    "LinearTextCoder",
    "TemperatureCalibrator",
    "expected_calibration_error",
    "fit_temperature",
    "fold_indices",
    "make_model",
    "softmax",
]


def __getattr__(name: str):  # the fastText backend imports its optional dependency lazily
    if name == "FastTextCoder":
        from statcoder.models.fasttext_backend import FastTextCoder

        return FastTextCoder
    raise AttributeError(name)

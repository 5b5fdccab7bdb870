"""Classifiers (linear default, fastText backend), calibration, cross-validation and safe persistence.

Names are imported lazily (PEP 562): importing ``statcoder.models.scoring`` or one backend does
not import the others (scikit-learn's SVM, scipy's optimiser), so batch worker processes start
faster.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from statcoder.models.calibration import (
        TemperatureCalibrator,
        expected_calibration_error,
        fit_temperature,
        softmax,
    )
    from statcoder.models.cv import fold_indices
    from statcoder.models.linear import LinearTextCoder
    from statcoder.models.registry import BACKENDS, make_model

_WHERE = {
    "TemperatureCalibrator": "calibration", "expected_calibration_error": "calibration",
    "fit_temperature": "calibration", "softmax": "calibration", "fold_indices": "cv",
    "LinearTextCoder": "linear", "BACKENDS": "registry", "make_model": "registry",
    "FastTextCoder": "fasttext_backend",  # imports its optional dependency lazily
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'statcoder.models' has no attribute {name!r}")
    value = getattr(import_module(f"statcoder.models.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])

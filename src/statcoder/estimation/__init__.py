"""From coded microdata to statistics: design-based, model-assisted and small-area estimation.

* ``SurveyDesign`` / ``ReplicateDesign``: totals, means, ratios, proportions and quantiles by
  domain with Taylor-linearisation or replicate (JK1, JKn, bootstrap) variance; calibration,
  raking and post-stratification.
* ``difference_estimator``, ``CrossFittedGREG``, ``model_calibration``: model-assisted
  estimation with any scikit-learn model as the working model.
* ``corrected_shares`` / ``corrected_shares_by_level``: code shares corrected for coding error
  with an audit sample (difference estimator / prediction-powered inference).
* ``FayHerriot`` / ``fay_herriot_table``: area-level small-area estimation (EBLUP, MSE,
  synthetic estimates, log transform, benchmarking).
* ``NestedErrorModel`` / ``nested_error_table``: unit-level (Battese-Harter-Fuller) EBLUP with
  REML/ML, Prasad-Rao/Datta-Lahiri and parametric-bootstrap MSE.

HTML reports are in ``statcoder.estimation.report`` (imported on demand: it loads matplotlib).
The model-assisted estimators need scikit-learn and are imported on first use, so that
``import statcoder.estimation`` stays fast.
"""

from typing import Any

from statcoder.estimation.calibration import calibration_factors
from statcoder.estimation.coding_error import (
    corrected_shares,
    corrected_shares_by_level,
    corrected_shares_from_frame,
)
from statcoder.estimation.design import SurveyDesign
from statcoder.estimation.fay_herriot import CovariateLeakageWarning, FayHerriot, benchmark
from statcoder.estimation.nested_error import NestedErrorModel
from statcoder.estimation.replicate import ReplicateDesign
from statcoder.estimation.results import Estimates, quality_flags
from statcoder.estimation.small_area import SmallAreaResult, fay_herriot_table
from statcoder.estimation.unit_level import UnitLevelResult, nested_error_table

__all__ = [
    "CovariateLeakageWarning",
    "CrossFittedGREG",
    "Estimates",
    "FayHerriot",
    "NestedErrorModel",
    "ReplicateDesign",
    "SmallAreaResult",
    "SurveyDesign",
    "UnitLevelResult",
    "benchmark",
    "calibration_factors",
    "corrected_shares",
    "corrected_shares_by_level",
    "corrected_shares_from_frame",
    "difference_estimator",
    "fay_herriot_table",
    "model_calibration",
    "nested_error_table",
    "quality_flags",
]

_LAZY = {
    "CrossFittedGREG": "statcoder.estimation.model_assisted",
    "difference_estimator": "statcoder.estimation.model_assisted",
    "model_calibration": "statcoder.estimation.model_assisted",
}


def __getattr__(name: str) -> Any:
    """Import the scikit-learn based estimators on first use (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'statcoder.estimation' has no attribute {name!r}")

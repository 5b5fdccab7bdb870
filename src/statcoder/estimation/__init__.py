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

HTML reports are in ``statcoder.estimation.report`` (imported on demand: it loads matplotlib).
"""

from statcoder.estimation.calibration import calibration_factors
from statcoder.estimation.coding_error import (
    corrected_shares,
    corrected_shares_by_level,
    corrected_shares_from_frame,
)
from statcoder.estimation.design import SurveyDesign
from statcoder.estimation.fay_herriot import CovariateLeakageWarning, FayHerriot, benchmark
from statcoder.estimation.model_assisted import (
    CrossFittedGREG,
    difference_estimator,
    model_calibration,
)
from statcoder.estimation.replicate import ReplicateDesign
from statcoder.estimation.results import Estimates, quality_flags
from statcoder.estimation.small_area import SmallAreaResult, fay_herriot_table

__all__ = [
    "CovariateLeakageWarning",
    "CrossFittedGREG",
    "Estimates",
    "FayHerriot",
    "ReplicateDesign",
    "SmallAreaResult",
    "SurveyDesign",
    "benchmark",
    "calibration_factors",
    "corrected_shares",
    "corrected_shares_by_level",
    "corrected_shares_from_frame",
    "difference_estimator",
    "fay_herriot_table",
    "model_calibration",
    "quality_flags",
]

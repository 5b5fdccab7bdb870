"""From coded microdata to statistics: design-based, model-assisted and small-area estimation.

* ``SurveyDesign`` / ``ReplicateDesign``: totals, means, ratios, proportions by domain with
  Taylor-linearisation or replicate (JK1, JKn, bootstrap) variance; calibration, raking and
  post-stratification.
* ``difference_estimator``, ``CrossFittedGREG``, ``model_calibration``: model-assisted
  estimation with any scikit-learn model as the working model.
* ``corrected_shares`` / ``corrected_shares_by_level``: code shares corrected for coding error
  with an audit sample (difference estimator / prediction-powered inference).
* ``FayHerriot``: area-level small-area estimation (EBLUP, MSE, synthetic, benchmarking).
"""

from statcoder.estimation.calibration import calibration_factors
from statcoder.estimation.design import SurveyDesign
from statcoder.estimation.replicate import ReplicateDesign
from statcoder.estimation.results import Estimates, quality_flags

__all__ = [
    "Estimates",
    "ReplicateDesign",
    "SurveyDesign",
    "calibration_factors",
    "quality_flags",
]

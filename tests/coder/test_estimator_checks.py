"""scikit-learn's estimator checks on HierarchicalCoder (with a numeric base estimator).

The meta-estimator passes X through to its base estimator, so the checks run it around a
LogisticRegression on the checks' numeric data. Checks that do not apply, and why:
"""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from statcoder.coder.estimator import HierarchicalCoder

NOT_APPLICABLE = {}


@parametrize_with_checks([HierarchicalCoder(LogisticRegression(max_iter=200), cv=3)],
                         expected_failed_checks=lambda est: NOT_APPLICABLE)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

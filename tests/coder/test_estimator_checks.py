"""scikit-learn's estimator checks on HierarchicalCoder (with a numeric base estimator).

The checks generate numeric data, which a text model cannot read; the meta-estimator passes X
through to its base estimator, so the checks run it around a LogisticRegression. With that
base every check applies and passes (``NOT_APPLICABLE`` is empty; the one check pytest reports
as skipped is sklearn's array-API check, which sklearn itself skips without SCIPY_ARRAY_API).
The text path (LinearTextCoder members) is covered by tests/coder/test_estimator.py.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from statcoder.coder.estimator import HierarchicalCoder

NOT_APPLICABLE: dict[str, str] = {}


@parametrize_with_checks([HierarchicalCoder(LogisticRegression(max_iter=200), cv=3)],
                         expected_failed_checks=lambda est: NOT_APPLICABLE)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

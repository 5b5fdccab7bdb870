"""scikit-learn's estimator checks on HierarchicalCoder (with a numeric base estimator).

The checks generate numeric data, which a text model cannot read; the meta-estimator passes X
through to its base estimator, so the checks run it around a LogisticRegression. Every check
applies and passes except the array-API check: statcoder's text models are NumPy/SciPy-only,
so array-API input is not supported and that check is left out of the list (sklearn would
only skip it without SCIPY_ARRAY_API, and a skipped test hides nothing but says nothing).
The text path (LinearTextCoder members) is covered by tests/coder/test_estimator.py.
"""

import functools

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import estimator_checks_generator

from statcoder.coder.estimator import HierarchicalCoder

NOT_APPLICABLE = {
    "check_array_api_input": "the text models are NumPy/SciPy only; array-API input is not supported",
}


def _name(check) -> str:
    return (check.func if isinstance(check, functools.partial) else check).__name__


CHECKS = [
    (estimator, check)
    for estimator, check in estimator_checks_generator(HierarchicalCoder(LogisticRegression(max_iter=200), cv=3))
    if _name(check) not in NOT_APPLICABLE
]


def test_the_check_list_is_not_empty():
    assert len(CHECKS) > 30


@pytest.mark.parametrize(("estimator", "check"), CHECKS, ids=[_name(c) for _, c in CHECKS])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from statcoder.decision.thresholds import (
    candidate_cuts,
    clopper_pearson_interval,
    clopper_pearson_lower,
    decide,
    threshold_for_target,
)


def test_clopper_pearson_lower_known_values():
    # all n correct: lower bound = alpha ** (1/n)
    assert clopper_pearson_lower(59, 59) == pytest.approx(0.05 ** (1 / 59), rel=1e-10)
    assert clopper_pearson_lower(0, 10) == 0.0
    # agrees with scipy's exact binomial test interval (one-sided 95 % = two-sided 90 %)
    ci = binomtest(90, 100).proportion_ci(confidence_level=0.90, method="exact")
    assert clopper_pearson_lower(90, 100) == pytest.approx(ci.low, rel=1e-9)
    low, high = clopper_pearson_interval(90, 100)
    ci95 = binomtest(90, 100).proportion_ci(confidence_level=0.95, method="exact")
    assert (low, high) == pytest.approx((ci95.low, ci95.high), rel=1e-9)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=300),
       st.floats(0.5, 0.99))
def test_threshold_is_the_end_of_the_fixed_sequence(pairs, target):
    """Every candidate cut from the top down to the threshold passes; the next one fails."""
    conf = np.array([p[0] for p in pairs])
    correct = np.array([p[1] for p in pairs])
    t = threshold_for_target(conf, correct, target=target)
    order = np.sort(conf)[::-1]
    cuts = [order[m - 1] for m in candidate_cuts(len(conf), target=target, confidence_level=0.95)]
    passes = [clopper_pearson_lower(correct[conf >= c].sum(), (conf >= c).sum()) >= target for c in cuts]
    if np.isinf(t):
        assert not cuts or not passes[0]
        return
    stop = max(i for i, c in enumerate(cuts) if c == t)
    assert all(passes[: stop + 1])
    assert stop + 1 == len(cuts) or not passes[stop + 1]


def test_fixed_sequence_stops_at_the_first_failure():
    # top record wrong, the next 200 right: a later cut passes, but the sequence stopped at the top
    conf = np.r_[np.linspace(1.0, 0.995, 100), np.linspace(0.99, 0.5, 900)]
    correct = np.r_[np.arange(100) % 4 != 0, np.ones(900, dtype=bool)]
    assert threshold_for_target(conf, correct, target=0.9) == float("inf")


def test_threshold_realised_accuracy_on_calibrated_data():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 20_000)
    correct = rng.uniform(0, 1, 20_000) < conf
    t = threshold_for_target(conf, correct, target=0.9)
    new_conf = rng.uniform(0, 1, 20_000)
    new_correct = rng.uniform(0, 1, 20_000) < new_conf
    assert new_correct[new_conf >= t].mean() >= 0.9
    assert 0.75 < t < 0.85  # accepted accuracy (1+t)/2 reaches 0.9 at t = 0.8


def test_decide_deepest_confident_level():
    conf = {1: np.array([0.99, 0.99, 0.5]), 2: np.array([0.97, 0.6, 0.4]), 3: np.array([0.95, 0.3, 0.2])}
    level, decision = decide(conf, thresholds={1: 0.9, 2: 0.9, 3: 0.9}, full_depth=3)
    assert level.tolist() == [3, 1, 0]
    assert decision.tolist() == ["auto", "partial", "review"]


def test_decide_never_level():
    conf = {1: np.array([0.99]), 2: np.array([0.99])}
    level, decision = decide(conf, thresholds={1: 0.9, 2: float("inf")}, full_depth=2)
    assert level.tolist() == [1] and decision.tolist() == ["partial"]


def test_small_samples_tolerate_a_few_errors_among_the_most_confident():
    """1,000 records, 2 errors among the 10 most confident, 98.5 % right among the top 400: the
    fixed sequence starts where 3 errors still pass (153 records) instead of at 63 records that
    must all be right, so it codes something; the cuts never depend on the labels."""
    cuts = candidate_cuts(1000, target=0.95, confidence_level=0.95)
    assert cuts[0] == 153 and np.all(np.diff(cuts) > 0) and cuts[-1] == 1000
    assert clopper_pearson_lower(150, 153) >= 0.95 > clopper_pearson_lower(149, 152)
    conf = np.linspace(1.0, 0.0, 1000)
    correct = np.ones(1000, dtype=bool)
    correct[[3, 7]] = False
    correct[np.arange(200, 400, 50)] = False  # 4 more errors in the top 400: 98.5 %
    correct[400:] = np.arange(600) % 3 == 0
    t = threshold_for_target(conf, correct, target=0.95)
    assert np.isfinite(t) and (conf >= t).sum() >= 300
    # large samples keep the even grid of 50 steps
    assert len(candidate_cuts(20_000, target=0.95, confidence_level=0.95)) == 50

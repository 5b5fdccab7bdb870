import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from statcoder.decision.thresholds import (
    binomial_p_value,
    candidate_cuts,
    clopper_pearson_interval,
    clopper_pearson_lower,
    decide,
    fallback_plan,
    records_to_pass,
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
def test_small_samples_keep_the_fixed_sequence(pairs, target):
    """Below the second start's size there is one start with the whole budget: every candidate cut
    from the top down to the threshold passes at confidence 0.95 and the next one fails."""
    conf = np.array([p[0] for p in pairs])
    correct = np.array([p[1] for p in pairs])
    t = threshold_for_target(conf, correct, target=target)
    cuts_n, weights = fallback_plan(len(conf), target=target, confidence_level=0.95)
    assert weights.size == 0 or weights[0] == 1.0
    order = np.sort(conf)[::-1]
    cuts = [order[m - 1] for m in cuts_n]
    passes = [clopper_pearson_lower(correct[conf >= c].sum(), (conf >= c).sum()) >= target for c in cuts]
    if np.isinf(t):
        assert not cuts or not passes[0]
        return
    stop = max(i for i, c in enumerate(cuts) if c == t)
    assert all(passes[: stop + 1])
    assert stop + 1 == len(cuts) or not passes[stop + 1]


@settings(max_examples=60, deadline=None)
@given(st.integers(1013, 9000), st.floats(0.8, 1.0), st.integers(0, 2**31))
def test_returned_threshold_passes_its_own_test(n, accuracy, seed):
    """Whatever the data, the records the threshold accepts have a 95 % Clopper-Pearson lower bound
    at or above the target: no test runs at more than the whole budget."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0, 1, n)
    correct = rng.uniform(0, 1, n) < accuracy * np.sqrt(conf)
    t = threshold_for_target(conf, correct, target=0.95)
    if np.isfinite(t):
        accepted = conf >= t
        assert clopper_pearson_lower(correct[accepted].sum(), accepted.sum(), confidence=0.95) >= 0.95 - 1e-12


def test_the_plan_depends_on_n_only_and_spends_the_budget_once():
    cuts, weights = fallback_plan(7897, target=0.95, confidence_level=0.95)
    assert np.all(np.diff(cuts) > 0) and cuts[-1] == 7897 and weights.sum() == pytest.approx(1.0)
    starts = cuts[weights > 0]
    assert starts[0] == 230 and 1013 <= starts[1] < 1013 + 115  # the grid count at or above 1,013
    # at half the budget: 230 records pass with 5 errors (half the allowed rate), 1,013 with 37 at most
    # (three quarters of it; the figures the docstrings and docs/core.md state)
    assert clopper_pearson_lower(225, 230, confidence=0.975) >= 0.95 > clopper_pearson_lower(224, 229, confidence=0.975)
    assert clopper_pearson_lower(1013 - 37, 1013, confidence=0.975) >= 0.95 > clopper_pearson_lower(
        1013 - 38, 1013, confidence=0.975)
    assert records_to_pass(0.95, 0.975, 0.75) == 1013
    # too small for the second start: version 2's fixed sequence
    cuts, weights = fallback_plan(1000, target=0.95, confidence_level=0.95)
    assert cuts[0] == 153 and weights.tolist() == [1.0] + [0.0] * (len(cuts) - 1)
    assert fallback_plan(40, target=0.95, confidence_level=0.95)[0].size == 0


def test_noisy_labels_no_longer_end_the_testing_at_the_first_step():
    """Label noise among the most confident records: 8 errors in the top 230 (3.5 %, the first
    start fails), 97 % right below. The fixed sequence would stop there and code nothing; the
    second start certifies a threshold, and its records pass the test."""
    n = 5000
    conf = np.linspace(1.0, 0.0, n)
    correct = np.ones(n, dtype=bool)
    correct[np.linspace(0, 229, 8).astype(int)] = False
    rng = np.random.default_rng(3)
    correct[230:2000] = rng.uniform(0, 1, 1770) < 0.97
    correct[2000:] = rng.uniform(0, 1, 3000) < 0.6
    assert binomial_p_value(222, 230, 0.95) > 0.05  # the first test fails even with the whole budget
    t = threshold_for_target(conf, correct, target=0.95)
    assert np.isfinite(t)
    accepted = conf >= t
    assert accepted.sum() >= 1013 and clopper_pearson_lower(correct[accepted].sum(), accepted.sum()) >= 0.95


def _violation_rate(accuracy_of, n: int, reps: int, seed: int) -> tuple[float, float]:
    """Share of simulated calibration samples whose threshold accepts records of true accuracy
    below 0.95 (confidence ~ U(0.5, 1), P(right | c) = accuracy_of(c)), and the mean coded share."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.5, 1.0, 100_001)
    truth = accuracy_of(grid)
    tail = np.cumsum(truth[::-1])[::-1] / np.arange(len(grid), 0, -1)  # accuracy of c >= grid[i]
    bad, shares = 0, []
    for _ in range(reps):
        conf = rng.uniform(0.5, 1.0, n)
        correct = rng.uniform(0, 1, n) < accuracy_of(conf)
        t = threshold_for_target(conf, correct, target=0.95, confidence_level=0.95)
        if np.isfinite(t):
            bad += tail[min(int(np.searchsorted(grid, t)), len(grid) - 1)] < 0.95
        shares.append(0.0 if np.isinf(t) else (1 - t) / 0.5)
    return bad / reps, float(np.mean(shares))


@pytest.mark.parametrize(("name", "accuracy_of"), [
    ("every threshold wrong: 0.945 everywhere", lambda c: np.full_like(c, 0.945)),
    ("noisy labels: never above 0.97", lambda c: np.minimum(c, 0.97)),
    ("calibrated", lambda c: c),
])
def test_family_wise_error_by_simulation(name, accuracy_of):
    """Known accuracy, 300 calibration samples of 6,000 records (two starts): the threshold accepts
    records whose accuracy is below the target in at most 5 % (+ 3 s.e.) of them — including the
    case where every candidate is wrong, which bounds the chance of any rejection."""
    reps = 300
    rate, share = _violation_rate(accuracy_of, 6000, reps, seed=11)
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps), name
    if "calibrated" in name or "noisy" in name:
        assert share > 0.02, name  # not vacuous


def test_fixed_sequence_stops_at_the_first_failure():
    # one start (600 records at 0.95): the top 100 are 75 % right, the next 500 all right; a later
    # cut passes, but the sequence stopped at the top
    conf = np.r_[np.linspace(1.0, 0.995, 100), np.linspace(0.99, 0.5, 500)]
    correct = np.r_[np.arange(100) % 4 != 0, np.ones(500, dtype=bool)]
    assert fallback_plan(600, target=0.95, confidence_level=0.95)[1][0] == 1.0
    assert threshold_for_target(conf, correct, target=0.95) == float("inf")


def test_a_failure_ends_one_start_not_the_testing():
    # the same with 1,000 records at target 0.9: large enough for two starts (changed in v3: the
    # fixed sequence coded nothing here); the second start passes with its half of the budget
    conf = np.r_[np.linspace(1.0, 0.995, 100), np.linspace(0.99, 0.5, 900)]
    correct = np.r_[np.arange(100) % 4 != 0, np.ones(900, dtype=bool)]
    cuts, weights = fallback_plan(1000, target=0.9, confidence_level=0.95)
    second = cuts[np.flatnonzero(weights)[1]]
    t = threshold_for_target(conf, correct, target=0.9)
    assert np.isfinite(t) and (conf >= t).sum() >= second


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

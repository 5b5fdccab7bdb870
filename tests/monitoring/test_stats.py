"""Distances and tests of statcoder.monitoring.stats against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from statcoder.monitoring.stats import (
    aligned_counts,
    benjamini_hochberg,
    category_shift_test,
    holm,
    jensen_shannon,
    ks_test,
    psi,
    quantile_bin_counts,
    smoothed_distribution,
    two_proportion_test,
    wilson_interval,
)


def test_psi_without_smoothing_matches_hand_computation():
    # p = (.5, .5), q = (.25, .75): (.25-.5) ln(.5) + (.75-.5) ln(1.5)
    expected = -0.25 * np.log(0.5) + 0.25 * np.log(1.5)
    assert psi([50, 50], [25, 75], alpha=0) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.274653, abs=1e-6)


def test_psi_smoothing_keeps_empty_categories_finite():
    # shares (0.5/11, 10.5/11) and the reverse: 2 * (10/11) * ln(21)
    assert psi([0, 10], [10, 0], alpha=0.5) == pytest.approx(2 * 10 / 11 * np.log(21), rel=1e-12)
    assert smoothed_distribution(np.array([0, 10]), alpha=0.5) == pytest.approx([0.5 / 11, 10.5 / 11])


def test_psi_is_zero_for_equal_shares_and_vectorised():
    assert psi([10, 20, 30], [20, 40, 60], alpha=0) == pytest.approx(0.0, abs=1e-15)
    values = psi(np.array([10, 10]), np.array([[10, 10], [5, 15]]), alpha=0)
    assert values.shape == (2,) and values[0] == pytest.approx(0) and values[1] > 0


def test_jensen_shannon_known_values():
    assert jensen_shannon([1, 0], [0, 1], alpha=0) == pytest.approx(1.0)  # disjoint: 1 bit
    assert jensen_shannon([4, 4], [4, 4], alpha=0) == pytest.approx(0.0, abs=1e-15)
    # p = (1, 0), q = (.5, .5): 0.5*log2(4/3) + 0.5*(0.5*log2(2/3) + 0.5*log2(2)) = 0.311278
    assert jensen_shannon([2, 0], [1, 1], alpha=0) == pytest.approx(0.3112781, abs=1e-7)
    # agrees with scipy (which returns the square root of the divergence)
    p, q = np.array([3, 5, 2]), np.array([1, 1, 8])
    assert jensen_shannon(p, q, alpha=0) == pytest.approx(jensenshannon(p / 10, q / 10, base=2) ** 2)


def test_aligned_counts_and_quantile_bins():
    rc, cc, cats = aligned_counts(["a", "b", "b"], ["b", "c"])
    assert cats == ["a", "b", "c"] and rc.tolist() == [1, 2, 0] and cc.tolist() == [0, 1, 1]
    rc, cc = quantile_bin_counts(np.arange(100), np.arange(100), n_bins=10)
    assert rc.tolist() == cc.tolist() == [10] * 10


def test_ks_disjoint_samples_give_d_one():
    d, p = ks_test(np.array([1, 2, 3.0]), np.array([4, 5, 6.0]))
    assert d == 1.0 and p == pytest.approx(0.1, abs=1e-9)  # exact two-sided p for n=m=3: 2/C(6,3)


def test_two_proportion_test_hand_values():
    # 40/100 vs 50/100: pooled .45, se = sqrt(.45*.55*.02) = .0703562, z = -1.421338, p = 2 * Phi(z) = .155218
    diff, p = two_proportion_test(40, 100, 50, 100)
    assert diff == pytest.approx(-0.1)
    assert p == pytest.approx(0.155218, abs=1e-5)
    _, p_less = two_proportion_test(40, 100, 50, 100, alternative="less")
    assert p_less == pytest.approx(p / 2)


def test_wilson_interval_textbook_value():
    # 8 successes of 10, 95 %: (0.4902, 0.9433) (Wilson 1927; e.g. Newcombe 1998 Table I method 3)
    lower, upper = wilson_interval(8, 10)
    assert lower == pytest.approx(0.4902, abs=1e-4) and upper == pytest.approx(0.9433, abs=1e-4)


def test_benjamini_hochberg_and_holm_hand_values():
    p = [0.01, 0.04, 0.03, 0.005]
    adjusted, rejected = benjamini_hochberg(p, q=0.05)
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert rejected.tolist() == [True, True, True, True]
    adjusted, rejected = holm(p, alpha=0.05)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert rejected.tolist() == [True, False, False, True]
    adjusted, rejected = benjamini_hochberg([0.01, float("nan")], q=0.05)
    assert adjusted[0] == pytest.approx(0.01) and np.isnan(adjusted[1]) and rejected.tolist() == [True, False]


def test_category_shift_test_is_calibrated_under_the_null_and_powerful_under_a_shift():
    rng = np.random.default_rng(1)
    shares = rng.dirichlet(np.full(60, 0.5))  # sparse: many rare categories
    p_values, excess = [], []
    for seed in range(200):
        rc = rng.multinomial(2000, shares)
        cc = rng.multinomial(300, shares)
        result = category_shift_test(rc, cc, n_permutations=100, seed=seed)
        p_values.append(result.p_value)
        excess.append(result.excess_psi)
    rejection = np.mean(np.array(p_values) < 0.05)
    assert 0.01 <= rejection <= 0.10  # nominal 5 %, with 200 draws
    assert abs(np.mean(excess)) < 0.02  # the noise floor is removed
    shifted = shares.copy()
    shifted[:10] *= 4
    shifted /= shifted.sum()
    result = category_shift_test(rng.multinomial(2000, shares), rng.multinomial(300, shifted), seed=0)
    assert result.p_value < 1e-4 and result.excess_psi > 0.1

"""Audit accuracy, the Bernoulli CUSUM and its simulated null."""

from __future__ import annotations

import numpy as np
import pytest

from statcoder.monitoring.audit import (
    audit_accuracy,
    bernoulli_cusum,
    cusum_null_maxima,
    cusum_p_value,
)


def test_audit_accuracy_interval_and_drop_test():
    result = audit_accuracy(np.array([1] * 8 + [0] * 2), reference_correct=900, reference_n=1000)
    assert result.accuracy == pytest.approx(0.8) and result.n == 10
    assert (result.lower, result.upper) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # Wilson 8/10
    assert result.drop == pytest.approx(0.1)
    assert 0.05 < result.p_value < 0.5  # 10 records cannot prove a 10-point drop
    big = audit_accuracy(np.array([1] * 160 + [0] * 40), reference_correct=900, reference_n=1000)
    assert big.p_value < 0.001


def test_bernoulli_cusum_hand_path():
    # p0 = .1, p1 = .2: an error adds ln 2, a correct record adds ln(.8/.9)
    up, down = np.log(2), np.log(0.8 / 0.9)
    path = bernoulli_cusum(np.array([1, 0, 0, 1]), p0=0.1, p1=0.2)
    assert path == pytest.approx([up, up + down, up + 2 * down, 2 * up + 2 * down])
    assert bernoulli_cusum(np.zeros(5), p0=0.1, p1=0.2).tolist() == [0.0] * 5


def test_cusum_p_values_are_conservative_in_control_and_small_after_a_change():
    p0, p1 = 0.08, 0.11
    checkpoints = np.array([200, 400, 600])
    null = cusum_null_maxima(checkpoints, p0=p0, p1=p1, n_simulations=2000, seed=1)
    assert null.shape == (2000, 3) and np.all(np.diff(null, axis=1) >= 0)  # running maxima
    rng = np.random.default_rng(7)
    false = 0
    for _ in range(200):
        path = bernoulli_cusum(rng.random(600) < p0, p0=p0, p1=p1)
        false += cusum_p_value(path[-1], null[:, 2]) < 0.05
    assert false / 200 <= 0.06
    errors = np.r_[rng.random(400) < p0, rng.random(200) < 0.2]
    path = bernoulli_cusum(errors, p0=p0, p1=p1)
    assert cusum_p_value(path[-1], null[:, 2]) < 0.01

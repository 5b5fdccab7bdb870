"""Label-free estimators: average confidence, CBPE recalibration, ATC, EM prior re-estimation."""

from __future__ import annotations

import numpy as np
import pytest

from statcoder.monitoring.performance import (
    TopLabelCalibrator,
    atc_estimate,
    average_confidence,
    em_label_shift,
    expected_confusion,
    fit_atc,
)


def test_average_confidence_value_and_poisson_binomial_interval():
    est = average_confidence(np.array([0.9, 0.8, 0.7, 0.6]))
    assert est.value == pytest.approx(0.75)
    # sqrt(.09 + .16 + .21 + .24) / 4
    assert est.se == pytest.approx(np.sqrt(0.70) / 4)
    assert est.lower == pytest.approx(0.75 - 1.959964 * np.sqrt(0.70) / 4, abs=1e-6)


def test_average_confidence_interval_covers_realised_accuracy_when_calibrated():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(400):
        c = rng.beta(5, 2, 500)
        correct = rng.random(500) < c
        est = average_confidence(c)
        covered += est.lower <= correct.mean() <= est.upper
    assert 0.92 <= covered / 400 <= 0.98  # nominal 95 %


def test_expected_confusion_hand_example():
    matrix = expected_confusion(np.array([[0.8, 0.2], [0.3, 0.7]]), np.array([0, 1]))
    assert matrix == pytest.approx(np.array([[0.8, 0.3], [0.2, 0.7]]))
    assert np.trace(matrix) / 2 == pytest.approx(0.75)


def test_cbpe_recalibration_corrects_overconfidence():
    rng = np.random.default_rng(1)
    true_p = rng.uniform(0.3, 0.9, 4000)
    stated = np.sqrt(true_p)  # overconfident model
    correct = rng.random(4000) < true_p
    calibrator = TopLabelCalibrator().fit(stated[:2000], correct[:2000])
    new_stated = stated[2000:]
    assert average_confidence(new_stated).value - correct[2000:].mean() > 0.1
    assert average_confidence(calibrator.transform(new_stated)).value == pytest.approx(correct[2000:].mean(), abs=0.02)


def test_atc_threshold_on_a_hand_example():
    scores = np.arange(1, 11) / 10  # 0.1 ... 1.0
    correct = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1])  # accuracy 0.7
    fitted = fit_atc(scores, correct, n_bootstrap=20)
    # 30 % of reference scores lie below t: t = 0.4, and 0.4 itself counts fully (0.6 above + 1 x 0.1)
    assert fitted.threshold == pytest.approx(0.4) and fitted.tie_weight == pytest.approx(1.0)
    assert atc_estimate(scores, fitted).value == pytest.approx(0.7)
    assert atc_estimate(np.array([0.45, 0.35, 0.9, 0.2]), fitted).value == pytest.approx(0.5)


def test_atc_is_unbiased_on_the_reference_distribution_and_falls_on_harder_periods():
    rng = np.random.default_rng(2)
    ref_p = rng.beta(6, 2, 5000)
    fitted = fit_atc(ref_p, rng.random(5000) < ref_p)
    errors, covered = [], 0
    for _ in range(100):
        cur_p = rng.beta(6, 2, 1000)
        realised = (rng.random(1000) < cur_p).mean()
        est = atc_estimate(cur_p, fitted)
        errors.append(est.value - realised)
        covered += est.lower <= realised <= est.upper
    assert abs(np.mean(errors)) < 0.02  # only the reference's own noise (sd 0.006) is shared
    assert covered >= 85  # nominal 95 %, conditional on one reference draw
    harder = atc_estimate(rng.beta(3, 2, 3000), fitted)
    assert harder.upper < fitted.reference_accuracy - 0.1


def test_em_recovers_the_new_prior_saerens_two_gaussians():
    # classes N(-1, 1) and N(+1, 1), posteriors computed under a 50/50 training prior;
    # the new sample has priors 0.8 / 0.2 (the EM fixed point of Saerens et al. 2002).
    rng = np.random.default_rng(3)
    n = 20000
    y = rng.random(n) < 0.2
    x = rng.normal(np.where(y, 1.0, -1.0), 1.0)
    lik0, lik1 = np.exp(-0.5 * (x + 1) ** 2), np.exp(-0.5 * (x - 1) ** 2)
    proba = np.column_stack([lik0, lik1]) / (lik0 + lik1)[:, None]
    prior, adjusted, iterations = em_label_shift(proba, np.array([0.5, 0.5]))
    assert prior == pytest.approx([0.8, 0.2], abs=0.015)
    assert iterations < 1000
    # adjusted posteriors are the Bayes posteriors under the new prior
    exact = np.column_stack([0.8 * lik0, 0.2 * lik1])
    exact /= exact.sum(1, keepdims=True)
    assert np.abs(adjusted - exact).max() < 0.03


def test_em_leaves_consistent_priors_unchanged():
    proba = np.array([[0.9, 0.1], [0.1, 0.9]])
    prior, adjusted, _ = em_label_shift(proba, np.array([0.5, 0.5]))
    assert prior == pytest.approx([0.5, 0.5]) and adjusted == pytest.approx(proba)


def test_bcts_recovers_a_known_temperature_and_bias():
    from statcoder.monitoring.performance import bcts_transform, fit_bcts

    rng = np.random.default_rng(4)
    logits = rng.normal(0, 2, (6000, 3))
    true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in true])
    bias = np.array([0.5, 0.0, -0.5])
    stated = np.exp(2 * np.log(true) + bias)  # overconfident (T = 2) and biased
    stated /= stated.sum(1, keepdims=True)
    temperature, b = fit_bcts(stated, y)
    assert temperature == pytest.approx(2.0, rel=0.1)
    assert np.abs(bcts_transform(stated, temperature, b) - true).mean() < 0.02


def test_reweighted_accuracy_hand_values():
    from statcoder.monitoring.performance import reweighted_accuracy

    est = reweighted_accuracy(np.array([1, 0, 1, 1]), np.array([1.0, 1, 2, 0]), n_target=100)
    assert est.value == pytest.approx(0.75)  # (1 + 0 + 2 + 0) / 4
    # sum w^2 (c - .75)^2 / (sum w)^2 = (.0625 + .5625 + 4 * .0625) / 16
    assert est.se_mean == pytest.approx(np.sqrt(0.875 / 16))
    assert est.se == pytest.approx(np.sqrt(0.875 / 16 + 0.75 * 0.25 / 100))


def test_group_offsets_keep_cbpe_right_when_the_group_mix_shifts():
    rng = np.random.default_rng(5)
    n = 6000
    groups = rng.choice(["A", "B"], n)
    stated = rng.uniform(0.4, 0.95, n)
    true_p = np.where(groups == "A", stated - 0.2, stated)  # over-confident in group A only
    correct = rng.random(n) < true_p
    calibrator = TopLabelCalibrator().fit(stated, correct, groups)
    only_a = rng.uniform(0.4, 0.95, 3000)
    expected = np.mean(only_a - 0.2)
    assert average_confidence(calibrator.transform(only_a, np.full(3000, "A"))).value == pytest.approx(expected, abs=0.02)
    # without the group offsets the reference mix's calibration is off by about half the gap
    assert average_confidence(calibrator.transform(only_a)).value - expected > 0.07

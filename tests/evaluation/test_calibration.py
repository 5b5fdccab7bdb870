"""Calibration metrics against hand-computed values and scikit-learn's calibration_curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from statcoder.evaluation.calibration import (
    calibration_summary,
    classwise_ece,
    reliability_table,
    top_label_ece,
)


def test_top_label_ece_hand_computed():
    # bins of width 0.1: {0.9, 0.9} acc 0.5 -> |0.5-0.9| ; {0.6} acc 1 -> 0.4 ; {0.2} acc 0 -> 0.2
    conf = [0.9, 0.9, 0.6, 0.2]
    correct = [1, 0, 1, 0]
    expected = (2 * 0.4 + 1 * 0.4 + 1 * 0.2) / 4
    assert top_label_ece(conf, correct, n_bins=10) == pytest.approx(expected)


def test_perfectly_calibrated_large_sample_has_small_ece():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, size=200_000)
    correct = rng.random(conf.size) < conf
    assert top_label_ece(conf, correct) < 0.01
    assert top_label_ece(conf, ~correct) > 0.2


def test_reliability_table_matches_sklearn_calibration_curve():
    rng = np.random.default_rng(1)
    conf = rng.beta(5, 2, size=3000)
    correct = rng.random(conf.size) < conf**1.5
    table = reliability_table(conf, correct, n_bins=10)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["accuracy"], prob_true)
    np.testing.assert_allclose(table["mean_confidence"], prob_pred)
    # ECE is the count-weighted mean absolute gap of the same table
    ece = float((table["n"] * table["gap"].abs()).sum() / conf.size)
    assert top_label_ece(conf, correct, n_bins=10) == pytest.approx(ece)


def test_classwise_ece_hand_computed():
    classes = ["x", "y"]
    proba = np.array([[0.8, 0.2], [0.8, 0.2]])
    truth = ["x", "y"]
    # class x: both p=0.8 in one bin, frequency 0.5 -> 0.3; class y: p=0.2, freq 0.5 -> 0.3
    assert classwise_ece(proba, classes, truth, n_bins=10) == pytest.approx(0.3)
    summary = calibration_summary(proba, classes, truth, n_bins=10)
    assert summary["top_label_ece"] == pytest.approx(0.3)
    assert summary["accuracy"] == pytest.approx(0.5)

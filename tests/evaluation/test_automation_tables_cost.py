"""Coverage-accuracy curves, operating point, partial gain, table effects and the cost model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from statcoder.evaluation.automation import (
    coverage_accuracy_curve,
    operating_point,
    partial_coding_gain,
)
from statcoder.evaluation.cost import CostInputs, cost_model
from statcoder.evaluation.tables import cell_shifts, production_codes, total_variation_distance


def test_coverage_accuracy_curve_hand_computed_with_ties():
    curve = coverage_accuracy_curve([0.9, 0.8, 0.8, 0.3], [1, 1, 0, 0])
    np.testing.assert_allclose(curve["coverage"], [0.25, 0.75, 1.0])
    np.testing.assert_allclose(curve["accuracy"], [1.0, 2 / 3, 0.5])
    np.testing.assert_allclose(curve["threshold"], [0.9, 0.8, 0.3])


def test_coverage_accuracy_curve_is_thinned():
    rng = np.random.default_rng(0)
    curve = coverage_accuracy_curve(rng.random(5000), rng.random(5000) < 0.5, n_points=50)
    assert len(curve) <= 50 and curve["coverage"].iloc[-1] == 1.0


def test_operating_point_uses_one_sided_clopper_pearson():
    conf = np.r_[np.full(40, 0.95), np.full(10, 0.5)]
    correct = np.r_[np.ones(38, bool), np.zeros(2, bool), np.zeros(10, bool)]
    point = operating_point(conf, correct, threshold=0.9)
    assert point["n_accepted"] == 40 and point["coverage"] == pytest.approx(0.8)
    assert point["accuracy"] == pytest.approx(0.95)
    # one-sided 95 % lower bound: the 5 % quantile of Beta(k, n - k + 1)
    assert point["cp_lower"] == pytest.approx(stats.beta.ppf(0.05, 38, 3), rel=1e-6)


def test_partial_coding_gain_counts_per_level(toy):
    coded = pd.DataFrame(
        {"predicted_level": [3, 2, 2, 1, 0], "decision": ["auto", "partial", "partial", "partial", "review"]}
    )
    gain = partial_coding_gain(coded, [True, True, False, True, False], depth=3).set_index(["level", "decision"])
    assert gain.loc[(2, "partial"), "n"] == 2 and gain.loc[(2, "partial"), "accuracy"] == 0.5
    assert gain.loc[(1, "partial"), "share"] == pytest.approx(0.2)
    assert gain.loc[(3, "auto"), "n"] == 1


def test_total_variation_distance_and_cell_shifts():
    truth = ["a", "a", "b", "b"]
    pred = ["a", "b", "b", "b"]
    assert total_variation_distance(truth, pred) == pytest.approx(0.25)
    assert total_variation_distance(truth, truth) == 0.0
    shifts = cell_shifts(truth, pred).set_index("code")
    assert shifts.loc["b", "difference"] == 1 and shifts.loc["b", "relative_difference"] == pytest.approx(0.5)
    assert shifts.loc["a", "predicted_n"] == 1


def test_production_codes_use_humans_below_the_coded_level(toy):
    coded = pd.DataFrame(
        {
            "predicted_code": ["A12", "B1", "A21"],
            "predicted_level": [3, 2, 3],
            "decision": ["auto", "partial", "review"],
        }
    )
    truth3 = ["A11", "B11", "A11"]
    assert production_codes(truth3, coded, level=3, classification=toy).tolist() == ["A12", "B11", "A11"]
    truth2 = ["A1", "B1", "A1"]
    assert production_codes(truth2, coded, level=2, classification=toy).tolist() == ["A1", "B1", "A1"]


def test_cost_model_hand_computed():
    out = cost_model(
        share_auto=0.5,
        share_partial=0.2,
        error_rate_auto=0.04,
        error_rate_partial=0.1,
        n_records=100,
        inputs=CostInputs(minutes_per_record=2, cost_per_hour=30, partial_effort=0.5, cost_per_error=5),
    )
    assert out["manual_hours_all"] == pytest.approx(100 * 2 / 60)
    # still manual: review 30 % + half of the 20 % partial = 40 %
    assert out["manual_hours_with_statcoder"] == pytest.approx(0.4 * 100 * 2 / 60)
    assert out["cost_saved"] == pytest.approx(0.6 * 100 * 2 / 60 * 30)
    assert out["expected_errors"] == pytest.approx(100 * (0.5 * 0.04 + 0.2 * 0.1))
    assert out["net_saving"] == pytest.approx(out["cost_saved"] - 4 * 5)


def test_cost_model_scales_to_volume():
    out = cost_model(
        share_auto=0.5, share_partial=0.0, error_rate_auto=0.0, error_rate_partial=np.nan,
        n_records=100, inputs=CostInputs(minutes_per_record=1, volume=6000),
    )
    assert out["volume"] == 6000 and out["hours_saved"] == pytest.approx(50.0)

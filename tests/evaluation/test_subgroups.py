"""Subgroup table: intervals, Benjamini-Hochberg, flags and small-cell suppression."""

from __future__ import annotations

import numpy as np
import pytest

from statcoder.evaluation.subgroups import (
    benjamini_hochberg,
    clopper_pearson_interval,
    subgroup_table,
)


def test_clopper_pearson_interval_closed_forms():
    low, up = clopper_pearson_interval(0, 10)
    assert low == 0.0
    assert up == pytest.approx(1 - 0.025 ** (1 / 10))  # exact upper bound when k = 0
    low, up = clopper_pearson_interval(10, 10)
    assert low == pytest.approx(0.025 ** (1 / 10)) and up == 1.0


def test_benjamini_hochberg_hand_computed():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5, np.nan])
    np.testing.assert_allclose(q[:4], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(q[4])


def _records():
    # region N: 200 records at 90 % accuracy; S: 200 at 60 %; X: 5 records (small); Y: 12
    rng = np.random.default_rng(11)
    region = np.array(["N"] * 200 + ["S"] * 200 + ["X"] * 5 + ["Y"] * 12, dtype=object)
    p = np.where(region == "S", 0.6, 0.9)
    correct = rng.random(region.size) < p
    automatic = rng.random(region.size) < 0.5
    return region, correct, automatic


def test_worse_group_is_flagged_and_better_is_not():
    region, correct, automatic = _records()
    table = subgroup_table(
        {"region": region}, correct=correct, automatic=automatic, correct_at_level=correct, min_cell=3
    ).set_index("group")
    assert "accuracy" in table.loc["S", "flag"]
    assert table.loc["N", "flag"] == ""
    assert table.loc["S", "accuracy_lower"] < table.loc["S", "accuracy"] < table.loc["S", "accuracy_upper"]
    assert table.loc["N", "n"] == "200"


def test_small_cells_are_suppressed_with_secondary_suppression():
    region, correct, automatic = _records()
    table = subgroup_table(
        {"region": region}, correct=correct, automatic=automatic, correct_at_level=correct, min_cell=10
    ).set_index("group")
    # X (5) is below 10; it is the only one, so the next smallest (Y, 12) is suppressed too
    assert table.loc["X", "suppressed"] and table.loc["X", "n"] == "< 10"
    assert table.loc["Y", "suppressed"]
    assert not table.loc["N", "suppressed"]
    for group in ("X", "Y"):
        assert np.isnan(table.loc[group, "accuracy"]) and np.isnan(table.loc[group, "accuracy_q"])
        assert table.loc[group, "flag"] == ""
    # no hidden count leaks: only the non-suppressed groups publish a number
    assert sorted(table.loc[~table["suppressed"], "n"]) == ["200", "200"]


def test_missing_group_values_form_their_own_group():
    table = subgroup_table(
        {"mode": ["web", "", "web", ""]},
        correct=[True, False, True, True],
        automatic=[True, True, False, False],
        correct_at_level=[True, False, True, True],
        min_cell=1,
    )
    assert set(table["group"]) == {"web", "(missing)"}

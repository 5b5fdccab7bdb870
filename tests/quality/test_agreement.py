"""Coder agreement: Cohen's kappa against scikit-learn, Fleiss' kappa against the textbook example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from statcoder.classifications import Classification
from statcoder.errors import InputError
from statcoder.quality.agreement import (
    coder_agreement,
    cohen_kappa,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    percentage_agreement,
)

# Fleiss (1971) worked example as reproduced in Wikipedia "Fleiss' kappa" (10 subjects, 14 raters,
# 5 categories): P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210 (three decimals as printed).
WIKI_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def test_fleiss_textbook_example():
    assert fleiss_kappa_from_counts(WIKI_TABLE) == pytest.approx(0.210, abs=0.0005)
    # hand computation: P-bar = 5.16/13.65... = 0.378022, P-bar_e = 0.212755 -> (0.378022-0.212755)/(1-0.212755)
    assert fleiss_kappa_from_counts(WIKI_TABLE) == pytest.approx((0.378022 - 0.212755) / (1 - 0.212755), abs=1e-5)


def test_fleiss_from_rater_columns_equals_counts():
    # expand the count table into 14 rater columns (Fleiss' kappa ignores rater identity)
    cats = np.array(["a", "b", "c", "d", "e"])
    ratings = np.array([np.repeat(cats, row) for row in WIKI_TABLE])
    assert ratings.shape == (10, 14)
    assert fleiss_kappa(ratings) == pytest.approx(fleiss_kappa_from_counts(WIKI_TABLE))


def test_fleiss_requires_equal_rater_counts():
    with pytest.raises(InputError):
        fleiss_kappa_from_counts(np.array([[2, 0], [1, 2]]))


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcde")), min_size=2, max_size=60))
def test_cohen_matches_sklearn(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    expected = cohen_kappa_score(a, b)
    got = cohen_kappa(a, b)
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_cohen_fixed_example_and_percentage():
    a = ["1111", "1112", "2111", "2111", "1111", "1121"]
    b = ["1111", "1121", "2111", "1111", "1111", "1121"]
    assert percentage_agreement(a, b) == pytest.approx(4 / 6)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_coder_agreement_per_level_two_coders():
    cls = Classification.from_codes(["1111", "1112", "1121", "2111"], name="t")
    frame = pd.DataFrame(
        {
            "a": ["1111", "1112", "2111", "1121", "1111", ""],
            "b": ["1111", "1111", "2111", "1111", "1121", "1111"],
        }
    )
    out = coder_agreement(frame, cls).set_index("level")
    assert out["n_records"].tolist() == [5, 5, 5, 5]  # the row with an empty code is left out
    assert out.loc[1, "percent_agreement"] == pytest.approx(1.0)
    assert out.loc[3, "percent_agreement"] == pytest.approx(3 / 5)  # 111 vs 112 disagree twice
    assert out.loc[4, "percent_agreement"] == pytest.approx(2 / 5)
    assert (out["kappa_method"] == "cohen").all()
    a4 = ["1111", "1112", "2111", "1121", "1111"]
    b4 = ["1111", "1111", "2111", "1111", "1121"]
    assert out.loc[4, "kappa"] == pytest.approx(cohen_kappa_score(a4, b4))


def test_coder_agreement_three_coders_uses_fleiss():
    cls = Classification.from_codes(["1111", "1112", "2111"], name="t")
    ratings = np.array([["1111", "1111", "1112"], ["2111", "2111", "2111"], ["1112", "1111", "1112"]])
    out = coder_agreement(ratings, cls).set_index("level")
    assert (out["kappa_method"] == "fleiss").all()
    assert out.loc[4, "kappa"] == pytest.approx(fleiss_kappa(ratings))
    assert out.loc[4, "percent_agreement"] == pytest.approx(1 / 3)
    assert out.loc[4, "pairwise_agreement"] == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)
    assert out.loc[1, "kappa"] == pytest.approx(1.0)


def test_coder_agreement_needs_two_columns():
    with pytest.raises(InputError):
        coder_agreement(np.array([["1"], ["2"]]))

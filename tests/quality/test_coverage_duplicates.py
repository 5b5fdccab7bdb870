"""Coverage of the classification and duplicate / conflicting texts."""

from __future__ import annotations

import pandas as pd
import pytest

from statcoder.classifications import Classification
from statcoder.errors import InputError, UnknownCodeError
from statcoder.quality.coverage import coverage
from statcoder.quality.duplicates import find_duplicates


@pytest.fixture()
def tree() -> Classification:
    return Classification.from_codes(["1111", "1112", "1121", "2111", "2211"], name="toy")


def test_coverage_counts_per_level(tree):
    codes = ["1111"] * 6 + ["1112"] * 2 + ["2111"] * 5 + ["9999"]
    result = coverage(codes, tree, min_examples=5)
    per = result.per_code.set_index(["level", "code"])
    assert per.loc[(4, "1111"), "status"] == "ok"
    assert per.loc[(4, "1112"), "status"] == "few"
    assert per.loc[(4, "1121"), "status"] == "missing"
    assert per.loc[(3, "111"), "n_examples"] == 8
    assert per.loc[(1, "2"), "n_examples"] == 5
    assert per.loc[(2, "22"), "status"] == "missing"
    lv = result.per_level.set_index("level")
    assert lv.loc[4, ["n_codes", "n_ok", "n_few", "n_missing"]].tolist() == [5, 2, 1, 2]
    assert lv.loc[1, ["n_ok", "n_missing"]].tolist() == [2, 0]
    assert result.unknown_codes.to_dict("records") == [{"code": "9999", "n_records": 1}]


def test_coverage_expected_shares(tree):
    codes = ["1111"] * 6 + ["1112"] * 2 + ["2111"] * 5
    # counts given as shares are rescaled to sum to 1: 1121 -> 0.2, 1112 -> 0.1, 2211 -> 0.1
    shares = {"1111": 4, "1112": 1, "1121": 2, "2111": 2, "2211": 1}
    result = coverage(codes, tree, min_examples=5, expected_shares=shares)
    lv = result.per_level.set_index("level")
    assert lv.loc[4, "expected_share_missing"] == pytest.approx(0.3)
    assert lv.loc[4, "expected_share_few"] == pytest.approx(0.1)
    assert lv.loc[2, "expected_share_missing"] == pytest.approx(0.1)  # sub-major group 22
    # a share given at a coarse level counts there, not below
    coarse = coverage(codes, tree, expected_shares={"22": 1.0, "1111": 1.0})
    lv = coarse.per_level.set_index("level")
    assert lv.loc[2, "expected_share_missing"] == pytest.approx(0.5)
    assert lv.loc[4, "expected_share_missing"] == pytest.approx(0.0)


def test_coverage_rejects_bad_shares(tree):
    with pytest.raises(UnknownCodeError):
        coverage(["1111"], tree, expected_shares={"7777": 1.0})
    with pytest.raises(InputError):
        coverage(["1111"], tree, expected_shares={"1111": -1.0})


def test_duplicates_and_conflicts(tree):
    texts = [
        "Nurse",  # 0
        "Nurse",  # 1 exact duplicate, same code
        "nurse.",  # 2 normalised duplicate, other code -> conflict
        "Cook",  # 3
        "COOK ",  # 4 normalised duplicate of 3, other code
        "cook",  # 5 third code on the same text
        "Welder",  # 6 unique
        "",  # 7 empty: never a duplicate
        "",  # 8
    ]
    codes = ["1111", "1111", "1112", "2111", "1111", "1111", "2211", "1111", "1111"]
    res = find_duplicates(texts, codes, classification=tree)
    assert res.n_exact_duplicates == 1
    assert res.n_normalised_duplicates == 4  # rows 1, 2, 4, 5
    assert res.n_empty == 2
    assert res.n_conflicting_texts == 2
    assert res.n_conflicting_records == 6
    assert res.conflict.tolist() == [True, True, True, True, True, True, False, False, False]
    pairs = res.conflict_pairs.set_index(["code_a", "code_b"])
    assert pairs.loc[("1111", "1112"), "n_texts"] == 1
    assert pairs.loc[("1111", "1112"), "n_records"] == 3
    assert pairs.loc[("1111", "2111"), "n_records"] == 3  # two 1111 + one 2111 for "cook"
    assert pairs.loc[("1111", "1112"), "relation"] == "same_group"
    assert pairs.loc[("1111", "2111"), "relation"] == "across_groups"
    assert pairs.loc[("1111", "2111"), "common_level"] == 0
    summary = res.summary().set_index("measure")["value"]
    assert summary["code pairs in conflict"] == 2


def test_duplicates_length_mismatch():
    with pytest.raises(InputError):
        find_duplicates(["a"], ["1", "2"])


def test_no_text_is_kept_in_result(tree):
    res = find_duplicates(["secret text"] * 2, ["1111", "1112"])
    assert "secret" not in repr(res.__dict__)
    assert isinstance(res.conflict_pairs, pd.DataFrame)

"""Label issues in terms of codes, with the hierarchy of the classification."""

from __future__ import annotations

import numpy as np
import pytest

from statcoder.classifications import Classification
from statcoder.errors import InputError
from statcoder.quality.label_issues import detect_label_issues, hierarchy_relation

CLASSES = ["1111", "1112", "2111"]
# 1111 and 1112 share minor group 111; 2111 is in another major group.
CODES = ["1111", "1111", "1111", "1111", "1112", "1112", "1112", "2111", "2111", "2111"]
PROBA = np.array(
    [
        [0.9, 0.05, 0.05],
        [0.8, 0.1, 0.1],
        [0.7, 0.2, 0.1],
        [0.1, 0.8, 0.1],  # given 1111, really 1112: same group
        [0.1, 0.8, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.9, 0.0],
        [0.1, 0.1, 0.8],
        [0.0, 0.1, 0.9],
        [0.7, 0.1, 0.2],  # given 2111, really 1111: across groups
    ]
)


@pytest.fixture()
def tree() -> Classification:
    return Classification.from_codes(["1111", "1112", "2111"], name="toy")


def test_ranked_issues_with_hierarchy(tree):
    res = detect_label_issues(CODES, PROBA, CLASSES, classification=tree)
    issues = res.issues
    assert issues["row"].tolist() == [3, 9]  # most suspicious first (margin 0.15 < 0.25)
    assert issues["suggested_code"].tolist() == ["1112", "1111"]
    assert issues["relation"].tolist() == ["same_group", "across_groups"]
    assert issues["common_level"].tolist() == [3, 0]
    assert issues["score"].tolist() == pytest.approx([0.15, 0.25])
    assert res.group_level == 3
    assert res.estimated_noise == pytest.approx(0.2)  # Q off-diagonal: 0.1 + 0.1
    assert res.within_group_share == pytest.approx(0.5)
    per = res.per_code.set_index("code")
    assert per.loc["1111", "estimated_noise_rate"] == pytest.approx(0.25)
    assert per.loc["2111", "n_flagged"] == 1
    assert res.mask.tolist() == [False, False, False, True, False, False, False, False, False, True]


def test_group_level_option(tree):
    res = detect_label_issues(CODES, PROBA, CLASSES, classification=tree, group_level=4)
    assert set(res.issues["relation"]) == {"across_groups"}


def test_unknown_codes_in_hierarchy(tree):
    levels, relation = hierarchy_relation(["1111", "9999"], ["1112", "1111"], tree, group_level=3)
    assert levels == [3, None]
    assert relation == ["same_group", "unknown_code"]


def test_code_not_in_classes():
    with pytest.raises(InputError):
        detect_label_issues(["1111", "7777"], np.array([[1.0], [1.0]]), ["1111"])


def test_without_classification_no_relation_columns():
    res = detect_label_issues(CODES, PROBA, CLASSES)
    assert "relation" not in res.issues.columns
    assert len(res.issues) == 2

"""Metric functions against hand-computed cases and scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, top_k_accuracy_score

from statcoder.evaluation.metrics import (
    automation_summary,
    scores_by_level,
    top_k_accuracy,
    top_k_by_level,
)

TRUTH = ["A11", "A12", "A21", "B11", "B12", "A11"]
PRED = ["A11", "A11", "A21", "B12", "", "A21"]


def test_scores_by_level_hand_computed(toy):
    table = scores_by_level(TRUTH, PRED, classification=toy).set_index("level")
    assert list(table.index) == [1, 2, 3]
    assert (table["n"] == 6).all()
    # level 1: truth AAABBA, pred AAAB-A -> 5/6; F1(A) = 1, F1(B) = 2*1/(2+1) = 2/3
    assert table.loc[1, "accuracy"] == pytest.approx(5 / 6)
    assert table.loc[1, "macro_f1"] == pytest.approx((1 + 2 / 3) / 2)
    assert table.loc[1, "weighted_f1"] == pytest.approx((4 * 1 + 2 * 2 / 3) / 6)
    # level 2: truth A1 A1 A2 B1 B1 A1, pred A1 A1 A2 B1 - A2 -> 4/6
    assert table.loc[2, "accuracy"] == pytest.approx(4 / 6)
    # level 3: hits at records 0 and 2; F1(A11) = 2/4, F1(A21) = 2/3, others 0
    assert table.loc[3, "accuracy"] == pytest.approx(2 / 6)
    assert table.loc[3, "macro_f1"] == pytest.approx((0.5 + 2 / 3) / 5)
    assert table.loc[3, "weighted_f1"] == pytest.approx((2 * 0.5 + 1 * 2 / 3) / 6)


def test_scores_by_level_match_sklearn_on_random_codes(toy):
    rng = np.random.default_rng(3)
    leaves = np.array(toy.leaves + [""], dtype=object)
    truth = rng.choice(leaves[:-1], size=400)
    pred = np.where(rng.random(400) < 0.5, truth, rng.choice(leaves, size=400))
    table = scores_by_level(truth, pred, classification=toy).set_index("level")
    for level in (1, 2, 3):
        t = [toy.truncate(c, level) for c in truth]
        p = [toy.truncate(c, level) if c else "" for c in pred]
        labels = np.unique(t)
        assert table.loc[level, "accuracy"] == pytest.approx(accuracy_score(t, p))
        assert table.loc[level, "macro_f1"] == pytest.approx(
            f1_score(t, p, labels=labels, average="macro", zero_division=0)
        )
        assert table.loc[level, "weighted_f1"] == pytest.approx(
            f1_score(t, p, labels=labels, average="weighted", zero_division=0)
        )


def test_partial_prediction_is_wrong_below_its_level(toy):
    table = scores_by_level(["A11"], ["A1"], classification=toy).set_index("level")
    assert table["accuracy"].tolist() == [1.0, 1.0, 0.0]


def test_top_k_accuracy_hand_computed():
    classes = ["x", "y", "z"]
    proba = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    truth = ["y", "z", "z"]
    assert top_k_accuracy(proba, classes, truth, k=1) == pytest.approx(1 / 3)
    assert top_k_accuracy(proba, classes, truth, k=2) == pytest.approx(2 / 3)
    assert top_k_accuracy(proba, classes, truth, k=3) == pytest.approx(1.0)
    assert top_k_accuracy(proba, classes, ["w", "z", "z"], k=3) == pytest.approx(2 / 3)  # unknown code


def test_top_k_accuracy_matches_sklearn():
    rng = np.random.default_rng(7)
    proba = rng.dirichlet(np.ones(12), size=300)
    classes = [f"c{i:02d}" for i in range(12)]
    y = rng.integers(0, 12, size=300)
    truth = [classes[i] for i in y]
    for k in (1, 3, 5):
        expected = top_k_accuracy_score(y, proba, k=k, labels=np.arange(12))
        assert top_k_accuracy(proba, classes, truth, k=k) == pytest.approx(expected)


def test_top_k_by_level_aggregates_up_the_tree(toy):
    classes = ["A11", "A12", "A21", "B11", "B12"]
    # record 0: leaf top is B11 (0.4) but level 1 A = 0.6 and level 2 A1 = 0.35 < B1 = 0.4
    proba = np.array([[0.2, 0.15, 0.25, 0.4, 0.0]])
    table = top_k_by_level(proba, classes, ["A12"], classification=toy, k=2).set_index("level")
    assert table.loc[1, "top1"] == 1.0
    assert table.loc[2, "top1"] == 0.0 and table.loc[2, "topk"] == 1.0
    assert table.loc[3, "top1"] == 0.0 and table.loc[3, "topk"] == 0.0  # A12 is 4th of 5


def test_automation_summary_hand_computed(toy):
    coded = pd.DataFrame(
        {
            "predicted_code": ["A11", "A1", "A2", "B12", "B11", "A"],
            "predicted_level": [3, 2, 2, 3, 3, 1],
            "decision": ["auto", "partial", "partial", "auto", "review", "partial"],
        }
    )
    truth = ["A11", "A12", "A21", "B11", "B12", "A11"]
    table = automation_summary(coded, truth, classification=toy).set_index("decision")
    assert table.loc["auto", "n"] == 2 and table.loc["auto", "share"] == pytest.approx(2 / 6)
    assert table.loc["auto", "accuracy"] == pytest.approx(0.5)
    assert table.loc["partial", "accuracy"] == pytest.approx(1.0)
    assert table.loc["partial", "mean_level"] == pytest.approx(5 / 3)
    assert table.loc["review", "share"] == pytest.approx(1 / 6)
    assert table.loc["review", "accuracy"] == pytest.approx(0.0)
    both = table.loc["automatic (auto+partial)"]
    assert both["n"] == 5 and both["accuracy"] == pytest.approx(4 / 5)


def test_automation_summary_empty_share_is_nan(toy):
    coded = pd.DataFrame({"predicted_code": ["A11"], "predicted_level": [3], "decision": ["auto"]})
    table = automation_summary(coded, ["A11"], classification=toy).set_index("decision")
    assert table.loc["review", "n"] == 0 and np.isnan(table.loc["review", "accuracy"])


def test_true_codes_shallower_than_a_level_are_left_out_there(toy):
    table = scores_by_level(["A1", "A11"], ["A1", "A12"], classification=toy).set_index("level")
    assert table["n"].tolist() == [2, 2, 1]
    assert table["accuracy"].tolist() == [1.0, 1.0, 0.0]

"""Per-code table, confused pairs, tree distance, explanations, McNemar, ethics and model card."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import precision_recall_fscore_support

from statcoder.evaluation.compare import mcnemar_exact
from statcoder.evaluation.error_analysis import confused_pairs, error_tree_distances, per_code_table
from statcoder.evaluation.ethics import PLACEHOLDER, ethics_evidence, model_card_markdown
from statcoder.evaluation.explain import record_contributions, top_features_per_code

TRUTH = ["A11", "A12", "A21", "B11", "B12", "A11", "A12"]
PRED = ["A11", "A11", "A21", "B12", "", "A21", "A11"]


def test_per_code_table_matches_sklearn(toy):
    table = per_code_table(TRUTH, PRED, classification=toy).set_index("code")
    labels = ["A11", "A12", "A21", "B11", "B12"]
    p, r, f, s = precision_recall_fscore_support(TRUTH, PRED, labels=labels, zero_division=0)
    for i, code in enumerate(labels):
        assert table.loc[code, "support"] == s[i]
        assert table.loc[code, "recall"] == pytest.approx(r[i])
        assert table.loc[code, "f1"] == pytest.approx(f[i])
        if table.loc[code, "predicted"] > 0:
            assert table.loc[code, "precision"] == pytest.approx(p[i])
        else:
            assert np.isnan(table.loc[code, "precision"])  # never predicted: undefined, not 0
    assert table.loc["A11", "title"] == "Unit A11"


def test_confused_pairs_hand_computed(toy):
    pairs = confused_pairs(TRUTH, PRED, classification=toy)
    first = pairs.iloc[0]
    # A12 -> A11 happens twice (rows 1 and 6); the uncoded row 4 is not an error pair
    assert (first["true_code"], first["predicted_code"], first["n"]) == ("A12", "A11", 2)
    assert first["rows"] == [1, 6] and first["tree_distance"] == 1
    assert first["share_of_errors"] == pytest.approx(2 / 4)
    assert set(zip(pairs["true_code"], pairs["predicted_code"], strict=True)) == {("A12", "A11"), ("B11", "B12"), ("A11", "A21")}


def test_error_tree_distances(toy):
    out = error_tree_distances(TRUTH, PRED, classification=toy)
    # errors: A12->A11 (1) x2, B11->B12 (1), A11->A21 (2)
    assert out["n_errors"] == 4
    assert out["mean_distance"] == pytest.approx((1 + 1 + 1 + 2) / 4)
    assert {d["distance"]: d["n"] for d in out["distribution"]} == {1: 3, 2: 1}


def test_top_features_per_code_and_record_contributions():
    names = ["nurse", "driver", "c: urs", "c:riv"]
    coef = sp.csr_matrix(np.array([[2.0, -1.0, 0.5, 0.0], [-0.5, 3.0, 0.0, 0.7]]))
    table = top_features_per_code(coef, names, ["N", "D"], codes=["N", "D"], top=2)
    nurse = table[table["code"] == "N"]
    assert nurse[nurse["kind"] == "word"]["ngram"].tolist() == ["nurse"]  # negative weights are not listed
    assert nurse[nurse["kind"] == "char"]["ngram"].tolist() == ["_urs"]  # word boundary shown
    x = sp.csr_matrix(np.array([[0.6, 0.8, 0.0, 0.5]]))
    drivers = record_contributions(x, np.array([-0.5, 3.0, 0.0, 0.7]), names)
    assert drivers == [("driver", pytest.approx(2.4)), ("c:riv", pytest.approx(0.35))]


def test_mcnemar_exact_hand_computed():
    a = np.array([True] * 10 + [False] * 2)
    b = np.array([True] * 4 + [False] * 6 + [True] * 2)
    # discordant: 6 only-A, 2 only-B -> two-sided binomial p = 2 * P(X <= 2 | 8, 0.5) = 2 * 37/256
    assert mcnemar_exact(a, b) == pytest.approx(2 * 37 / 256)
    assert mcnemar_exact(a, a) == 1.0


def test_ethics_has_six_principles_with_placeholders_and_a_model_card():
    summary = {"auto_share": 0.4, "partial_share": 0.2, "review_share": 0.4, "auto_accuracy": 0.96,
               "target_accuracy": 0.95, "thresholds": {"1": 0.5, "4": 0.9}, "group_columns": ["sex"],
               "n_flagged_groups": 1, "min_cell": 10, "ece": 0.02, "model_version": "m-1", "n_records": 100}
    principles = ethics_evidence(summary, {})
    assert [p["principle"] for p in principles] == [
        "Public good", "Confidentiality and data security", "Methods, quality and human oversight",
        "Legal compliance", "Public views and engagement", "Transparency",
    ]
    assert all(p["to_complete"] and p["to_complete"][0].startswith(PLACEHOLDER) for p in principles)
    oversight = " ".join(principles[2]["evidence"])
    assert "95.0 %" in oversight and "level 4: 0.900" in oversight and "40.0 %" in oversight
    card = model_card_markdown({"backend": "linear", "seed": 0}, summary,
                               [{"level": 1, "accuracy": 0.9, "accuracy_lower": 0.85, "accuracy_upper": 0.93, "macro_f1": 0.8}])
    assert card.startswith("# Model card: m-1") and "| 1 | 0.900 | 0.850-0.930 | 0.800 |" in card

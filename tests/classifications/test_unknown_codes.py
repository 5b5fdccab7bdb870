"""Codes not in the classification are reported in one format by training, evaluation and estimation."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from statcoder.classifications import Classification
from statcoder.errors import UnknownCodeError

TREE = Classification.from_codes(["111", "112", "121", "211"], name="toy", prefix_lengths=(1, 2, 3))
PATTERN = re.compile(r"^2 rows carry 2 codes not in toy: 999 \(1\), 888 \(1\)$")


def _frame(column: str) -> pd.DataFrame:
    return pd.DataFrame({"text": ["a", "b", "c", "d"], column: ["111", "999", "112", "888"]})


def test_training_data_preparation(tmp_path):
    from statcoder.coder.train import prepare_training_data

    with pytest.raises(UnknownCodeError) as exc:
        prepare_training_data(_frame("isco"), text_columns=["text"], code_column="isco", classification=TREE,
                              where="train.csv")
    assert PATTERN.match(exc.value.message), exc.value.message
    assert exc.value.where == "train.csv: column 'isco', rows 3, 5"


def test_evaluation_data():
    from statcoder.evaluation.data import EvaluationData

    with pytest.raises(UnknownCodeError) as exc:
        EvaluationData.from_frame(_frame("isco"), text_columns=["text"], code_column="isco", classification=TREE,
                                  source="test.csv")
    assert PATTERN.match(exc.value.message), exc.value.message
    assert exc.value.where == "test.csv: column 'isco', rows 3, 5"


def test_coding_error_correction_names_the_column_and_rows():
    from statcoder.estimation.coding_error import corrected_shares_from_frame

    data = pd.DataFrame({"predicted_code": ["111", "999", "112", "888", "111", "121"],
                         "audit_code": ["111", "", "112", "", "112", ""]})
    with pytest.raises(UnknownCodeError) as exc:
        corrected_shares_from_frame(data, classification=TREE)
    assert PATTERN.match(exc.value.message), exc.value.message
    assert exc.value.where == "data: column 'predicted_code', rows 3, 5"


def test_counts_have_separators_and_singular_nouns():
    from statcoder.classifications.unknown import unknown_code_error

    codes = ["111"] + ["999"] * 5000 + ["888"]
    err = unknown_code_error(codes, list(range(1, 5001)), classification=TREE, column="isco", where="f.csv")
    assert err.message.startswith("5,000 rows carry a code not in toy: 999 (5,000)"), err.message
    assert "--on-unknown-code drop" in err.hint


def test_one_row_reads_in_the_singular():
    from statcoder.classifications.unknown import unknown_code_error

    err = unknown_code_error(["111", "999", "112"], [1], classification=TREE, column="isco", where="f.csv")
    assert err.message == "1 row carries a code not in toy: 999 (1)"
    assert err.where == "f.csv: column 'isco', row 3"


def test_no_code_in_the_classification_suggests_the_wrong_classification():
    from statcoder.coder.train import prepare_training_data

    frame = pd.DataFrame({"text": ["a", "b", "c"], "isco": ["2512", "2512", "7411"]})
    with pytest.raises(UnknownCodeError) as exc:
        prepare_training_data(frame, text_columns=["text"], code_column="isco", classification=TREE, where="t.csv")
    assert "3 rows carry 2 codes not in toy" in exc.value.message
    assert "--classification" in exc.value.hint and "on-unknown-code" not in exc.value.hint


def test_too_few_codes_after_checks_says_what_was_left_out():
    from statcoder.coder.train import prepare_training_data
    from statcoder.errors import InputError

    frame = pd.DataFrame({"text": ["a", "", "c", "d"], "isco": ["111", "112", "999", "111"]})
    with pytest.raises(InputError) as exc:
        prepare_training_data(frame, text_columns=["text"], code_column="isco", classification=TREE,
                              where="t.csv", on_unknown_code="drop")
    assert exc.value.message == ("training needs at least 2 different codes, but the usable rows (2) carry 1; "
                                 "left out: 1 row with an empty text, 1 row with a code not in the classification")

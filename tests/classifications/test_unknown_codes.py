"""Codes not in the classification are reported in one format by training, evaluation and estimation."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from statcoder.classifications import Classification
from statcoder.errors import UnknownCodeError

TREE = Classification.from_codes(["111", "112", "121", "211"], name="toy", prefix_lengths=(1, 2, 3))
PATTERN = re.compile(r"^2 row\(s\) carry 2 code\(s\) not in toy: 999 \(1\), 888 \(1\)$")


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

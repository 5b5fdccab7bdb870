import pandas as pd
import pytest

from statcoder.errors import InputError
from statcoder.text import check_lengths, join_columns, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Software   ENGINEER ", "software engineer"),
        ("Ingénieur-logiciel (H/F)", "ingenieur logiciel h f"),
        ("Kierowca kat. C+E, Łódź", "kierowca kat c e łodz"),
        ("ＣＥＯ", "ceo"),
        ("Straße", "strasse"),
        ("", ""),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_join_columns_handles_missing_values():
    frame = pd.DataFrame({"a": ["nurse", None, "x"], "b": ["hospital", "school", float("nan")]})
    assert join_columns(frame, ["a", "b"]) == ["nurse | hospital", "school", "x"]


def test_join_columns_names_missing_column():
    with pytest.raises(InputError) as info:
        join_columns(pd.DataFrame({"a": ["x"]}), ["title"], where="f.csv")
    assert "'title'" in info.value.message and "a" in info.value.hint


def test_check_lengths_reports_rows():
    with pytest.raises(InputError) as info:
        check_lengths(["ok", "x" * 11], max_length=10, where="f.csv")
    assert "row(s) 3" in info.value.where

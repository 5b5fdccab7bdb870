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


def _reference_normalise(text: str) -> str:
    """The normalisation as first written (one step per rule), which the fast version must equal."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = re.sub(r"_+", " ", re.sub(r"[^\w<>]+", " ", text))
    return re.sub(r"\s+", " ", text).strip()


def test_fast_normalise_equals_the_rule_by_rule_version():
    from statcoder.text.normalise import normalise

    texts = ["A_b__c", "x\u00a0y", "Straße", "ǅ ﬁ ①", "İstanbul", "e\u0301cole", "Żółć GĘŚLĄ", "<b>tag</b>",
             "\t_\n", "ÆØÅ æøå", "Ωμέγα", "ﾊﾝｶｸ", "", "   ", "_", "a\u200bb", "\u2028x", "東京都 看護師",
             "C++ / C# developer (m/f/d)", "  Registered   NURSE  ", "x" * 5000 + " ą " * 100]
    texts += [chr(c) + "a_" + chr(c) + " b" for c in range(0, 0x3100, 7)]
    for text in texts:
        assert normalise(text) == _reference_normalise(text), repr(text)

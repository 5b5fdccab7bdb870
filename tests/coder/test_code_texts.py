"""``Coder.code_texts`` (columns) gives exactly what ``Coder.code`` (a frame) gives."""

import numpy as np
import pandas as pd
import pytest

from statcoder.coder.index import CodingIndex
from statcoder.contract import OUTPUT_COLUMNS
from statcoder.errors import InputError
from statcoder.text.normalise import as_text


def _assert_same(columns: dict, frame: pd.DataFrame) -> None:
    assert list(columns) == list(OUTPUT_COLUMNS)
    for name in OUTPUT_COLUMNS:
        assert len(columns[name]) == len(frame)
        assert frame[name].tolist() == columns[name].tolist(), name


def test_code_texts_equals_code(trained):
    coder, test_set = trained
    texts = test_set["text"].tolist()[:120]
    texts += ["", "   ", texts[0], f"  {texts[1]}  ", None]  # empty, blank, repeated, padded, missing
    columns = coder.code_texts(texts, top_k=3)
    _assert_same(columns, coder.code(pd.DataFrame({"text": texts}), text_columns=["text"], top_k=3))
    _assert_same(columns, coder.code([t if t is not None else "" for t in texts], top_k=3))
    assert columns["predicted_level"].dtype == np.int64 and columns["confidence"].dtype == np.float64


def test_code_texts_with_several_fields_and_index(trained):
    coder, test_set = trained
    frame = pd.DataFrame({"title": test_set["text"].tolist()[:40], "task": ["repairs machines", "", None, "x"] * 10})
    frame.loc[0, "title"] = "Chief Statistician of the Republic"
    coder.index = CodingIndex({"Chief Statistician of the Republic": "2120"})
    try:
        coded = coder.code(frame, text_columns=["title", "task"], top_k=5)
        joined = [" | ".join(p for p in (as_text(a).strip(), as_text(b).strip()) if p)
                  for a, b in zip(frame["title"], frame["task"], strict=True)]
        columns = coder.code_texts(joined, index_texts=frame["title"].tolist(), top_k=5)
    finally:
        coder.index = None
    assert columns["source"][0] == "index" and columns["predicted_code"][0] == "2120"
    _assert_same(columns, coded)


def test_code_texts_cuts_long_texts_like_code(trained):
    coder, _ = trained
    texts = ["carpenter " * 50, "nurse"]
    _assert_same(coder.code_texts(texts, max_text_length=30),
                 coder.code(pd.DataFrame({"text": texts}), text_columns=["text"], max_text_length=30))


def test_code_texts_checks_its_arguments(trained):
    coder, _ = trained
    with pytest.raises(InputError, match="top_k"):
        coder.code_texts(["nurse"], top_k=0)
    with pytest.raises(InputError, match="index texts"):
        coder.code_texts(["nurse", "cook"], index_texts=["nurse"])


@pytest.mark.parametrize("top_k", [1, 5])
def test_the_margins_are_those_of_the_candidates_as_written(trained, top_k):
    """``margins=True``: p(best) - p(second) of the JSON candidates, as the review queue computes it."""
    from statcoder.service.review import candidate_margin

    coder, test_set = trained
    texts = test_set["text"].tolist()[:60] + ["", test_set["text"].tolist()[0], "Chief Statistician of the Republic"]
    coder.index = CodingIndex({"Chief Statistician of the Republic": "2120"})
    try:
        columns = coder.code_texts(texts, top_k=top_k, margins=True)
        assert "margin" not in coder.code_texts(texts[:3], top_k=top_k)  # the output contract is unchanged
    finally:
        coder.index = None
    expected = [candidate_margin(c) for c in columns["candidates"]]
    assert columns["margin"].tolist() == expected  # exactly, including an index hit (1.0) and no text (0.0)
    assert columns["margin"][-1] == 1.0 and columns["margin"][-3] == 0.0
    assert len(set(expected)) > 10  # real margins, not a constant

"""Coding one chunk of records: the single code path of every batch engine.

The local streaming engine, the Spark engine and the service's jobs all call
:func:`code_chunk` on a pandas chunk. It never raises on a bad row: a row whose text is
missing, has no letters (a number, a date, punctuation), is longer than the limit (it is
truncated and coded) or had bytes that are not valid UTF-8 is coded ``review`` and its
``problem`` column says why. Input columns are kept untouched; the contract's output columns,
``problem`` and ``model_version`` are added.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.contract import OUTPUT_COLUMNS
from statcoder.errors import InputError

if TYPE_CHECKING:
    from statcoder.coder import Coder

#: The problems a row can have, most serious first (a row reports the first that applies).
PROBLEMS = ("invalid_encoding", "missing", "not_text", "too_long")
#: Columns the batch engines add to the input columns, in this order.
BATCH_COLUMNS = (*OUTPUT_COLUMNS, "problem", "model_version")
REPLACEMENT = "\ufffd"


def check_text_columns(columns: Sequence[str], text_columns: Sequence[str], *, where: str) -> None:
    """Raise InputError (before any output is written) when a text column is not in ``columns``."""
    if not text_columns:
        raise InputError("no text column given", where=where, hint="name at least one column with --text")
    missing = [c for c in text_columns if c not in columns]
    if missing:
        raise InputError(
            f"text column(s) {', '.join(repr(c) for c in missing)} not found", where=where,
            hint=f"the columns are: {', '.join(map(str, list(columns)[:30]))}",
        )


def _as_text_column(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (texts, missing, invalid_encoding) for one column of any type.

    Strings are stripped; bytes are decoded as UTF-8 with replacement (flagged when invalid);
    None/NaN are missing; other types (numbers, dates) become their string form.
    """
    n = len(values)
    texts = np.empty(n, dtype=object)
    missing = np.zeros(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    for i, value in enumerate(values.tolist()):
        if isinstance(value, str):
            texts[i] = value.strip()
            if REPLACEMENT in value:
                invalid[i] = True
        elif value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            texts[i] = ""
            missing[i] = True
        elif isinstance(value, bytes | bytearray):
            try:
                texts[i] = bytes(value).decode("utf-8").strip()
            except UnicodeDecodeError:
                texts[i] = bytes(value).decode("utf-8", errors="replace").strip()
                invalid[i] = True
        else:
            texts[i] = str(value).strip()
    return texts, missing, invalid


def prepare_texts(
    frame: pd.DataFrame, text_columns: Sequence[str], *, max_text_length: int, where: str = "input"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return (a frame with only the cleaned text columns, the problem per row as str array).

    Over-long rows are truncated so that the joined text fits in ``max_text_length``
    characters; rows without any letter are blanked (the coder then leaves them uncoded).
    """
    check_text_columns(list(frame.columns), text_columns, where=where)
    n = len(frame)
    cleaned: dict[str, np.ndarray] = {}
    all_missing = np.ones(n, dtype=bool)
    invalid = np.zeros(n, dtype=bool)
    for column in text_columns:
        texts, missing, bad = _as_text_column(frame[column])
        cleaned[column] = texts
        all_missing &= missing | (texts == "")
        invalid |= bad
    if len(text_columns) == 1:
        joined = cleaned[text_columns[0]]
    else:
        joined = np.array([" | ".join(p for p in row if p) for row in zip(*cleaned.values(), strict=True)],
                          dtype=object)
    lengths = np.fromiter((len(t) for t in joined), dtype=np.int64, count=n)
    too_long = lengths > max_text_length
    for i in np.flatnonzero(too_long):
        # the joined text cut to the limit goes into the first column, the others are emptied
        cleaned[text_columns[0]][i] = joined[i][:max_text_length]
        for column in text_columns[1:]:
            cleaned[column][i] = ""
    not_text = ~all_missing & np.fromiter((not any(ch.isalpha() for ch in t) for t in joined),
                                          dtype=bool, count=n)
    for column in text_columns:
        cleaned[column][not_text] = ""
    problem = np.full(n, "", dtype=object)
    # the last assignment wins, so assign the least serious first
    problem[too_long] = "too_long"
    problem[not_text] = "not_text"
    problem[all_missing] = "missing"
    problem[invalid] = "invalid_encoding"
    return pd.DataFrame(cleaned, index=frame.index), problem


def code_chunk(
    coder: Coder, frame: pd.DataFrame, *, text_columns: Sequence[str], top_k: int = 5,
    max_text_length: int = 10_000, where: str = "input",
) -> pd.DataFrame:
    """Code one chunk; returns its input columns plus :data:`BATCH_COLUMNS`, row for row.

    Rows with a problem (see :data:`PROBLEMS`) get decision ``review``; missing and non-text
    rows get no code. Raises InputError only for a missing text column.
    """
    texts, problem = prepare_texts(frame, text_columns, max_text_length=max_text_length, where=where)
    coded = coder.code(texts, text_columns=list(text_columns), top_k=top_k, where=where)
    out = frame.copy()
    for column in BATCH_COLUMNS[:6]:
        out[column] = coded[column].to_numpy()
    flagged = problem != ""
    if flagged.any():
        decision = out["decision"].to_numpy(dtype=object).copy()
        decision[flagged] = "review"
        out["decision"] = decision
    out["problem"] = problem
    out["model_version"] = coder.version
    return out


def problem_counts(problem: pd.Series | np.ndarray) -> dict[str, int]:
    """Return {problem kind: rows} for the kinds present (no entry for rows without problem)."""
    values, counts = np.unique(np.asarray(problem, dtype=object).astype(str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True) if v}

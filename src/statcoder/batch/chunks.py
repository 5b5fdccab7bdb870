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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from statcoder.batch.cache import TextCache
from statcoder.contract import OUTPUT_COLUMNS
from statcoder.errors import InputError

if TYPE_CHECKING:
    from statcoder.coder import Coder

#: The problems a row can have, most serious first (a row reports the first that applies).
PROBLEMS = ("invalid_encoding", "missing", "not_text", "too_long")
#: Columns the batch engines add to the input columns, in this order.
BATCH_COLUMNS = (*OUTPUT_COLUMNS, "problem", "model_version")
REPLACEMENT = "\ufffd"


def card_max_text_length(card: Mapping) -> int:
    """The longest text (characters) a model directory's card says it was trained with; the
    ``STATCODER_MAX_TEXT_LENGTH`` setting for a card without limits. A run's default limit."""
    limit = (card.get("limits") or {}).get("max_text_length")
    if limit:
        return int(limit)
    from statcoder.settings import get_settings

    return int(get_settings().max_text_length)


def check_text_columns(columns: Sequence[str], text_columns: Sequence[str], *, where: str) -> None:
    """Raise InputError (before any output is written) when a text column is not in ``columns``, or
    when the input already has a column the coding adds (it would be overwritten without a word)."""
    clash = [c for c in BATCH_COLUMNS if c in columns]
    if clash:
        raise InputError(f"the input already has output column(s) {', '.join(clash)}", where=where,
                         hint="drop or rename them before coding (coding adds them)")
    if not text_columns:
        raise InputError("no text column given", where=where, hint="name at least one text column (text_columns; CLI: --text)")
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


#: The coded columns of one distinct text (what the cache keeps) and their numpy dtypes.
CODED = {"predicted_code": object, "predicted_level": np.int64, "confidence": np.float64, "decision": object,
         "source": object, "candidates": object, "problem": object}
#: Arrow types of the coded columns of :data:`BATCH_COLUMNS` (``model_version`` included).
BATCH_TYPES = {"predicted_code": pa.string(), "predicted_level": pa.int64(), "confidence": pa.float64(),
               "decision": pa.string(), "source": pa.string(), "candidates": pa.string(),
               "problem": pa.string(), "model_version": pa.string()}


def code_chunk(
    coder: Coder, frame: pd.DataFrame, *, text_columns: Sequence[str], top_k: int = 5,
    max_text_length: int = 10_000, where: str = "input", cache: TextCache | None = None,
) -> pd.DataFrame:
    """Code one chunk; returns its input columns plus :data:`BATCH_COLUMNS`, row for row.

    Rows with a problem (see :data:`PROBLEMS`) get decision ``review``; missing and non-text
    rows get no code. Each distinct combination of text values is coded once (and, with a
    ``cache``, once per worker across chunks). Raises InputError only for a missing text column.
    """
    check_text_columns(list(frame.columns), text_columns, where=where)
    inverse, first, exact = _distinct_frame(frame, text_columns)
    distinct = frame[list(text_columns)].iloc[first].reset_index(drop=True)
    coded = _code_distinct(coder, distinct, text_columns, exact, top_k=top_k, max_text_length=max_text_length,
                           where=where, cache=cache)
    out = frame.copy()
    for column in CODED:
        out[column] = coded[column][inverse]
    out["model_version"] = coder.version
    return out


def code_table(
    coder: Coder, table: pa.Table, *, text_columns: Sequence[str], top_k: int = 5,
    max_text_length: int = 10_000, where: str = "input", cache: TextCache | None = None,
) -> pa.Table:
    """:func:`code_chunk` for an Arrow table: the same rows and values, as a ``pa.Table``.

    The input columns pass through untouched (no pandas conversion of the whole chunk): the
    text columns are de-duplicated in Arrow, only the distinct values become Python strings,
    and the output columns are built from the distinct results by one Arrow ``take`` each.
    """
    check_text_columns(table.column_names, text_columns, where=where)
    inverse, first, exact = _distinct_table(table, text_columns)
    distinct = table.select(list(text_columns)).take(pa.array(first)).to_pandas()
    coded = _code_distinct(coder, distinct, text_columns, exact, top_k=top_k, max_text_length=max_text_length,
                           where=where, cache=cache)
    rows = pa.array(inverse)
    for column in CODED:
        table = table.append_column(pa.field(column, BATCH_TYPES[column]),
                                    pa.array(coded[column], type=BATCH_TYPES[column]).take(rows))
    version = pa.repeat(pa.scalar(coder.version, type=pa.string()), len(inverse))
    return table.append_column(pa.field("model_version", pa.string()), version)


def cache_for(coder: Coder, capacity: int) -> TextCache | None:
    """A :class:`TextCache` of ``capacity`` entries for :func:`code_chunk` / :func:`code_table`
    (None when ``capacity`` is 0: no cache)."""
    return TextCache(capacity, CODED) if capacity > 0 else None


def _code_distinct(coder: Coder, distinct: pd.DataFrame, text_columns: Sequence[str], exact: bool, *, top_k: int,
                   max_text_length: int, where: str, cache: TextCache | None) -> dict[str, np.ndarray]:
    """The :data:`CODED` columns of every (distinct) row of ``distinct``, from the cache where it has them."""
    if cache is None or not exact or not len(distinct):
        return _code_rows(coder, distinct, text_columns, top_k=top_k, max_text_length=max_text_length, where=where)
    keys = _cache_keys(distinct, text_columns)
    slots = cache.lookup(keys)
    miss = np.flatnonzero(slots < 0)
    if not len(miss):
        return cache.gather(slots)
    out = {name: np.empty(len(distinct), dtype=dtype) for name, dtype in CODED.items()}
    hit = np.flatnonzero(slots >= 0)
    for name, values in cache.gather(slots[hit]).items():
        out[name][hit] = values
    coded = _code_rows(coder, distinct.iloc[miss], text_columns, top_k=top_k, max_text_length=max_text_length,
                       where=where)
    for name in CODED:
        out[name][miss] = coded[name]
    cache.store([keys[i] for i in miss], coded)
    return out


def _code_rows(coder: Coder, rows: pd.DataFrame, text_columns: Sequence[str], *, top_k: int, max_text_length: int,
               where: str) -> dict[str, np.ndarray]:
    """Code ``rows`` (text columns only); returns the :data:`CODED` columns, decision forced for problems."""
    texts, problem = prepare_texts(rows, text_columns, max_text_length=max_text_length, where=where)
    # the texts are cut to the run's limit above (and flagged); the model must not cut them again
    # to its card's limit when the run's is larger (the user raised it on purpose)
    coded = coder.code(texts, text_columns=list(text_columns), top_k=top_k, where=where, max_text_length=max_text_length)
    out = {column: coded[column].to_numpy() for column in BATCH_COLUMNS[:6]}
    flagged = problem != ""
    if flagged.any():
        decision = out["decision"].astype(object, copy=True)
        decision[flagged] = "review"
        out["decision"] = decision
    out["problem"] = problem
    return {name: np.asarray(out[name], dtype=dtype) for name, dtype in CODED.items()}


def _cache_keys(distinct: pd.DataFrame, text_columns: Sequence[str]) -> list:
    """Per distinct row, its cache key: the text (one column) or the tuple of texts; None if missing."""
    columns = [[v if isinstance(v, str) else None for v in distinct[c].tolist()] for c in text_columns]
    return columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))


def _combine(codes: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct id of every row, first row of every distinct id in order of first appearance)
    for the per-column value ids ``codes`` (each >= 0)."""
    key = codes[0] if codes else np.zeros(n, dtype=np.int64)
    for other in codes[1:]:
        _, key = np.unique(key * (int(other.max(initial=0)) + 1) + other, return_inverse=True)
        key = key.ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct rows in order of first appearance
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse.ravel()], first[order]


def _distinct_frame(frame: pd.DataFrame, text_columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray, bool]:
    """(distinct id per row, first row per id, whether ids are exact text values) for a pandas chunk.

    Columns of strings (and missing values) are factorised; any other column (numbers, bytes,
    mixed types) is not: every row is its own value there (``1``, ``1.0`` and ``True`` are equal
    keys to Python but different texts).
    """
    n, codes, exact = len(frame), [], True
    for column in text_columns:
        values = frame[column]
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            codes.append(pd.factorize(values)[0].astype(np.int64) + 1)  # missing values: -1 -> 0
        else:
            codes.append(np.arange(n, dtype=np.int64))
            exact = False
    inverse, first = _combine(codes, n)
    return inverse, first, exact


def _distinct_table(table: pa.Table, text_columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`_distinct_frame` for an Arrow table: string columns are dictionary-encoded in Arrow."""
    n, codes, exact = table.num_rows, [], True
    for column in text_columns:
        values = table.column(column)
        kind = values.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            encoded = pc.dictionary_encode(values.combine_chunks() if values.num_chunks != 1 else values.chunk(0))
            codes.append(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1)
        else:
            codes.append(np.arange(n, dtype=np.int64))
            exact = False
    inverse, first = _combine(codes, n)
    return inverse, first, exact


def problem_counts(problem: pd.Series | np.ndarray) -> dict[str, int]:
    """Return {problem kind: rows} for the kinds present (no entry for rows without problem)."""
    values, counts = np.unique(np.asarray(problem, dtype=object).astype(str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True) if v}

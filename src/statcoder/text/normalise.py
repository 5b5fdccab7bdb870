"""Pure text-normalisation functions, applied identically at training and coding time."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import pandas as pd

from statcoder.errors import InputError


def normalise(text: str) -> str:
    """Return ``text`` in the canonical form statcoder matches and learns on.

    NFKC compatibility folding, case folding, accents removed (``é`` -> ``e``; letters such as
    Polish ``ł`` that have no decomposition stay), punctuation turned into spaces, whitespace
    runs collapsed. Works for any script: letters and digits of every language are kept.
    """
    if text.isascii():  # NFKC, NFKD and accent removal change nothing in ASCII; casefold is lower
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # every run of characters other than letters/digits (and < >) becomes one space: the same as
    # replacing non-word runs, then underscores, then collapsing whitespace, in one regex pass
    return _NON_WORD.sub(" ", text.replace("_", " ")).strip()


_NON_WORD = re.compile(r"[^\w<>]+", re.UNICODE)


@lru_cache(maxsize=200_000)
def normalise_cached(text: str) -> str:
    """``normalise`` with a bounded cache: production data repeats the same answers a lot."""
    return normalise(text)


def normalise_key(text: str) -> str:
    """Return the key used for exact matching (index look-ups, duplicate detection)."""
    return normalise(text)


def as_text(value: object) -> str:
    """Return ``value`` as text: None/NaN -> "", numbers -> their string form."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    return value if isinstance(value, str) else str(value)


def join_fields(fields: Sequence[str]) -> str:
    """One record's text fields as one text: stripped, empty ones left out, " | " between the rest
    (what :func:`join_columns` gives for that row)."""
    return " | ".join(p for p in (f.strip() for f in fields) if p)


def join_columns(frame: pd.DataFrame, columns: Sequence[str], *, where: str = "input") -> list[str]:
    """Join the text ``columns`` of ``frame`` into one text per row (" | " between columns).

    Raises InputError when a column is missing. Missing values count as empty text.
    """
    if not columns:
        raise InputError("no text column given", where=where, hint="name at least one text column (text_columns; CLI: --text)")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"text column(s) {', '.join(repr(c) for c in missing)} not found",
            where=where,
            hint=f"the columns are: {', '.join(map(str, list(frame.columns)[:30]))}",
        )
    parts = [[as_text(v).strip() for v in frame[c].tolist()] for c in columns]
    if len(parts) == 1:
        return parts[0]
    return [" | ".join(p for p in row if p) for row in zip(*parts, strict=True)]


def check_lengths(texts: Sequence[str], *, max_length: int, where: str = "input", first_row: int = 2) -> None:
    """Raise InputError if any text is longer than ``max_length`` characters.

    ``first_row`` is the file row of ``texts[0]`` (2 for a CSV with a header), used in the message.
    """
    long_rows = [i for i, t in enumerate(texts) if len(t) > max_length]
    if long_rows:
        shown = ", ".join(str(i + first_row) for i in long_rows[:5])
        raise InputError(
            f"{len(long_rows)} text(s) are longer than {max_length} characters",
            where=f"{where}: row(s) {shown}{' ...' if len(long_rows) > 5 else ''}",
            hint="shorten them, or raise the limit (max_text_length; CLI: --max-text-length; service: "
            "STATCODER_MAX_TEXT_LENGTH)",
        )


def truncate_texts(texts: Sequence[str], *, max_length: int) -> tuple[list[str], list[int]]:
    """Cut every text to ``max_length`` characters; returns (texts, positions of the cut ones).

    Long texts (job ads) carry their signal in the first few thousand characters, so a few
    over-long records are cut rather than refusing the file.
    """
    if max_length < 1:
        raise InputError(f"the text length limit must be at least 1, got {max_length}",
                         hint="pass a positive max_text_length (CLI: --max-text-length; service: "
                         "STATCODER_MAX_TEXT_LENGTH)")
    cut = [i for i, t in enumerate(texts) if len(t) > max_length]
    if not cut:
        return list(texts), []
    out = list(texts)
    for i in cut:
        out[i] = out[i][:max_length]
    return out, cut

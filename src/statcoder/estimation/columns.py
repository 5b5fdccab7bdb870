"""Reading survey columns for estimation: numbers, labels, domain conditions.

Every estimator turns a column name into an array through these functions, so a missing
column, text in a numeric column or a bad subset condition gets the same clear error
(naming the column, the rows and close matches) wherever it is used.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError, InputError

MISSING_DOMAIN = "(missing)"


def as_list(names: str | Sequence[str] | None) -> list[str]:
    """Return ``names`` as a list (``None`` -> empty)."""
    if names is None:
        return []
    return [names] if isinstance(names, str) else list(names)


def require_column(data: pd.DataFrame, column: object, *, option: str = "") -> None:
    """Raise ``InputError`` when ``column`` is not a column of ``data``, naming close matches.

    ``option`` (e.g. ``"--mean"``) is added to the location so the user sees which option
    named the column.
    """
    if isinstance(column, str) and column in data.columns:
        return
    names = [str(c) for c in data.columns]
    close = difflib.get_close_matches(str(column), names, n=3, cutoff=0.6)
    where = f"{option} {column}" if option else f"column {column!r}"
    hint = (
        (f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "")
        + f"the columns are: {', '.join(names[:30])}"
        + (" ..." if len(names) > 30 else "")
    )
    raise InputError(f"column {column!r} not found in the data", where=where, hint=hint)


def numeric_column(data: pd.DataFrame, column: str) -> np.ndarray:
    """Return ``data[column]`` as floats; empty strings and NaN become NaN.

    Raises ``EstimationError`` naming rows that hold text which is not a number.
    """
    require_column(data, column)
    raw = data[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=float, na_value=np.nan)
    text = raw.astype("string").str.strip()
    values = pd.to_numeric(text.mask(text == ""), errors="coerce")
    bad = values.isna() & text.notna() & (text != "")
    if bad.any():
        raise EstimationError(
            f"column {column!r} holds {int(bad.sum())} value(s) that are not numbers",
            where=f"column {column!r}, {file_rows(np.flatnonzero(bad.to_numpy()))}",
            hint="clean the values, or use proportion()/a categorical total for a text column",
        )
    return values.to_numpy(dtype=float, na_value=np.nan)


def text_column(data: pd.DataFrame, column: str) -> np.ndarray:
    """Return ``data[column]`` as str labels; missing values become ``"(missing)"``."""
    require_column(data, column)
    raw = data[column]
    out = raw.astype("string").fillna(MISSING_DOMAIN).to_numpy(dtype=object)
    if pd.api.types.is_float_dtype(raw):  # 1.0 -> "1" so numeric codes read naturally
        vals = raw.to_numpy(dtype=float, na_value=np.nan)
        whole = ~np.isnan(vals) & (vals == np.round(vals))
        out[whole] = [str(int(v)) for v in vals[whole]]
    out[out == ""] = MISSING_DOMAIN
    return out.astype(str)


def is_numeric(data: pd.DataFrame, column: str) -> bool:
    """A column is numeric unless none of its non-empty values reads as a number."""
    require_column(data, column)
    raw = data[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return True
    text = raw.astype("string").str.strip()
    text = text[text.notna() & (text != "")]
    return bool(pd.to_numeric(text, errors="coerce").notna().any())



def domain_condition(data: pd.DataFrame, condition: object) -> np.ndarray:
    """Turn a boolean mask or a query string into a boolean array over the rows of ``data``."""
    if isinstance(condition, str):
        frame = data.copy()
        for column in frame.columns:
            raw = frame[column]
            if not pd.api.types.is_numeric_dtype(raw) and is_numeric(frame, column):
                try:
                    frame[column] = numeric_column(frame, column)
                except EstimationError:
                    pass  # mixed text and numbers: leave as text
        try:
            result = frame.eval(condition)
        except (SyntaxError, ValueError, TypeError, KeyError, NameError, AttributeError) as exc:
            raise EstimationError(
                f"cannot evaluate the subset condition: {exc}",
                where=f"subset({condition!r})",
                hint="write a pandas query, e.g. \"stype == 'E'\" or \"`sch.wide` == 'No'\"",
            ) from None
        values = np.asarray(result)
    else:
        values = np.asarray(condition)
    if values.shape != (len(data),) or values.dtype != bool:
        raise EstimationError(
            "the subset condition is not one true/false value per record",
            where=f"subset: got shape {values.shape}, dtype {values.dtype}",
            hint=f"pass a boolean mask of length {len(data)} or a query string",
        )
    return values


def canonical_choice(value: str, choices: Sequence[str], *, what: str, parameter: str, option: str) -> str:
    """``value`` spelt as in ``choices``, compared case-insensitively (``"reml"`` -> ``"REML"``).

    Every estimator reads its method names through this, so each accepts any case, prints one
    canonical form and refuses an unknown value with the same words.
    """
    text = str(value).strip()
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    listed = ", ".join(choices)
    raise EstimationError(
        f"unknown {what} {value!r}",
        where=parameter,
        hint=f"use one of {listed} (any case; {parameter}=..., CLI: {option})",
    )


def file_rows(positions: Sequence[int] | np.ndarray, *, limit: int = 5) -> str:
    """Record positions (0-based) as file rows, the header being row 1 as in every command:
    ``"row 2"``, ``"rows 2, 5, 9"``, ``"rows 28, 29, 45, 46, 47 (first 5 of 6)"``."""
    rows = [int(p) + 2 for p in np.asarray(positions, dtype=int).ravel()]
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" (first {limit} of {len(rows):,})" if len(rows) > limit else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}{more}"

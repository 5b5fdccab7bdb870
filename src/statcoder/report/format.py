"""Numbers and headers for readers: the one formatting module every report uses.

Rules: thousands separators; a fixed number of decimals per column (chosen from the column's
values or given by the caller); never scientific notation; "—" (``NA``) where a value is not
applicable or not available, explained by a footnote; never ``nan``/``None``/``inf``; snake_case
headers turned into words; shares of records as percentages when asked; intervals of shares
clipped to [0, 1].
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from typing import Any

NA = "—"
NA_FOOTNOTE = "— not applicable or not available (e.g. no records, or no threshold at that level)."

#: headers that are not just snake_case turned into words
HEADERS = {
    "n": "records",
    "n_records": "records",
    "p_value": "p-value",
    "q_value": "q-value",
    "p": "p",
    "ece": "ECE",
    "top_label_ece": "top-label ECE",
    "classwise_ece": "classwise ECE",
    "macro_f1": "macro-F1",
    "weighted_f1": "weighted-F1",
    "f1": "F1",
    "top_k_accuracy": "top-k accuracy",
    "se": "SE",
    "cv": "CV",
    "ci_lower": "CI lower",
    "ci_upper": "CI upper",
    "psu": "PSU",
    "mcnemar_p": "McNemar p",
    "tv_distance": "TV distance",
    "p_given": "p(given code)",
    "p_suggested": "p(suggested code)",
}

_NA_STRINGS = frozenset({"nan", "NaN", "None", "inf", "-inf", "Infinity", "-Infinity", "<NA>", "NaT"})
_P_COLUMN = re.compile(r"(^|[_ ])([pq]|p_value|q_value|p-value|q-value)($|[_ ])", re.IGNORECASE)


def is_missing(value: Any) -> bool:
    """True for None, NaN, ±inf, pandas NA and the strings that spell them."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in _NA_STRINGS
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        try:
            return not math.isfinite(float(value))
        except (TypeError, ValueError, OverflowError):
            return False
    try:  # pandas.NA, pandas.NaT
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError, ImportError):
        return False


def header(name: Any) -> str:
    """A column header for people: ``n_records`` -> ``records``, ``audit_accuracy`` -> ``audit accuracy``."""
    text = str(name)
    if text in HEADERS:
        return HEADERS[text]
    return text.replace("_", " ").strip()


def number(value: Any, decimals: int = 0) -> str:
    """``value`` with thousands separators and ``decimals`` decimals; ``NA`` when missing."""
    if is_missing(value):
        return NA
    v = float(value)
    if decimals == 0:
        return f"{round(v):,}"
    return f"{v:,.{decimals}f}"


def integer(value: Any) -> str:
    """A count with thousands separators (``12,345``); ``NA`` when missing."""
    return number(value, 0)


def pct(value: Any, decimals: int = 1) -> str:
    """A share (0-1) as a percentage, ``"63.2 %"``; ``NA`` when missing."""
    if is_missing(value):
        return NA
    return f"{100 * float(value):,.{decimals}f} %"


def p_value(value: Any) -> str:
    """A p- or q-value: three decimals, ``"< 0.001"`` below that; ``NA`` when missing."""
    if is_missing(value):
        return NA
    v = float(value)
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def share_interval(lower: Any, upper: Any, decimals: int = 3) -> str:
    """``"0.912–0.951"`` for an interval of a share, each limit clipped to [0, 1]."""
    if is_missing(lower) or is_missing(upper):
        return NA
    lo, hi = clip_share(lower), clip_share(upper)
    return f"{lo:.{decimals}f}–{hi:.{decimals}f}"


def clip_share(value: float) -> float:
    """A share clipped to [0, 1] (confidence limits of a proportion never leave it)."""
    return min(1.0, max(0.0, float(value)))


def decimals_for(values: Iterable[Any]) -> int:
    """Decimals that give every value of a column about three significant figures.

    Whole numbers get 0; values up to 1 (shares, accuracies) get 3; below 100, 2; below
    10,000, 1; else 0.
    """
    kept = [v for v in values if not is_missing(v) and isinstance(v, numbers.Real) and not isinstance(v, bool)]
    if not kept or all(isinstance(v, numbers.Integral) for v in kept):
        return 0
    finite = [abs(float(v)) for v in kept]
    top = max(finite)
    if all(float(v).is_integer() for v in finite) and top > 1:
        return 0
    if top <= 1:
        return 3
    if top < 100:
        return 2
    if top < 10_000:
        return 1
    return 0


def decimals_from_format(float_format: str | None) -> int | None:
    """The decimals of a ``"{:.3f}"``-style format; None for ``g`` formats or none given."""
    if not float_format:
        return None
    match = re.search(r"\.(\d+)f", float_format)
    return int(match.group(1)) if match else None


def is_p_column(name: Any) -> bool:
    """Columns of p- or q-values (``p_value``, ``q_value``, ``q accuracy``, ``mcnemar_p``)."""
    text = str(name)
    return bool(_P_COLUMN.search(text)) or text.endswith("_p") or text.startswith("q ")


def is_numeric_column(values: Iterable[Any]) -> bool:
    """True when every non-missing value is a number (bools are not numbers here)."""
    seen = False
    for v in values:
        if is_missing(v):
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            return False
        seen = True
    return seen


_NUMERIC_TEXT = re.compile(r"^[<>]?\s?[-+−]?[\d,]*\.?\d+( ?%)?([–-][-+−]?[\d,]*\.?\d+( ?%)?)?$")


def looks_numeric(values: Iterable[Any]) -> bool:
    """True when every value is a number already formatted as text ("1,234", "63.2 %", "0.91–0.95", "—")."""
    seen = False
    for v in values:
        if not isinstance(v, str):
            return False
        if v.strip() in ("", NA):
            continue
        if not _NUMERIC_TEXT.match(v.strip()):
            return False
        seen = True
    return seen


def column_formatter(name: Any, values: list[Any], *, decimals: int | None = None, kind: str | None = None):
    """A function value -> text for one column.

    ``kind``: ``"pct"`` (shares as percentages), ``"int"``, ``"p"`` (p-values), ``"text"``,
    or None to decide from the name and values (p-value columns by name; numbers with fixed
    decimals from :func:`decimals_for` unless ``decimals`` is given).
    """
    if kind == "text" or (kind is None and not is_numeric_column(values)):
        return text_cell
    if kind == "pct":
        return lambda v: pct(v, 1 if decimals is None else decimals)
    if kind == "p" or (kind is None and is_p_column(name)):
        return p_value
    if kind == "int":
        return integer
    places = decimals_for(values) if decimals is None else decimals
    if decimals is not None and values and max((abs(float(v)) for v in values if not is_missing(v)), default=0) >= 10_000:
        places = 0  # large totals: thousands separators, no decimals
    return lambda v: number(v, places)


def text_cell(value: Any) -> str:
    """Any value as text for a table cell; missing -> ``NA``, bools -> yes/no."""
    if is_missing(value):
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        import numpy as np

        if isinstance(value, np.bool_):
            return "yes" if bool(value) else "no"
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return number(value, decimals_for([value]))
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(text_cell(v) for v in value) or NA
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {text_cell(v)}" for k, v in value.items()) or NA
    return str(value)


def plain_list(values: Iterable[Any]) -> str:
    """``["stype", "dnum"]`` -> ``"stype, dnum"`` (never a Python list literal)."""
    return ", ".join(str(v) for v in values)

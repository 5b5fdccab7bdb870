"""Spreadsheet-formula neutralisation of CSV cells (CSV injection, OWASP).

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be run as a
formula when a CSV file is opened in a spreadsheet. Exported text cells that start so get a
leading apostrophe, which spreadsheets show as text; numbers are written as they are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: exports end rows with CRLF (RFC 4180): a CSV writer quotes a cell holding a character of its
#: line end, so a cell with a bare carriage return is quoted too; with "\n" alone it was written
#: bare, and a spreadsheet (or pandas) started a new row - a formula no apostrophe guarded - there
CSV_LINE_END = "\r\n"


def neutralise_cell(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` if it is text starting like a formula; else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells (and column names) cannot start a formula."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out

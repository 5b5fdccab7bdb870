"""One way to report codes that are not in the classification (training, evaluation, estimation)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from statcoder.errors import UnknownCodeError

DEFAULT_HINT = "fix the codes, or pass --on-unknown-code drop to leave those rows out"


def unknown_code_rows(codes: Sequence[Any], classification: Any, *, allow_empty: bool = True) -> list[int]:
    """Positions of ``codes`` that are not in ``classification`` (empty codes count only when
    ``allow_empty`` is False)."""
    out = []
    for i, code in enumerate(codes):
        text = "" if code is None else str(code).strip()
        if (text or not allow_empty) and text not in classification:
            out.append(i)
    return out


def unknown_code_error(
    codes: Sequence[Any],
    rows: Sequence[int],
    *,
    classification: Any,
    column: str,
    where: str,
    first_row: int = 2,
    hint: str = DEFAULT_HINT,
) -> UnknownCodeError:
    """The error for ``codes[rows]`` not in ``classification``, always in the same words:

    message ``"3 row(s) carry 2 code(s) not in ISCO-08: 9999 (2), 12345 (1)"``, where
    ``"<where>: column 'isco', rows 2, 5, 9"`` (file rows; ``first_row`` is the row of
    ``codes[0]``, 2 for a file with a header) and ``hint``.
    """
    counts = Counter(("" if codes[i] is None else str(codes[i]).strip()) or "(empty)" for i in rows)
    listed = ", ".join(f"{code} ({n})" for code, n in counts.most_common(5))
    more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
    shown = ", ".join(str(i + first_row) for i in list(rows)[:5])
    name = getattr(classification, "name", "the classification")
    return UnknownCodeError(
        f"{len(rows)} row(s) carry {len(counts)} code(s) not in {name}: {listed}{more}",
        where=f"{where}: column {column!r}, rows {shown}{' ...' if len(rows) > 5 else ''}",
        hint=hint,
    )

"""One way to report codes that are not in the classification (training, evaluation, estimation)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from statcoder.errors import UnknownCodeError

DEFAULT_HINT = "fix the codes, or pass --on-unknown-code drop to leave those rows out"
WRONG_CLASSIFICATION_HINT = (
    "none of the codes given is in {name}: check that the classification is the one the codes "
    "come from (--classification) and that the code column is the right one"
)


def count_of(n: int, noun: str) -> str:
    """``"1 row"``, ``"5,000 rows"``: a count with thousands separators and the noun's plural."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


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

    message ``"3 rows carry 2 codes not in ISCO-08: 9999 (2), 12345 (1)"``, where
    ``"<where>: column 'isco', rows 2, 5, 9"`` (file rows; ``first_row`` is the row of
    ``codes[0]``, 2 for a file with a header) and ``hint``. When no non-empty code at all is in
    the classification, the hint asks whether the classification is the wrong one instead.
    """
    counts = Counter(("" if codes[i] is None else str(codes[i]).strip()) or "(empty)" for i in rows)
    listed = ", ".join(f"{code} ({n:,})" for code, n in counts.most_common(5))
    more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
    shown = ", ".join(str(i + first_row) for i in list(rows)[:5])
    name = getattr(classification, "name", "the classification")
    given = sum(1 for c in codes if c is not None and str(c).strip())
    if given and len(rows) >= given:
        hint = WRONG_CLASSIFICATION_HINT.format(name=name)
    verb = "carries" if len(rows) == 1 else "carry"
    codes_part = "a code" if len(counts) == 1 else count_of(len(counts), "code")
    return UnknownCodeError(
        f"{count_of(len(rows), 'row')} {verb} {codes_part} not in {name}: {listed}{more}",
        where=f"{where}: column {column!r}, {'row' if len(rows) == 1 else 'rows'} {shown}"
        f"{' ...' if len(rows) > 5 else ''}",
        hint=hint,
    )

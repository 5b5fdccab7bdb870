"""Coverage of the classification by the training data, level by level.

A code with no or very few training examples cannot be predicted reliably. When the user
knows (or can estimate) how common each code is in the population to be coded, the share of
that population falling in badly covered codes says how much coding work the gap will cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.errors import InputError, UnknownCodeError

if TYPE_CHECKING:
    from statcoder.classifications import Classification


@dataclass
class CoverageResult:
    """Result of ``coverage``.

    ``per_code``: one row per code of the classification and level: ``level``, ``code``,
    ``title``, ``n_examples`` (training records whose code lies in that code's subtree),
    ``expected_share`` (0-1, ``nan`` without expected shares) and ``status``
    (``missing`` = no example, ``few`` = fewer than ``min_examples``, ``ok``).
    ``per_level``: one row per level with the counts of codes by status and the expected
    population share (0-1) of the missing and the few-example codes.
    ``unknown_codes``: counts of training codes that are not in the classification.
    """

    per_code: pd.DataFrame
    per_level: pd.DataFrame
    unknown_codes: pd.DataFrame
    min_examples: int
    has_expected_shares: bool

    def to_frame(self) -> pd.DataFrame:
        """The per-level summary."""
        return self.per_level


def normalise_expected_shares(
    shares: Mapping[str, float], classification: Classification
) -> dict[str, float]:
    """Validate expected code shares and rescale them to sum to 1.

    Returns a new dict. Raises ``UnknownCodeError`` for codes not in the classification and
    ``InputError`` for negative or all-zero shares.
    """
    unknown = [c for c in shares if c not in classification]
    if unknown:
        raise UnknownCodeError(
            f"{len(unknown)} codes of the expected shares are not in {classification.name}",
            where=", ".join(unknown[:5]),
            hint="give expected shares for codes of the classification only",
        )
    values = np.array([float(v) for v in shares.values()], dtype=float)
    if values.size == 0 or np.any(~np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise InputError(
            "expected shares must be finite, non-negative and not all zero",
            hint="one row per code with its expected share (proportions or counts)",
        )
    total = values.sum()
    return {c: float(v) / total for c, v in zip(shares, values)}


def coverage(
    codes: Sequence[str],
    classification: Classification,
    *,
    min_examples: int = 5,
    expected_shares: Mapping[str, float] | None = None,
) -> CoverageResult:
    """Training examples per code at every level of ``classification``.

    A record coded at level ``k`` counts for its ancestors at levels ``<= k`` only. Expected
    shares may be given at any level; they are rescaled to sum to 1 and summed up the tree
    (a share given at a coarse level cannot be split and is not counted at finer levels).
    Returns a ``CoverageResult``.
    """
    if min_examples < 1:
        raise InputError("min_examples must be at least 1", hint="e.g. 5")
    counts = Counter(codes)
    unknown = {c: n for c, n in counts.items() if c not in classification}
    known = {c: n for c, n in counts.items() if c in classification}
    shares = normalise_expected_shares(expected_shares, classification) if expected_shares else None

    rows = []
    for level in range(1, classification.depth + 1):
        n_at = Counter()
        for code, n in known.items():
            if classification.level(code) >= level:
                n_at[classification.truncate(code, level)] += n
        share_at = Counter()
        if shares:
            for code, s in shares.items():
                if classification.level(code) >= level:
                    share_at[classification.truncate(code, level)] += s
        for code in classification.codes_at(level):
            n = int(n_at.get(code, 0))
            status = "missing" if n == 0 else ("few" if n < min_examples else "ok")
            rows.append(
                {
                    "level": level,
                    "code": code,
                    "title": classification.title(code),
                    "n_examples": n,
                    "expected_share": float(share_at.get(code, 0.0)) if shares else float("nan"),
                    "status": status,
                }
            )
    per_code = pd.DataFrame(rows, columns=["level", "code", "title", "n_examples", "expected_share", "status"])
    per_level = _summarise(per_code, classification, has_shares=shares is not None)
    unknown_frame = pd.DataFrame(
        sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0])), columns=["code", "n_records"]
    )
    return CoverageResult(per_code, per_level, unknown_frame, int(min_examples), shares is not None)


def _summarise(per_code: pd.DataFrame, classification: Classification, *, has_shares: bool) -> pd.DataFrame:
    out = []
    for level, part in per_code.groupby("level", sort=True):
        status = part["status"]
        row = {
            "level": int(level),
            "level_name": classification.level_names.get(int(level), "")
            if hasattr(classification, "level_names")
            else "",
            "n_codes": len(part),
            "n_ok": int((status == "ok").sum()),
            "n_few": int((status == "few").sum()),
            "n_missing": int((status == "missing").sum()),
            "expected_share_few": float(part.loc[status == "few", "expected_share"].sum())
            if has_shares
            else float("nan"),
            "expected_share_missing": float(part.loc[status == "missing", "expected_share"].sum())
            if has_shares
            else float("nan"),
        }
        out.append(row)
    return pd.DataFrame(out)

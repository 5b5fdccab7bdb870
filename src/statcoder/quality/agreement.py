"""Agreement between human coders on double- (or multiple-) coded records, per level.

Percentage agreement is easy to read but rewards chance agreement on common codes; kappa
corrects for it. Cohen's kappa (Cohen 1960) is used for two coders, Fleiss' kappa (Fleiss
1971) for three or more. Both are computed on the codes truncated to each level of the
classification, so one sees e.g. that coders agree on the major group far more often than on
the unit group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.errors import InputError

if TYPE_CHECKING:
    from statcoder.classifications import Classification


def percentage_agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of records (0-1) on which two coders gave the same code; ``nan`` for no records."""
    a_arr, b_arr = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if a_arr.shape != b_arr.shape:
        raise InputError("the two coders' code lists differ in length", hint="one code per record per coder")
    return float(np.mean(a_arr == b_arr)) if a_arr.size else float("nan")


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa for two coders: ``(p_o - p_e) / (1 - p_e)``.

    ``p_o`` is the observed agreement, ``p_e`` the agreement expected by chance from each
    coder's own code distribution. Returns a float in [-1, 1]; ``nan`` when ``p_e`` is 1 (both
    coders used one and the same code throughout) or there are no records.
    """
    a_arr, b_arr = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    p_o = percentage_agreement(a_arr, b_arr)
    if not a_arr.size:
        return float("nan")
    cats, inverse = np.unique(np.concatenate([a_arr, b_arr]).astype(str), return_inverse=True)
    ia, ib = inverse[: a_arr.size], inverse[a_arr.size :]
    pa = np.bincount(ia, minlength=cats.size) / a_arr.size
    pb = np.bincount(ib, minlength=cats.size) / b_arr.size
    p_e = float(pa @ pb)
    if np.isclose(p_e, 1.0):
        return float("nan")
    return (p_o - p_e) / (1.0 - p_e)


def fleiss_kappa_from_counts(counts: np.ndarray) -> float:
    """Fleiss' kappa from a ``(n_records, n_categories)`` table of how many coders chose each category.

    Every record must have the same number ``r >= 2`` of ratings. ``P_i = (sum_j n_ij^2 - r) /
    (r (r - 1))``, ``P̄`` their mean, ``P̄_e = sum_j p_j^2`` with ``p_j`` the share of all ratings in
    category ``j``; kappa ``= (P̄ - P̄_e) / (1 - P̄_e)``. ``nan`` when ``P̄_e`` is 1.
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise InputError("counts must be a non-empty 2-d table (records x categories)")
    raters = counts.sum(axis=1)
    r = raters[0]
    if r < 2 or not np.allclose(raters, r):
        raise InputError(
            "Fleiss' kappa needs the same number (at least 2) of ratings for every record",
            hint="drop records that not every coder coded",
        )
    p_i = (np.square(counts).sum(axis=1) - r) / (r * (r - 1))
    p_bar = float(p_i.mean())
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = float(np.square(p_j).sum())
    if np.isclose(p_e, 1.0):
        return float("nan")
    return (p_bar - p_e) / (1.0 - p_e)


def _counts(ratings: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(ratings.astype(str), return_inverse=True)
    inverse = inverse.reshape(ratings.shape)
    n_cat = int(inverse.max()) + 1 if inverse.size else 0
    counts = np.zeros((ratings.shape[0], n_cat), dtype=float)
    for k in range(ratings.shape[1]):
        np.add.at(counts, (np.arange(ratings.shape[0]), inverse[:, k]), 1.0)
    return counts


def fleiss_kappa(ratings: np.ndarray | Sequence[Sequence[str]]) -> float:
    """Fleiss' kappa from a ``(n_records, n_coders)`` array of codes (every cell filled)."""
    arr = np.asarray(ratings, dtype=object)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError("ratings must be a 2-d array with one column per coder (at least 2)")
    return fleiss_kappa_from_counts(_counts(arr))


def _truncate(code: str, classification: Classification, level: int) -> str:
    # A code outside the classification cannot be truncated; it stays itself, so it only
    # agrees with an identical code.
    return classification.truncate(code, level) if code in classification else code


def coder_agreement(
    ratings: pd.DataFrame | np.ndarray,
    classification: Classification | None = None,
    *,
    levels: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Agreement between coders per level of the classification.

    ``ratings`` has one column per coder and one row per record; empty strings mean "not
    coded by this coder" and such records are left out (``n_records`` says how many remain).
    Returns one row per level with ``n_records``, ``percent_agreement`` (share of records on
    which all coders gave the same code, 0-1), ``pairwise_agreement`` (mean share of agreeing
    coder pairs, 0-1), ``kappa`` and ``kappa_method`` (``cohen`` for 2 coders, ``fleiss`` for
    more). Without a classification there is one row for the codes as given (level ``0``).
    """
    if isinstance(ratings, pd.DataFrame):
        ratings = ratings.fillna("").astype(str).to_numpy()
    arr = np.asarray(ratings, dtype=object)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError(
            "coder agreement needs at least two code columns",
            hint="pass one column per coder (CLI: e.g. --coder-columns code_a code_b)",
        )
    complete = np.all((arr != "") & pd.notna(arr), axis=1) if arr.size else np.zeros(0, dtype=bool)
    arr = arr[complete].astype(str)
    if classification is None:
        todo = [0]
    else:
        todo = list(levels) if levels is not None else list(range(1, classification.depth + 1))
    rows = []
    for level in todo:
        if level == 0 or not arr.size:
            at = arr
        else:
            at = np.array([[_truncate(c, classification, level) for c in row] for row in arr], dtype=object)
        n, k = at.shape
        all_agree = float(np.mean(np.all(at == at[:, :1], axis=1))) if n else float("nan")
        if n:
            counts = _counts(at)
            pairwise = float(((np.square(counts).sum(axis=1) - k) / (k * (k - 1))).mean())
        else:
            pairwise = float("nan")
        if k == 2:
            kappa, method = cohen_kappa(at[:, 0], at[:, 1]), "cohen"
        else:
            kappa, method = (fleiss_kappa(at) if n else float("nan")), "fleiss"
        rows.append(
            {
                "level": level,
                "n_records": int(n),
                "percent_agreement": all_agree,
                "pairwise_agreement": pairwise,
                "kappa": float(kappa),
                "kappa_method": method,
            }
        )
    return pd.DataFrame(rows)

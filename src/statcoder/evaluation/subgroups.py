"""Subgroup (fairness) metrics with multiple-testing control and small-cell suppression.

For each value of each grouping column (sex, age band, region, collection mode...):
accuracy of the full-depth prediction, the automatic coding rate (``auto`` + ``partial``)
and the accuracy of the automatically coded records at the level coded, each with a
two-sided Clopper-Pearson interval. A group is compared with all other records by a
one-sided Fisher exact test ("is this group worse?"); the p-values of all tests in the
table are adjusted together with Benjamini & Hochberg (1995), and a group is flagged
where an adjusted p-value is below ``alpha``.

Groups with fewer than ``min_cell`` records are suppressed (no metrics, count shown as
``< min_cell``) and not tested. When a column has exactly one suppressed group, the next
smallest group is suppressed too (secondary suppression), so the suppressed count cannot
be recovered as total minus the published counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from statcoder.decision import clopper_pearson_interval

METRICS = ("accuracy", "coding_rate", "auto_accuracy")

__all__ = ["benjamini_hochberg", "clopper_pearson_interval", "subgroup_table"]


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order; NaN inputs stay NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok])]
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.clip(adjusted, 0, 1)
    return out


def _worse_p(k_group: int, n_group: int, k_rest: int, n_rest: int) -> float:
    """One-sided Fisher exact p-value that the group's success rate is below the rest's."""
    if n_group == 0 or n_rest == 0:
        return float("nan")
    table = [[k_group, n_group - k_group], [k_rest, n_rest - k_rest]]
    return float(stats.fisher_exact(table, alternative="less").pvalue)


def subgroup_table(
    groups: Mapping[str, Sequence[str]],
    *,
    correct: Sequence[bool],
    automatic: Sequence[bool],
    correct_at_level: Sequence[bool],
    min_cell: int = 10,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per-group accuracy, coding rate and accuracy of automatic coding, tested against the rest.

    ``groups`` maps a column name to the group value of every record; ``correct`` is the
    full-depth correctness, ``automatic`` whether the record was coded ``auto``/``partial``,
    ``correct_at_level`` its correctness at the level coded. Returns one row per
    (column, group) with ``n`` (a string, ``"< min_cell"`` when suppressed), ``suppressed``,
    for each metric m in (accuracy, coding_rate, auto_accuracy): ``m``, ``m_lower``,
    ``m_upper``, ``m_q`` (BH-adjusted p-value of "worse than the rest"), and ``flag``
    (names of the metrics significantly worse, "" if none). Proportions in [0, 1].
    """
    hit = np.asarray(correct, dtype=bool)
    auto = np.asarray(automatic, dtype=bool)
    hit_level = np.asarray(correct_at_level, dtype=bool)
    rows: list[dict[str, object]] = []
    for column, values in groups.items():
        labels = pd.Series(values, dtype=object).fillna("").astype(str).replace("", "(missing)").to_numpy()
        if labels.size != hit.size:
            raise ValueError(f"group column {column!r} has {labels.size} values for {hit.size} records")
        names, counts = np.unique(labels, return_counts=True)
        small = counts < min_cell
        if small.sum() == 1 and len(names) > 1:
            small[np.argsort(np.where(small, np.inf, counts))[0]] = True
        for name, count, hide in zip(names, counts, small, strict=True):
            mask = labels == name
            row: dict[str, object] = {
                "column": column,
                "group": str(name),
                "n": f"< {min_cell}" if hide else str(int(count)),
                "suppressed": bool(hide),
            }
            for metric, success, base_in, base_rest in (
                ("accuracy", hit, mask, ~mask),
                ("coding_rate", auto, mask, ~mask),
                ("auto_accuracy", hit_level, mask & auto, ~mask & auto),
            ):
                if hide:
                    row.update({metric: np.nan, f"{metric}_lower": np.nan, f"{metric}_upper": np.nan, f"{metric}_p": np.nan})
                    continue
                k, n = int(success[base_in].sum()), int(base_in.sum())
                low, up = clopper_pearson_interval(k, n, confidence=confidence)
                row[metric] = k / n if n else np.nan
                row[f"{metric}_lower"], row[f"{metric}_upper"] = low, up
                row[f"{metric}_p"] = _worse_p(k, n, int(success[base_rest].sum()), int(base_rest.sum()))
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    p_columns = [f"{m}_p" for m in METRICS]
    q = benjamini_hochberg(table[p_columns].to_numpy().ravel()).reshape(len(table), len(METRICS))
    for j, metric in enumerate(METRICS):
        table[f"{metric}_q"] = q[:, j]
    table = table.drop(columns=p_columns)
    table["flag"] = [
        ", ".join(m for j, m in enumerate(METRICS) if q[i, j] < alpha) for i in range(len(table))
    ]
    return table

"""Tidy estimate tables: estimate, SE, confidence interval, CV, design effect, n and a quality flag.

Every estimator of the package returns an ``Estimates`` (a thin wrapper of a pandas frame with
one row per statistic x domain), so results can be stacked, written to CSV or put in a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError

#: Default CV thresholds and labels, in the style NSOs publish them (e.g. Statistics Canada's
#: A-F grades collapsed to three): below 16.5 % publish, up to 33.3 % publish with a warning,
#: above that suppress.
DEFAULT_CV_THRESHOLDS = (0.165, 0.333)
DEFAULT_FLAG_LABELS = ("ok", "caution", "suppress")

COLUMNS = ("estimate", "se", "ci_low", "ci_high", "cv", "deff", "n", "flag")


def quality_flags(
    cv: Sequence[float] | np.ndarray,
    *,
    thresholds: Sequence[float] = DEFAULT_CV_THRESHOLDS,
    labels: Sequence[str] = DEFAULT_FLAG_LABELS,
) -> np.ndarray:
    """Return one label per CV: ``labels[i]`` for ``cv <= thresholds[i]``, the last label above.

    ``cv`` is a fraction (0.1 = 10 %). A missing CV (zero estimate, no variance) gets the last
    label, because it cannot be shown to be reliable.
    """
    if len(labels) != len(thresholds) + 1:
        raise EstimationError(
            "quality flags need one more label than thresholds",
            where=f"thresholds={list(thresholds)}, labels={list(labels)}",
            hint="e.g. thresholds=(0.165, 0.333) with labels=('ok', 'caution', 'suppress')",
        )
    if list(thresholds) != sorted(thresholds):
        raise EstimationError(
            "CV thresholds must increase", where=f"thresholds={list(thresholds)}", hint="sort them"
        )
    values = np.asarray(cv, dtype=float)
    index = np.searchsorted(np.asarray(thresholds, dtype=float), values, side="left")
    index = np.where(np.isnan(values), len(thresholds), index)
    return np.asarray(labels, dtype=object)[index]


def normal_quantile(p: float) -> float:
    """Standard normal quantile (stdlib; keeps scipy.stats out of the start-up path)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def t_quantile(p: float, df: float) -> float:
    """Student t quantile with ``df`` degrees of freedom (scipy, imported on use)."""
    from scipy import stats

    return float(stats.t.ppf(p, df))


def interval(
    estimate: np.ndarray, se: np.ndarray, *, confidence: float = 0.95, df: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (low, high) Wald limits: normal quantile, or Student t with ``df`` degrees of freedom."""
    if not 0 < confidence < 1:
        raise EstimationError(
            f"confidence must be between 0 and 1, got {confidence}",
            where="confidence",
            hint="e.g. 0.95",
        )
    alpha = 1 - confidence
    q = normal_quantile(1 - alpha / 2) if df is None else t_quantile(1 - alpha / 2, df)
    return estimate - q * se, estimate + q * se


def tidy_frame(
    keys: pd.DataFrame,
    estimate: np.ndarray,
    se: np.ndarray,
    *,
    n: np.ndarray,
    deff: np.ndarray | None = None,
    confidence: float = 0.95,
    df: float | None = None,
    cv_thresholds: Sequence[float] = DEFAULT_CV_THRESHOLDS,
    flag_labels: Sequence[str] = DEFAULT_FLAG_LABELS,
) -> pd.DataFrame:
    """Assemble the tidy table: ``keys`` columns, then the standard result columns."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    low, high = interval(estimate, se, confidence=confidence, df=df)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(estimate != 0, se / np.abs(estimate), np.nan)
    frame = keys.reset_index(drop=True).copy()
    frame["estimate"] = estimate
    frame["se"] = se
    frame["ci_low"] = low
    frame["ci_high"] = high
    frame["cv"] = cv
    frame["deff"] = np.full(len(estimate), np.nan) if deff is None else np.asarray(deff, float)
    frame["n"] = np.asarray(n, dtype=int)
    frame["flag"] = quality_flags(cv, thresholds=cv_thresholds, labels=flag_labels)
    return frame


@dataclass
class Estimates:
    """A tidy table of estimates (one row per statistic x domain) plus covariance and df.

    ``frame`` columns: the key columns (``variable``, ``statistic``, domain columns...), then
    ``estimate, se, ci_low, ci_high, cv, deff, n, flag``. ``covariance`` is the full covariance
    matrix of the estimates (rows of ``frame`` order); ``confidence`` the interval level.
    """

    frame: pd.DataFrame
    covariance: np.ndarray
    confidence: float = 0.95
    df: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the tidy table."""
        return self.frame.copy()

    def __len__(self) -> int:
        return len(self.frame)

    def _single(self, column: str) -> float:
        if len(self.frame) != 1:
            raise EstimationError(
                f"this result has {len(self.frame)} rows; .{column} needs exactly one",
                where="Estimates",
                hint="select a row first with .get(...), or use .frame",
            )
        return float(self.frame[column].iloc[0])

    @property
    def value(self) -> float:
        """The estimate when the table has exactly one row."""
        return self._single("estimate")

    @property
    def se(self) -> float:
        """The standard error when the table has exactly one row."""
        return self._single("se")

    def get(self, **keys: object) -> Estimates:
        """Return the rows whose key columns equal the given values (e.g. ``stype="E"``)."""
        mask = np.ones(len(self.frame), dtype=bool)
        for column, value in keys.items():
            if column not in self.frame.columns:
                raise EstimationError(
                    f"no column {column!r} in the result",
                    where="Estimates.get",
                    hint=f"key columns are {list(self.frame.columns[: -len(COLUMNS)])}",
                )
            mask &= self.frame[column].astype(str).to_numpy() == str(value)
        idx = np.flatnonzero(mask)
        return Estimates(
            self.frame.iloc[idx].reset_index(drop=True),
            self.covariance[np.ix_(idx, idx)],
            self.confidence,
            self.df,
        )

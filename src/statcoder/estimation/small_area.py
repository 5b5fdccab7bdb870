"""Small-area estimates from an area table: Fay-Herriot EBLUP, synthetic estimates for
non-sampled areas, optional log transform, benchmarking, quality flags, map-ready output.

One row per area in, one row per area out::

    result = fay_herriot_table(milk, direct="yi", variance="var", covariates=["MajorArea"],
                               categorical=["MajorArea"], area="SmallArea", method="REML")
    result.frame       # area, direct, direct_se, estimate, mse, rmse, cv, ci, gamma, kind, flag
    result.write_map_csv("areas.csv")

Areas whose direct estimate is empty are non-sampled: they receive the synthetic estimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError
from statcoder.estimation.columns import numeric_column, text_column
from statcoder.estimation.fay_herriot import FayHerriot, benchmark, fay_herriot_method
from statcoder.estimation.results import (
    DEFAULT_CV_THRESHOLDS,
    DEFAULT_FLAG_LABELS,
    interval,
    quality_flags,
)

ZERO_VARIANCE = ("error", "drop")


@dataclass
class SmallAreaResult:
    """Per-area table plus the fitted model (``model``) and the design matrix column names."""

    frame: pd.DataFrame
    model: FayHerriot
    terms: list[str]

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the per-area table."""
        return self.frame.copy()

    def coefficients(self) -> pd.DataFrame:
        """Regression coefficients with their standard errors (sae ``estcoef``)."""
        return pd.DataFrame(
            {"term": self.terms, "estimate": self.model.coef_, "se": self.model.coef_se_}
        )

    def map_frame(self) -> pd.DataFrame:
        """Map-ready columns: area id first, one row per area, plain numbers (join to a shapefile)."""
        cols = [
            "area",
            "estimate",
            "rmse",
            "cv",
            "ci_low",
            "ci_high",
            "direct",
            "direct_cv",
            "gamma",
            "kind",
            "flag",
        ]
        return self.frame[cols].copy()

    def write_map_csv(self, path: str | Path) -> Path:
        """Write ``map_frame()`` to ``path`` as CSV atomically; returns the path."""
        from statcoder.io.atomic import atomic_write_text

        return atomic_write_text(Path(path), self.map_frame().to_csv(index=False))


def design_matrix(
    data: pd.DataFrame, covariates: Sequence[str], categorical: Iterable[str] = ()
) -> tuple[np.ndarray, list[str]]:
    """Intercept + numeric covariates + treatment dummies (first level dropped, like R ``as.factor``)."""
    categorical = set(categorical)
    cols, names = [np.ones(len(data))], ["(Intercept)"]
    for covariate in covariates:
        if covariate in categorical:
            labels = text_column(data, covariate)
            levels = sorted(set(labels.tolist()), key=_natural)
            for level in levels[1:]:
                cols.append((labels == level).astype(float))
                names.append(f"{covariate}{level}")
        else:
            cols.append(numeric_column(data, covariate))
            names.append(covariate)
    return np.column_stack(cols), names


def _natural(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def fay_herriot_table(
    data: pd.DataFrame,
    *,
    direct: str,
    variance: str | None = None,
    se: str | None = None,
    covariates: Sequence[str] = (),
    categorical: Iterable[str] = (),
    area: str | None = None,
    method: str = "REML",
    transform: str | None = None,
    on_zero_variance: str = "error",
    benchmark_target: float | None = None,
    benchmark_weights: str | None = None,
    benchmark_method: str = "ratio",
    ml_covariates: Mapping[str, Iterable[object]] | None = None,
    confidence: float = 0.95,
    cv_thresholds: Sequence[float] = DEFAULT_CV_THRESHOLDS,
    flag_labels: Sequence[str] = DEFAULT_FLAG_LABELS,
) -> SmallAreaResult:
    """Fit a Fay-Herriot model on the sampled areas of ``data`` and estimate every area.

    ``variance`` names the column of sampling variances (or ``se`` the standard errors).
    ``transform="log"`` fits on ``log(direct)`` with delta-method variances ``psi / direct^2``
    and back-transforms with the lognormal bias correction ``exp(eta + mse/2)``.
    ``benchmark_target`` rescales the estimates so that their ``benchmark_weights``-weighted sum
    equals it (e.g. the direct national total with area population sizes as weights).
    Returns a ``SmallAreaResult`` (estimate in the units of ``direct``; MSE in squared units).
    """
    if (variance is None) == (se is None):
        raise EstimationError(
            "give exactly one of variance= and se=",
            where="fay_herriot_table",
            hint="the column holding the sampling variance (or standard error) of each direct estimate",
        )
    method = fay_herriot_method(method)
    if on_zero_variance not in ZERO_VARIANCE:
        raise EstimationError(
            f"unknown on_zero_variance {on_zero_variance!r}",
            where="on_zero_variance",
            hint=f"use one of {ZERO_VARIANCE}",
        )
    y = numeric_column(data, direct)
    psi = numeric_column(data, variance) if variance else numeric_column(data, se) ** 2  # type: ignore[arg-type]
    areas = text_column(data, area) if area else np.asarray([str(i + 1) for i in range(len(data))])
    x, terms = design_matrix(data, list(covariates), categorical)
    sampled = ~np.isnan(y)
    zero = sampled & (psi == 0)
    if zero.any() and on_zero_variance == "drop":
        sampled &= ~zero
    if transform not in (None, "log"):
        raise EstimationError(
            f"unknown transform {transform!r}", where="transform", hint="use 'log' or none"
        )
    y_fit, psi_fit = y, psi
    if transform == "log":
        bad = sampled & ~(y > 0)
        if bad.any():
            raise EstimationError(
                "the log transform needs positive direct estimates",
                where=f"areas {list(areas[bad][:5])}",
                hint="drop transform='log' for these data",
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            y_fit, psi_fit = np.log(y), psi / y**2
    model = FayHerriot(method).fit(
        x[sampled],
        y_fit[sampled],
        psi_fit[sampled],
        covariate_names=terms,
        areas=list(areas[sampled]),
        ml_covariates=ml_covariates,
    )
    est = model.predict(x)
    mse = model.synthetic_mse(x)
    est[sampled] = model.eblup_
    mse[sampled] = model.mse_
    gamma = np.zeros(len(y))
    gamma[sampled] = model.gamma_
    if transform == "log":
        est, mse = np.exp(est + mse / 2), np.exp(2 * est + mse) * (np.exp(mse) - 1)
    if benchmark_target is not None:
        w = numeric_column(data, benchmark_weights) if benchmark_weights else np.ones(len(y))
        adjusted = benchmark(est, weights=w, target=benchmark_target, method=benchmark_method)
        # second-order MSE of a benchmarked EBLUP: MSE + squared adjustment (Steorts & Ghosh 2013)
        mse = mse + (adjusted - est) ** 2
        est = adjusted
    rmse = np.sqrt(mse)
    low, high = interval(est, rmse, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(est != 0, rmse / np.abs(est), np.nan)
        direct_cv = np.where(sampled & (y != 0), np.sqrt(psi) / np.abs(y), np.nan)
    frame = pd.DataFrame(
        {
            "area": areas,
            "direct": np.where(sampled, y, np.nan),
            "direct_se": np.where(sampled, np.sqrt(psi), np.nan),
            "direct_cv": direct_cv,
            "estimate": est,
            "mse": mse,
            "rmse": rmse,
            "ci_low": low,
            "ci_high": high,
            "cv": cv,
            "gamma": gamma,
            "kind": np.where(sampled, "eblup", "synthetic"),
            "method": method,
        }
    )
    frame["flag"] = quality_flags(cv, thresholds=cv_thresholds, labels=flag_labels)
    return SmallAreaResult(frame, model, terms)

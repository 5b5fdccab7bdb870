"""Unit-level small-area estimates from a sample and a table of area means: nested-error EBLUP
(``nested_error.NestedErrorModel``) with analytic or parametric-bootstrap MSE.

One row per unit in, one row per area out::

    result = nested_error_table(
        sample, area_means, response="CornHec", covariates=["CornPix", "SoyBeansPix"],
        area="County", population_size="PopnSegments", method="REML", mse="bootstrap")
    result.frame    # area, n, N, estimate, mse, rmse, cv, ci_low, ci_high, direct, synthetic, ...

``area_means`` has one row per area: the area column under the same name as in the sample, the
population mean of each covariate under the covariate's name and (optionally) the population
size. Areas of ``area_means`` without sample get the synthetic estimate ``X_d' beta``.

The bootstrap MSE is the parametric bootstrap of González-Manteiga, Lombardía, Molina, Morales
& Santamaría (2008, J. Stat. Comput. Simul. 78) as in R ``sae::pbmseBHF``: draw
``u*_d ~ N(0, sigma_u2)`` for every area and ``e*_dj ~ N(0, sigma_e2)``, build the bootstrap
sample ``y* = x' beta + u* + e*`` and the bootstrap target (``X_d' beta + u*_d``, plus the mean
of the population errors ``(sum_s e* + E_r) / N_d``, ``E_r ~ N(0, (N_d - n_d) sigma_e2)``, for
the finite-population mean), refit, and average ``(estimate* - target*)^2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError
from statcoder.estimation.columns import file_rows, numeric_column, require_column, text_column
from statcoder.estimation.nested_error import NestedErrorModel, nested_error_method
from statcoder.estimation.results import (
    DEFAULT_CV_THRESHOLDS,
    DEFAULT_FLAG_LABELS,
    interval,
    quality_flags,
)

MSE_METHODS = ("analytic", "bootstrap")
MAX_BOOTSTRAP = 10_000


@dataclass
class UnitLevelResult:
    """Per-area table (``frame``), the fitted model and the coefficient names (``terms``)."""

    frame: pd.DataFrame
    model: NestedErrorModel
    terms: list[str]

    def coefficients(self) -> pd.DataFrame:
        """Regression coefficients with standard errors, and the two variance components."""
        se = np.sqrt(np.diag(self.model.coef_cov_))
        rows = pd.DataFrame({"term": self.terms, "estimate": self.model.coef_, "se": se})
        comps = pd.DataFrame(
            {
                "term": ["sigma_u2 (area)", "sigma_e2 (unit)"],
                "estimate": [self.model.sigma_u2_, self.model.sigma_e2_],
                "se": np.sqrt(np.diag(self.model.vc_cov_)),
            }
        )
        return pd.concat([rows, comps], ignore_index=True)


def _checked_matrix(frame: pd.DataFrame, columns: Sequence[str], what: str, ids: np.ndarray):
    cols = [numeric_column(frame, c) for c in columns]
    x = np.column_stack([np.ones(len(frame)), *cols]) if cols else np.ones((len(frame), 1))
    bad = np.isnan(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        rows = file_rows(np.flatnonzero(bad.any(axis=1)))
        raise EstimationError(
            f"{int(bad.any(axis=1).sum())} {what} row(s) have a missing value of covariate "
            f"{columns[col - 1]!r}",
            where=f"{what}, column {columns[col - 1]!r}, {rows}"
            + (f" (area {ids[row]})" if len(ids) else ""),
            hint="the nested-error model needs every covariate for every unit and area mean; "
            "impute the values or drop those records before estimating",
        )
    return x


def nested_error_table(
    sample: pd.DataFrame,
    area_means: pd.DataFrame,
    *,
    response: str,
    covariates: Sequence[str],
    area: str,
    population_size: str | None = None,
    method: str = "REML",
    mse: str = "analytic",
    bootstrap: int = 200,
    seed: int | None = 0,
    confidence: float = 0.95,
    cv_thresholds: Sequence[float] = DEFAULT_CV_THRESHOLDS,
    flag_labels: Sequence[str] = DEFAULT_FLAG_LABELS,
) -> UnitLevelResult:
    """Fit the nested-error model on ``sample`` and estimate the mean of ``response`` in every
    area of ``area_means``.

    ``population_size`` names the column of ``area_means`` with the number of population units
    per area: estimates are then finite-population means (R ``sae::eblupBHF``); without it, the
    model means ``X_d' beta + u_d`` (Battese, Harter & Fuller 1988). ``mse="bootstrap"`` uses
    ``bootstrap`` parametric bootstrap replicates (seeded) and keeps the analytic MSE in
    ``mse_analytic``. Returns a ``UnitLevelResult``; estimates are in the units of
    ``response``, MSEs in squared units, ``cv`` a fraction.
    """
    method = nested_error_method(method)
    if mse not in MSE_METHODS:
        raise EstimationError(
            f"unknown MSE method {mse!r}", where="mse", hint="use 'analytic' or 'bootstrap'"
        )
    if mse == "bootstrap" and not 1 <= bootstrap <= MAX_BOOTSTRAP:
        raise EstimationError(
            f"{bootstrap} bootstrap replicates",
            where="bootstrap",
            hint=f"use between 1 and {MAX_BOOTSTRAP} replicates (200 or more for an MSE)",
        )
    covariates = list(covariates)
    for column in [response, area, *covariates]:
        require_column(sample, column, option="sample")
    for column in [area, *covariates] + ([population_size] if population_size else []):
        require_column(area_means, column, option="area means")
    areas_s = text_column(sample, area)
    areas_p = text_column(area_means, area)
    y = numeric_column(sample, response)
    if np.isnan(y).any():
        raise EstimationError(
            f"{int(np.isnan(y).sum())} sample record(s) have no value of {response!r}",
            where=f"sample, column {response!r}, {file_rows(np.flatnonzero(np.isnan(y)))}",
            hint="drop the records without a response (they carry no information for the model)",
        )
    x = _checked_matrix(sample, covariates, "sample", areas_s)
    xbar = _checked_matrix(area_means, covariates, "area means", areas_p)
    _check_areas(areas_s, areas_p, area)
    big_n = None
    if population_size:
        big_n = numeric_column(area_means, population_size)
        n_per = pd.Series(areas_s).value_counts()
        n_d = n_per.reindex(areas_p).fillna(0).to_numpy()
        bad = np.isnan(big_n) | (big_n < np.maximum(n_d, 1))
        if bad.any():
            raise EstimationError(
                "population sizes are missing, or smaller than the sample size, for some areas",
                where=f"area means, column {population_size!r}, areas {list(areas_p[bad][:5])}",
                hint="give the number of population units of each area (at least its sample size)",
            )
    model = NestedErrorModel(method).fit(x, y, areas_s)
    out = model.area_estimates(areas_p, xbar, big_n)
    frame = pd.DataFrame({"area": areas_p, "n": out["n"]})
    if big_n is not None:
        frame["N"] = big_n
    estimate, mse_analytic = out["estimate"], out["mse"]
    mse_final = mse_analytic
    if mse == "bootstrap":
        mse_final, mc_se = bootstrap_mse(model, x, areas_s, areas_p, xbar, big_n, bootstrap, seed)
    rmse = np.sqrt(mse_final)
    low, high = interval(estimate, rmse, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(estimate != 0, rmse / np.abs(estimate), np.nan)
    sampled = out["n"] > 0
    frame["estimate"] = estimate
    frame["mse"] = mse_final
    frame["rmse"] = rmse
    frame["cv"] = cv
    frame["ci_low"] = low
    frame["ci_high"] = high
    frame["direct"] = np.where(sampled, _direct_means(y, areas_s, areas_p), np.nan)
    frame["synthetic"] = out["synthetic"]
    frame["gamma"] = out["gamma"]
    frame["random_effect"] = out["random_effect"]
    frame["mse_analytic"] = mse_analytic
    frame["g1"], frame["g2"], frame["g3"] = out["g1"], out["g2"], out["g3"]
    if mse == "bootstrap":
        frame["mse_bootstrap"] = mse_final
        frame["mse_bootstrap_mc_se"] = mc_se
    frame["kind"] = np.where(sampled, "eblup", "synthetic")
    frame["flag"] = quality_flags(cv, thresholds=cv_thresholds, labels=flag_labels)
    return UnitLevelResult(frame, model, ["(Intercept)", *covariates])


def _direct_means(y: np.ndarray, areas_s: np.ndarray, areas_p: np.ndarray) -> np.ndarray:
    means = pd.Series(y).groupby(areas_s).mean()
    return means.reindex(areas_p).to_numpy(dtype=float)


def _check_areas(areas_s: np.ndarray, areas_p: np.ndarray, area: str) -> None:
    dup = pd.Series(areas_p)[pd.Series(areas_p).duplicated()].unique()
    if len(dup):
        raise EstimationError(
            f"{len(dup)} area(s) appear more than once in the area means",
            where=f"area means, column {area!r}, areas {list(dup[:5])}",
            hint="give one row per area",
        )
    missing = sorted(set(areas_s.tolist()) - set(areas_p.tolist()))
    if missing:
        raise EstimationError(
            f"{len(missing)} sampled area(s) have no population means",
            where=f"area means, column {area!r}, areas {missing[:5]}",
            hint="add a row with the covariate means (and population size) of every sampled "
            "area; area codes must be spelt the same way in both files",
        )


def bootstrap_mse(
    model: NestedErrorModel,
    x: np.ndarray,
    areas_s: np.ndarray,
    areas_p: np.ndarray,
    xbar: np.ndarray,
    population_size: np.ndarray | None,
    replicates: int,
    seed: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Parametric bootstrap MSE (González-Manteiga et al. 2008) of the EBLUPs of ``areas_p``.

    Returns ``(mse, mc_se)``: one MSE per area (squared units of the response) and its
    Monte-Carlo standard error (standard deviation of the squared errors over ``sqrt(B)``).
    """
    rng = np.random.default_rng(seed)
    index = {a: i for i, a in enumerate(areas_p)}
    code = np.array([index[a] for a in areas_s])
    n_d = np.bincount(code, minlength=len(areas_p)).astype(float)
    su, se, beta = model.sigma_u2_, model.sigma_e2_, model.coef_
    total = np.zeros(len(areas_p))
    squares = np.zeros(len(areas_p))
    for _ in range(replicates):
        u = rng.normal(0.0, np.sqrt(su), len(areas_p))
        e = rng.normal(0.0, np.sqrt(se), len(x))
        y_star = x @ beta + u[code] + e
        target = xbar @ beta + u
        if population_size is not None:
            rest = rng.normal(0.0, np.sqrt(se * (population_size - n_d)))
            target = target + (np.bincount(code, weights=e, minlength=len(areas_p)) + rest) / (
                population_size
            )
        refit = NestedErrorModel(model.method, tol=model.tol).fit(x, y_star, areas_s)
        est = refit.area_estimates(areas_p, xbar, population_size)["estimate"]
        total += (est - target) ** 2
        squares += (est - target) ** 4
    mean = total / replicates
    spread = np.sqrt(np.maximum(squares / replicates - mean**2, 0.0) / replicates)
    return mean, spread

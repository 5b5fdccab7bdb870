"""Fay-Herriot on the sae ``milk`` data, pinned to R sae 1.3.

Reference calls (``library(sae); data(milk); attach(milk)``):
``mseFH(yi ~ as.factor(MajorArea), SD^2, method=...)`` for REML (default), ML and FH.
milk_fh_reference.csv holds its per-area EBLUP and MSE for all 43 areas x 3 methods;
reference_results.csv holds refvar, iterations, coefficients, SEs and fit criteria.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from statcoder.errors import EstimationError, NotFittedError
from statcoder.estimation.fay_herriot import CovariateLeakageWarning, FayHerriot, benchmark
from statcoder.estimation.small_area import fay_herriot_table

from .test_survey_reference import published_tolerance

SAE_IDS = {"REML": "milk_fh_reml", "ML": "milk_fh_ml", "FH": "milk_fh_fh"}
# printed by samplics' tests with a truncated last digit (full precision 1.0179759..., 0.6831609...)
TRUNCATED = {("milk_fh_fh", "eblup area 1"), ("milk_fh_fh", "eblup area 43")}


@pytest.fixture(scope="module")
def milk(estimation_dir) -> pd.DataFrame:
    frame = pd.read_csv(estimation_dir / "milk.csv", dtype=str, keep_default_na=False)
    frame["vardir"] = (frame["SD"].astype(float) ** 2).map(repr)  # SD^2 in the R call, as text
    return frame


def _fit(milk: pd.DataFrame, method: str):
    return fay_herriot_table(
        milk,
        direct="yi",
        variance="vardir",
        covariates=["MajorArea"],
        categorical=["MajorArea"],
        area="SmallArea",
        method=method,
    )


@pytest.mark.parametrize("method", ["REML", "ML", "FH"])
def test_all_43_areas_match_sae(milk, estimation_dir, method) -> None:
    reference = pd.read_csv(estimation_dir / "milk_fh_reference.csv")
    reference = reference[reference["method"] == method].sort_values("SmallArea")
    assert len(reference) == 43
    result = _fit(milk, method).frame
    assert list(result["area"]) == [str(a) for a in reference["SmallArea"]]
    # mseFH(yi ~ as.factor(MajorArea), SD^2, method=method)$est$eblup and $mse
    np.testing.assert_allclose(result["estimate"], reference["eblup"], rtol=1e-8)
    np.testing.assert_allclose(result["mse"], reference["mse"], rtol=1e-8)


@pytest.mark.parametrize("method", ["REML", "ML", "FH"])
def test_fit_quantities_match_sae(milk, reference, method) -> None:
    result = _fit(milk, method)
    model = result.model
    values = {
        "refvar (A)": model.variance_,  # mseFH(...)$est$fit$refvar
        "iterations": model.iterations_,  # $est$fit$iterations
        "loglike": model.loglike_,  # $est$fit$goodness
        "AIC": model.aic_,
        "BIC": model.bic_,
        "KIC": model.kic_,
        "eblup area 1": result.frame["estimate"].iloc[0],
        "mse area 1": result.frame["mse"].iloc[0],
        "eblup area 43": result.frame["estimate"].iloc[42],
        "mse area 43": result.frame["mse"].iloc[42],
    }
    for term, beta, se in zip(result.terms, model.coef_, model.coef_se_, strict=True):
        name = "X(Intercept)" if term == "(Intercept)" else f"Xas.factor(MajorArea){term[-1]}"
        values[f"beta {name}"] = beta  # $est$fit$estcoef$beta
        values[f"std.error {name}"] = se
    rows = {k[1]: row for k, row in reference.items() if k[0] == SAE_IDS[method]}
    assert set(rows) == set(values), set(rows) ^ set(values)
    for quantity, row in rows.items():
        assert values[quantity] == pytest.approx(float(row["full_precision_value"]), rel=1e-8), (
            quantity
        )
        if row["published_value"]:
            tol = published_tolerance(SAE_IDS[method], quantity, row["published_value"], TRUNCATED)
            assert abs(values[quantity] - float(row["published_value"])) <= tol, quantity


def test_non_sampled_areas_get_synthetic_estimates(milk) -> None:
    data = milk.copy()
    data.loc[[0, 5], ["yi", "vardir"]] = ""
    result = _fit(data, "REML")
    frame = result.frame
    assert list(frame["kind"].iloc[[0, 5]]) == ["synthetic", "synthetic"]
    model = result.model
    x = np.array([[1, 0, 0, 0]], dtype=float)  # area 1 is in major area 1
    assert frame["estimate"].iloc[0] == pytest.approx(model.coef_[0])
    assert frame["mse"].iloc[0] == pytest.approx(model.variance_ + x @ model.coef_cov_ @ x.T)
    assert (frame["kind"] == "eblup").sum() == 41
    assert frame["gamma"].iloc[0] == 0.0


def test_zero_variance_area_is_an_error_or_dropped(milk) -> None:
    data = milk.copy()
    data.loc[3, "vardir"] = "0"
    with pytest.raises(EstimationError) as info:
        _fit(data, "REML")
    assert "areas ['4']" in info.value.where and info.value.hint
    result = fay_herriot_table(
        data,
        direct="yi",
        variance="vardir",
        covariates=["MajorArea"],
        categorical=["MajorArea"],
        area="SmallArea",
        on_zero_variance="drop",
    )
    assert result.frame["kind"].iloc[3] == "synthetic"


def test_log_transform_back_transforms_with_bias_correction(milk) -> None:
    log_fit = fay_herriot_table(
        milk,
        direct="yi",
        variance="vardir",
        covariates=["MajorArea"],
        categorical=["MajorArea"],
        area="SmallArea",
        transform="log",
    )
    y = milk["yi"].astype(float).to_numpy()
    psi = milk["vardir"].astype(float).to_numpy()
    x = np.column_stack([np.ones(43)] + [(milk["MajorArea"] == k).to_numpy(float) for k in "234"])
    eta = FayHerriot("REML").fit(x, np.log(y), psi / y**2)  # delta method: Var(log y) ~ psi / y^2
    expected = np.exp(eta.eblup_ + eta.mse_ / 2)  # lognormal bias correction
    np.testing.assert_allclose(log_fit.frame["estimate"], expected, rtol=1e-12)
    np.testing.assert_allclose(
        log_fit.frame["mse"], np.exp(2 * eta.eblup_ + eta.mse_) * (np.exp(eta.mse_) - 1), rtol=1e-12
    )
    plain = _fit(milk, "REML").frame["estimate"].to_numpy()
    assert np.median(np.abs(expected / plain - 1)) < 0.05  # same data, similar estimates


def test_benchmarking_hits_the_target(milk) -> None:
    data = milk.copy()
    data["n"] = data["ni"].astype(float)
    target = float((data["yi"].astype(float) * data["n"]).sum())
    result = fay_herriot_table(
        data,
        direct="yi",
        variance="vardir",
        covariates=["MajorArea"],
        categorical=["MajorArea"],
        area="SmallArea",
        benchmark_target=target,
        benchmark_weights="n",
    )
    assert float((result.frame["estimate"] * data["n"]).sum()) == pytest.approx(target, rel=1e-12)
    diff = benchmark(
        np.array([1.0, 2.0]), weights=np.array([1.0, 1.0]), target=4.0, method="difference"
    )
    assert diff.sum() == pytest.approx(4.0)


def test_ml_covariate_trained_on_the_same_areas_warns(milk) -> None:
    data = milk.copy()
    data["pred"] = data["yi"].astype(float) * 0.9  # stand-in for an ML prediction per area
    kwargs = {"direct": "yi", "variance": "vardir", "covariates": ["pred"], "area": "SmallArea"}
    with pytest.warns(CovariateLeakageWarning, match="trained on the survey data of 43"):
        fay_herriot_table(data, ml_covariates={"pred": data["SmallArea"].tolist()}, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fay_herriot_table(data, ml_covariates={"pred": ["999"]}, **kwargs)


def test_map_frame_and_flags(milk, tmp_path) -> None:
    result = _fit(milk, "REML")
    path = result.write_map_csv(tmp_path / "areas.csv")
    back = pd.read_csv(path, dtype={"area": str})
    assert list(back.columns[:3]) == ["area", "estimate", "rmse"]
    assert len(back) == 43 and set(back["flag"]) <= {"ok", "caution", "suppress"}
    assert back["cv"].iloc[0] == pytest.approx(np.sqrt(0.0134602201642976) / 1.02197034245261)


def test_bad_inputs_raise_clear_errors(milk) -> None:
    with pytest.raises(NotFittedError):
        FayHerriot().predict(np.ones((1, 2)))
    with pytest.raises(EstimationError, match="unknown Fay-Herriot method"):
        FayHerriot("GLS").fit(np.ones((5, 1)), np.arange(5.0), np.ones(5))
    with pytest.raises(EstimationError, match="exactly one of variance= and se="):
        fay_herriot_table(milk, direct="yi", covariates=[])
    data = milk.copy()
    data.loc[2, "vardir"] = ""
    with pytest.raises(EstimationError, match="no sampling variance"):
        fay_herriot_table(data, direct="yi", variance="vardir", area="SmallArea")

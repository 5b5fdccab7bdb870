"""Nested-error (Battese-Harter-Fuller) EBLUP on the cornsoybean data, pinned to published values.

Reference: the unit-level EBLUP tests of the Python package samplics (samplics-org/samplics,
``tests/sae/test_eblup_unit_model.py``), which fit ``CornHec ~ CornPix + SoyBeansPix`` with
county random effects on the same 37 segments as R ``sae``'s ``cornsoybean`` (sae 1.3, the
version in ../shared/data: 37 segments including the second Hardin segment that BHF 1988 flag
as an outlier for soybeans; BHF's own tables use their original counts and are not pinned here).
Values are pinned to the digits samplics publishes (its tolerances: 1e-6, 1e-4 for ML).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from statcoder.errors import EstimationError
from statcoder.estimation import nested_error_table
from statcoder.estimation.nested_error import NestedErrorModel

COVARIATES = ["CornPix", "SoyBeansPix"]


@pytest.fixture(scope="module")
def corn(estimation_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    sample = pd.read_csv(estimation_dir / "cornsoybean.csv")
    means = pd.read_csv(estimation_dir / "cornsoybeanmeans.csv").rename(
        columns={
            "CountyIndex": "County",
            "MeanCornPixPerSeg": "CornPix",
            "MeanSoyBeansPixPerSeg": "SoyBeansPix",
        }
    )
    return sample, means


def _fit(corn, method="REML", population_size=None, **options):
    sample, means = corn
    return nested_error_table(
        sample,
        means,
        response="CornHec",
        covariates=COVARIATES,
        area="County",
        population_size=population_size,
        method=method,
        **options,
    )


# samplics: REML
REML_BETA = [17.96398, 0.3663352, -0.0303638]
REML_U = [2.184574, 1.475118, -4.730863, -2.764825, 8.370915, 4.274827, -2.705540, 1.156682,
          5.026852, -2.883398, -8.652532, -0.751808]  # fmt: skip
REML_GAMMA = [0.17537405] * 3 + [0.29841402] + [0.38950426] * 4 + [0.45965927]
REML_GAMMA += [0.51535245] * 2 + [0.56063774]
REML_EST = [122.56367092, 123.51515946, 113.09071900, 115.02074400, 137.19621212, 108.94543201,
            116.51553231, 122.76148230, 111.53048000, 124.18034553, 112.50472697, 131.25788283]  # fmt: skip
REML_MSE = [85.495399459, 85.648949504, 85.004705566, 83.235995880, 72.017014455, 73.356967955,
            72.007536645, 73.580035237, 65.299062174, 58.426265442, 57.518251822, 53.876770532]  # fmt: skip
REML_EST_FPC = [122.582519, 123.527414, 113.034260, 114.990082, 137.266001, 108.980696,
                116.483886, 122.771075, 111.564754, 124.156518, 112.462566, 131.251525]  # fmt: skip
# samplics: ML
ML_BETA = [18.08888, 0.36566, -0.03017]
ML_EST = [122.17284832, 123.22129485, 113.85918468, 115.42994973, 136.06978025, 108.37573030,
          116.84704244, 122.60003878, 110.93542654, 124.44934607, 113.41480260, 131.28369873]  # fmt: skip
ML_MSE_PR = [70.03789330, 70.14078955, 69.75891524, 71.50874622, 64.73862949, 66.13552266,
             64.77099780, 66.09246929, 60.71287515, 55.31330901, 54.52024143, 51.85801645]  # fmt: skip
ML_EST_FPC = [122.1926, 123.2340, 113.8007, 115.3978, 136.1457, 108.4139, 116.8129, 122.6107,
              110.9733, 124.4229, 113.3680, 131.2767]  # fmt: skip


def test_reml_fit_matches_samplics(corn) -> None:
    result = _fit(corn)
    model = result.model
    assert model.coef_ == pytest.approx(REML_BETA, abs=1e-6)
    assert model.sigma_u2_ == pytest.approx(63.3149, abs=5e-5)
    assert model.sigma_e2_ == pytest.approx(297.7128, abs=5e-5)
    assert model.loglike_ == pytest.approx(-161.005759, abs=1e-6)
    assert model.random_effects_ == pytest.approx(REML_U, abs=1e-6)
    assert list(result.frame["area"]) == [str(i) for i in range(1, 13)]
    assert result.frame["gamma"].to_numpy() == pytest.approx(REML_GAMMA, abs=1e-6)


def test_reml_eblup_and_prasad_rao_mse_match_samplics(corn) -> None:
    frame = _fit(corn).frame
    est = frame["estimate"].to_numpy()
    # county 9 (Webster): samplics publishes 111.53048; the formula X'beta + gamma (ybar -
    # xbar'beta) with samplics' own beta and random effect gives 111.530348 (and samplics'
    # finite-population value for county 9 agrees with ours to 1e-6), so county 9 is pinned to
    # the 4 digits on which the two agree
    keep = np.arange(12) != 8
    assert est[keep] == pytest.approx(np.array(REML_EST)[keep], abs=1e-6)
    assert est[8] == pytest.approx(REML_EST[8], abs=2e-4)
    # Prasad-Rao g1 + g2 + 2 g3 with the Fisher information of Rao (2003, eq. 7.2.16)
    assert frame["mse"].to_numpy() == pytest.approx(REML_MSE, abs=2e-5)
    g = frame[["g1", "g2", "g3"]].to_numpy()
    assert frame["mse"].to_numpy() == pytest.approx(g[:, 0] + g[:, 1] + 2 * g[:, 2])


def test_finite_population_eblup_matches_samplics_with_population_sizes(corn) -> None:
    frame = _fit(corn, population_size="PopnSegments").frame
    assert frame["estimate"].to_numpy() == pytest.approx(REML_EST_FPC, abs=1e-6)
    ml = _fit(corn, method="ML", population_size="PopnSegments").frame
    assert ml["estimate"].to_numpy() == pytest.approx(ML_EST_FPC, abs=1e-4)


def test_ml_fit_and_mse(corn) -> None:
    result = _fit(corn, method="ML")
    model, frame = result.model, result.frame
    assert model.coef_ == pytest.approx(ML_BETA, abs=1e-5)
    assert model.sigma_u2_ == pytest.approx(47.79559, abs=1e-4)
    assert model.sigma_e2_ == pytest.approx(280.2311, abs=1e-4)
    assert model.loglike_ == pytest.approx(-159.1981, abs=1e-4)
    assert frame["estimate"].to_numpy() == pytest.approx(ML_EST, abs=1e-4)
    # samplics reports g1 + g2 + 2 g3 for ML; statcoder adds the Datta-Lahiri bias term of
    # the ML variance components, -b' grad g1 (b < 0: ML underestimates), which is positive
    g = frame[["g1", "g2", "g3"]].to_numpy()
    assert g[:, 0] + g[:, 1] + 2 * g[:, 2] == pytest.approx(ML_MSE_PR, abs=2e-4)
    bias = model._ml_bias()
    assert (bias < 0).all()
    assert (frame["mse"].to_numpy() > np.array(ML_MSE_PR)).all()


def test_bootstrap_mse_within_monte_carlo_error_of_the_analytic_mse(corn) -> None:
    # The parametric bootstrap (González-Manteiga et al. 2008) estimates the MSE at the fitted
    # parameters, whose second-order approximation is g1 + g2 + g3 (the Prasad-Rao *estimator*
    # adds a second g3 to correct the bias of g1 at estimated variance components); with
    # population sizes both are scaled by (1-f)^2 and get (1-f) sigma_e2 / N.
    result = _fit(corn, population_size="PopnSegments", mse="bootstrap", bootstrap=200, seed=7)
    frame, model = result.frame, result.model
    one_minus_f = 1 - frame["n"] / frame["N"]
    approx = one_minus_f**2 * (frame["g1"] + frame["g2"] + frame["g3"])
    approx += one_minus_f * model.sigma_e2_ / frame["N"]
    # per area: within 4 Monte-Carlo standard errors (12 correlated areas; the MC SE of a mean
    # of squared errors is itself noisy with 200 replicates) plus 5 % for the O(m^-3/2) error of
    # the approximation with m = 12 counties; on average within 10 %
    gap = (frame["mse_bootstrap"] - approx).abs()
    allowed = 4 * frame["mse_bootstrap_mc_se"] + 0.05 * approx
    assert (gap <= allowed).all(), (gap / allowed).round(2).tolist()
    assert frame["mse_bootstrap"].mean() / approx.mean() == pytest.approx(1, abs=0.1)
    # the Prasad-Rao estimator (g1 + g2 + 2 g3) is larger by about one g3 (~20 % here)
    assert (frame["mse_analytic"] > frame["mse_bootstrap"]).mean() > 0.8
    assert (frame["mse"] == frame["mse_bootstrap"]).all()
    again = _fit(corn, population_size="PopnSegments", mse="bootstrap", bootstrap=200, seed=7)
    assert again.frame["mse"].to_numpy() == pytest.approx(frame["mse"].to_numpy(), rel=1e-12)


def test_areas_without_sample_get_the_synthetic_estimate(corn) -> None:
    sample, means = corn
    reduced = sample[~sample["County"].isin([1, 2])]
    full = _fit((reduced, means), population_size="PopnSegments").frame.set_index("area")
    model = _fit((reduced, means)).model
    for county in ("1", "2"):
        row = full.loc[county]
        x = np.r_[1.0, means.set_index("County").loc[int(county), COVARIATES].to_numpy(float)]
        assert row["n"] == 0 and row["kind"] == "synthetic"
        assert row["estimate"] == pytest.approx(x @ model.coef_, rel=1e-12)
        expected = model.sigma_u2_ + x @ model.coef_cov_ @ x + model.sigma_e2_ / row["N"]
        assert row["mse"] == pytest.approx(expected, rel=1e-10)


def test_bad_inputs_are_clear_errors(corn) -> None:
    sample, means = corn
    with pytest.raises(EstimationError) as info:
        _fit((sample, means[means["County"] != 12]))
    assert "no population means" in info.value.message and "12" in info.value.where
    holes = sample.astype({"CornPix": float}).copy()
    holes.loc[4, "CornPix"] = np.nan
    with pytest.raises(EstimationError) as info:
        _fit((holes, means))
    assert "'CornPix'" in info.value.message and "row 6" in info.value.where
    bad_means = means.astype({"SoyBeansPix": float}).copy()
    bad_means.loc[0, "SoyBeansPix"] = np.nan
    with pytest.raises(EstimationError, match="area means"):
        _fit((sample, bad_means))
    small = means.copy()
    small.loc[11, "PopnSegments"] = 2  # Hardin has 6 sampled segments
    with pytest.raises(EstimationError, match="smaller than the sample size"):
        _fit((sample, small), population_size="PopnSegments")
    with pytest.raises(EstimationError, match="unknown nested-error method"):
        NestedErrorModel("moments").fit(np.ones((5, 1)), np.ones(5), np.arange(5))

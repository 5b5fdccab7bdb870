"""Model-assisted estimators on the API data (apisrs / apiclus1 samples, apipop frame)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from statcoder.errors import EstimationError
from statcoder.estimation import SurveyDesign
from statcoder.estimation.columns import numeric_column
from statcoder.estimation.model_assisted import (
    CrossFittedGREG,
    difference_estimator,
    make_working_model,
    model_calibration,
    psu_folds,
)

FEATURES = ["api99", "meals"]


@pytest.fixture(scope="module")
def srs(api) -> SurveyDesign:
    return SurveyDesign(api["apisrs"], fpc="fpc")  # dsrs in R


@pytest.fixture(scope="module")
def frame(api) -> pd.DataFrame:
    return api["apipop"][FEATURES + ["stype", "sch.wide"]]


def test_difference_estimator_limits(api, srs) -> None:
    y = numeric_column(api["apisrs"], "api00")
    n_pop = 6194
    perfect = difference_estimator(
        srs,
        "api00",
        sample_predictions=y,
        population_prediction_total=123456.0,
        population_size=n_pop,
    )
    assert perfect.get(statistic="total").value == pytest.approx(123456.0)
    assert perfect.get(statistic="total").se == pytest.approx(0.0, abs=1e-9)  # no residuals left
    zero = difference_estimator(
        srs,
        "api00",
        sample_predictions=np.zeros(200),
        population_prediction_total=0.0,
        population_size=n_pop,
    )
    ht = srs.total("api00")
    assert zero.get(statistic="total").value == pytest.approx(ht.value)  # m = 0 is Horvitz-Thompson
    assert zero.get(statistic="total").se == pytest.approx(ht.se)
    with pytest.raises(EstimationError, match="one number per sampled record"):
        difference_estimator(
            srs,
            "api00",
            sample_predictions=[1.0],
            population_prediction_total=0,
            population_size=n_pop,
        )


def test_folds_keep_psus_together_and_balance_strata(api) -> None:
    clus = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    folds = psu_folds(clus, 5, seed=1)
    dnum = api["apiclus1"]["dnum"].to_numpy()
    for district in np.unique(dnum):
        assert len(np.unique(folds[dnum == district])) == 1
    strat = SurveyDesign(api["apistrat"], weights="pw", strata="stype", fpc="fpc")
    folds = psu_folds(strat, 5, seed=1)
    for stype in "EHM":
        counts = np.bincount(folds[api["apistrat"]["stype"].to_numpy() == stype], minlength=5)
        assert counts.max() - counts.min() <= 1
    with pytest.raises(EstimationError, match="at least 2 folds"):
        psu_folds(strat, 1, seed=0)
    with pytest.raises(EstimationError, match="fewer folds than PSUs"):
        psu_folds(clus, 20, seed=0)


def test_cross_fitted_linear_greg_is_close_to_calibration_greg(api, srs, frame) -> None:
    pop = api["apipop"]
    cal = srs.calibrate({f: numeric_column(pop, f).sum() for f in FEATURES}, population_size=6194)
    greg = cal.mean("api00")
    cf = CrossFittedGREG(LinearRegression(), n_folds=10, seed=3).fit(srs, "api00", FEATURES, frame)
    est = cf.result_.get(statistic="mean")
    assert abs(est.value - greg.value) < 0.2 * greg.se
    assert est.se == pytest.approx(greg.se, rel=0.1)
    assert cf.result_.get(statistic="total").value == pytest.approx(est.value * 6194)
    assert est.se < srs.mean("api00").se / 3  # api99 explains api00 well
    assert len(cf.models_) == 10 and cf.oof_predictions_.shape == (200,)


def test_classifier_working_model_for_a_binary_outcome(api, srs, frame) -> None:
    data = api["apisrs"].assign(wide=(api["apisrs"]["sch.wide"] == "Yes").astype(int).astype(str))
    design = SurveyDesign(data, fpc="fpc")
    cf = CrossFittedGREG(LogisticRegression(max_iter=1000), seed=0).fit(
        design, "wide", FEATURES, frame
    )
    share = cf.result_.get(statistic="mean")
    ht = design.mean("wide")
    assert 0 < share.value < 1 and abs(share.value - ht.value) < 2 * ht.se
    with pytest.raises(EstimationError, match="0/1 response"):
        CrossFittedGREG(LogisticRegression()).fit(srs, "api00", FEATURES, frame)


def test_replicate_variance_refits_the_model(api, srs, frame) -> None:
    lin = CrossFittedGREG(LinearRegression(), seed=0).fit(srs, "api00", FEATURES, frame)
    rep = CrossFittedGREG(LinearRegression(), seed=0, variance="replicate", replicates=40).fit(
        srs, "api00", FEATURES, frame
    )
    a, b = lin.result_.get(statistic="mean"), rep.result_.get(statistic="mean")
    assert a.value == pytest.approx(b.value)
    assert 0.5 < b.se / a.se < 2.0
    assert "replicate" in rep.result_.frame["estimator"].iloc[0]


def test_model_calibration_meets_both_constraints(api, srs, frame) -> None:
    design = model_calibration(srs, FEATURES, frame, model=LinearRegression(), response="api00")
    step = design.calibrations[-1]
    np.testing.assert_allclose(step.matrix.T @ design.weights, step.totals, rtol=1e-10)
    assert step.totals[0] == 6194
    est = design.mean("api00")
    assert est.se < srs.mean("api00").se / 3
    assert design.mean("enroll").value > 0  # the calibrated weights serve any variable


def test_working_model_factory_and_missing_auxiliaries(srs, frame) -> None:
    assert type(make_working_model("gradient-boosting")).__name__ == "GradientBoostingRegressor"
    with pytest.raises(EstimationError, match="unknown working model"):
        make_working_model("xgboost")
    broken = frame.copy()
    broken.loc[10, "meals"] = ""
    with pytest.raises(EstimationError, match="auxiliary variables are missing"):
        CrossFittedGREG(LinearRegression()).fit(srs, "api00", FEATURES, broken)
    with pytest.raises(EstimationError, match="unknown variance"):
        CrossFittedGREG(LinearRegression(), variance="exact").fit(srs, "api00", FEATURES, frame)

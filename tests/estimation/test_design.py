"""SurveyDesign behaviour beyond the R reference rows: bad input, lonely PSUs, calibration,
replicates, design effects and the tidy output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statcoder.errors import EstimationError, InputError
from statcoder.estimation import ReplicateDesign, SurveyDesign, calibration_factors, quality_flags
from statcoder.estimation.columns import numeric_column


@pytest.fixture()
def strat(api) -> pd.DataFrame:
    return api["apistrat"].copy()


def test_tidy_columns_and_single_value_access(api) -> None:
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    est = design.mean("api00")
    assert list(est.frame.columns) == [
        "variable",
        "statistic",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "cv",
        "deff",
        "n",
        "flag",
    ]
    assert est.frame["n"].iloc[0] == 183
    assert est.frame["ci_low"].iloc[0] == pytest.approx(est.value - 1.959964 * est.se, rel=1e-6)
    assert est.frame["cv"].iloc[0] == pytest.approx(est.se / est.value)
    # svymean(~api00, dclus1, deff=TRUE) prints DEff 9.3459 (survey vignette "A survey analysis example")
    assert est.frame["deff"].iloc[0] == pytest.approx(9.3459, abs=5e-5)
    by = design.mean("api00", by="stype")
    with pytest.raises(EstimationError, match="needs exactly one"):
        _ = by.value
    assert by.get(stype="E").frame["n"].iloc[0] == 144


def test_srs_design_effect_is_one_and_t_intervals_use_design_df(api) -> None:
    design = SurveyDesign(api["apisrs"], fpc="fpc")
    est = design.mean("api00")
    assert est.frame["deff"].iloc[0] == pytest.approx(1.0, rel=1e-12)
    wide = design.mean("api00", t_interval=True, confidence=0.9)
    from scipy import stats

    half = wide.frame["ci_high"].iloc[0] - wide.value
    assert half == pytest.approx(stats.t.ppf(0.95, 199) * est.se)  # 200 PSUs, 1 stratum


def test_missing_and_nonpositive_weights_are_clear_errors(strat) -> None:
    strat.loc[4, "pw"] = ""
    with pytest.raises(EstimationError) as info:
        SurveyDesign(strat, weights="pw", strata="stype")
    assert "no weight" in info.value.message and "row 6" in info.value.where and info.value.hint
    strat.loc[4, "pw"] = "0"
    with pytest.raises(EstimationError, match="zero or negative weight"):
        SurveyDesign(strat, weights="pw", strata="stype")
    SurveyDesign(strat, weights="pw", strata="stype", allow_zero_weights=True)
    strat.loc[4, "pw"] = "-3"
    with pytest.raises(EstimationError, match="negative weight"):
        SurveyDesign(strat, weights="pw", strata="stype", allow_zero_weights=True)
    with pytest.raises(EstimationError, match="no weights and no fpc"):
        SurveyDesign(strat, strata="stype")
    with pytest.raises(InputError, match="not found"):
        SurveyDesign(strat, weights="weight")


def test_fpc_smaller_than_sample_and_missing_values(strat) -> None:
    strat["small"] = "3"
    with pytest.raises(EstimationError, match="more than 100 %"):
        SurveyDesign(strat, weights="pw", strata="stype", fpc="small")
    design = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    strat.loc[[2, 7], "api00"] = ""
    design = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    with pytest.raises(EstimationError) as info:
        design.mean("api00")
    assert "rows 4, 9" in info.value.where and "na_rm" in info.value.hint
    assert design.mean("api00", na_rm=True).frame["n"].iloc[0] == 198
    strat.loc[3, "api99"] = "n/a"
    with pytest.raises(EstimationError, match="not numbers"):
        SurveyDesign(strat, weights="pw", strata="stype").mean("api99")


def _lonely(strat: pd.DataFrame) -> pd.DataFrame:
    data = strat.copy()
    data.loc[0, "stype"] = "X"  # a stratum with a single PSU
    return data


def _stratum_var(z: np.ndarray, strata: np.ndarray) -> dict[str, float]:
    out = {}
    for h in np.unique(strata):
        zh = z[strata == h]
        out[h] = len(zh) / (len(zh) - 1) * np.sum((zh - zh.mean()) ** 2) if len(zh) > 1 else np.nan
    return out


def test_lonely_psu_options(strat) -> None:
    data = _lonely(strat)
    with pytest.raises(EstimationError) as info:
        SurveyDesign(data, weights="pw", strata="stype").total("enroll")
    assert "stratum X" in info.value.where and "lonely_psu" in info.value.hint
    w = numeric_column(data, "pw")
    y = numeric_column(data, "enroll")
    strata = data["stype"].to_numpy()
    parts = _stratum_var(w * y, strata)
    others = sum(v for h, v in parts.items() if h != "X")

    def se(option: str) -> float:
        return (
            SurveyDesign(data, weights="pw", strata="stype", lonely_psu=option).total("enroll").se
        )

    assert se("certainty") == pytest.approx(np.sqrt(others), rel=1e-12)
    assert se("remove") == pytest.approx(np.sqrt(others), rel=1e-12)
    assert se("average") == pytest.approx(np.sqrt(others * 4 / 3), rel=1e-12)  # 4 strata, 3 usable
    # "centre" (R "adjust"): the lonely PSU's score is centred at the grand mean of the scores,
    # which is 0 for a mean's linearised scores
    mean = SurveyDesign(data, weights="pw", strata="stype", lonely_psu="centre").mean("enroll")
    zm = w * (y - mean.value) / w.sum()
    mparts = _stratum_var(zm, strata)
    expected = sum(v for h, v in mparts.items() if h != "X") + zm[strata == "X"][0] ** 2
    assert mean.se == pytest.approx(np.sqrt(expected), rel=1e-12)
    with pytest.raises(EstimationError, match="unknown lonely_psu"):
        SurveyDesign(data, weights="pw", strata="stype", lonely_psu="drop")


def test_jackknife_of_a_linear_statistic_equals_linearisation(api) -> None:
    design = SurveyDesign(api["apistrat"], weights="pw", strata="stype", fpc="fpc")
    jkn = design.replicate("auto")
    assert jkn.method == "JKn" and jkn.replicate_weights.shape == (200, 200)
    # for a total (linear in the data) the JKn variance is exactly the linearisation variance
    assert jkn.total("enroll", na_rm=True).se == pytest.approx(
        design.total("enroll", na_rm=True).se, rel=1e-10
    )
    assert jkn.degrees_of_freedom() == design.degrees_of_freedom() == 197  # 200 PSUs - 3 strata
    with pytest.raises(EstimationError, match="JK1 ignores strata"):
        design.replicate("JK1")


def test_bootstrap_se_is_close_to_linearisation(api) -> None:
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    boot = design.replicate("bootstrap", replicates=2000, seed=11)
    assert boot.replicate_weights.shape[1] == 2000
    assert boot.mean("api00").se == pytest.approx(design.mean("api00").se, rel=0.1)
    default = design.replicate(
        "bootstrap"
    )  # as.svrepdesign(type="bootstrap") default: 50 replicates
    assert default.replicate_weights.shape[1] == 50 and default.scale == pytest.approx(1 / 49)


def test_published_replicate_weights(api) -> None:
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc").replicate()
    again = ReplicateDesign(
        api["apiclus1"],
        weights=design.weights,
        replicate_weights=design.replicate_weights,
        scale=design.scale,
    )
    assert again.mean("api00").se == pytest.approx(design.mean("api00").se, rel=1e-12)
    with pytest.raises(EstimationError, match="one row per record"):
        ReplicateDesign(
            api["apiclus1"], weights=design.weights, replicate_weights=np.ones((3, 2)), scale=1
        )


def test_calibration_reproduces_totals_and_raking_margins(api) -> None:
    pop = api["apipop"]
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    types = pop["stype"].value_counts().to_dict()
    wide = pop["sch.wide"].value_counts().to_dict()
    raked = design.rake({"stype": types, "sch.wide": wide})
    for column, counts in (("stype", types), ("sch.wide", wide)):
        got = raked.total(column).frame.set_index("category")["estimate"]
        for level, count in counts.items():
            assert got[level] == pytest.approx(count, rel=1e-9)
    # raking on a single margin is post-stratification
    np.testing.assert_allclose(
        design.rake({"stype": types}).weights,
        design.post_stratify("stype", types).weights,
        rtol=1e-10,
    )
    # and so is its variance (GREG residuals on the margin dummies)
    assert design.rake({"stype": types}).mean("api00").se == pytest.approx(
        design.post_stratify("stype", types).mean("api00").se, rel=1e-9
    )  # 23.9205, R dclus1p
    with pytest.raises(EstimationError, match="have no population total"):
        design.post_stratify("stype", {"E": 4421, "H": 755})


def test_calibration_factors_bounds_and_errors() -> None:
    rng = np.random.default_rng(0)
    d = np.full(100, 10.0)
    m = np.column_stack([np.ones(100), rng.normal(5, 1, 100)])
    totals = np.array([1000.0, m[:, 1].sum() * 10 * 1.02])
    g = calibration_factors(d, m, totals, bounds=(0.8, 1.2))
    assert (g >= 0.8 - 1e-12).all() and (g <= 1.2 + 1e-12).all()
    np.testing.assert_allclose(m.T @ (d * g), totals, rtol=1e-10)
    assert g.min() == pytest.approx(0.8) or g.max() == pytest.approx(1.2)  # bounds were active
    with pytest.raises(EstimationError, match="inside the bounds"):  # +5 % is out of reach
        calibration_factors(d, m, totals * np.array([1, 1.05 / 1.02]), bounds=(0.8, 1.2))
    g = calibration_factors(d, m, totals, method="raking")
    assert (g > 0).all()
    np.testing.assert_allclose(m.T @ (d * g), totals, rtol=1e-9)
    with pytest.raises(EstimationError, match="zero for every sampled record"):
        calibration_factors(
            d, np.column_stack([np.ones(100), np.zeros(100)]), np.array([1000.0, 5.0])
        )
    with pytest.raises(EstimationError, match="unknown calibration method"):
        calibration_factors(d, m, totals, method="logit")


def test_quality_flags() -> None:
    flags = quality_flags([0.05, 0.165, 0.2, 0.5, np.nan])
    assert list(flags) == ["ok", "ok", "caution", "suppress", "suppress"]
    assert list(quality_flags([0.1, 0.3], thresholds=[0.2], labels=["A", "F"])) == ["A", "F"]
    with pytest.raises(EstimationError, match="one more label"):
        quality_flags([0.1], thresholds=[0.2], labels=["A"])


def test_categorical_proportions_and_empty_domain(api) -> None:
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    shares = design.proportion("stype").frame
    assert shares["estimate"].sum() == pytest.approx(1.0)
    assert list(shares["statistic"].unique()) == ["proportion"]
    counts = design.total("stype").frame
    np.testing.assert_allclose(shares["estimate"], counts["estimate"] / counts["estimate"].sum())
    data = api["apiclus1"].copy()
    data["zero"] = "0"
    with pytest.raises(EstimationError, match="zero denominator"):
        SurveyDesign(data, weights="pw", psu="dnum").ratio("api00", "zero")
    with pytest.raises(EstimationError, match="unknown option"):
        design.mean("api00", alpha=0.1)

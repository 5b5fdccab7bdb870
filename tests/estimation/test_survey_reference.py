"""Every survey row of reference_results.csv, computed by statcoder and compared with R.

Each computation below sits next to the R call that produced the reference number
(R ``survey`` 4.1.1, T. Lumley; setup ``library(survey); data(api)``). The comparison is with
``full_precision_value`` at a relative tolerance of 1e-8 and, where the number is printed in a
publication (survey's tests/api.Rout.save or its vignette), with ``published_value`` to half a
unit of its last printed digit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from statcoder.estimation import SurveyDesign
from statcoder.estimation.columns import numeric_column


def _designs(api: dict[str, pd.DataFrame]) -> dict[str, object]:
    pop_types = api["apipop"]["stype"].value_counts().to_dict()  # xtabs(~stype, data=apipop)
    # dstrat <- svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)
    dstrat = SurveyDesign(api["apistrat"], weights="pw", strata="stype", fpc="fpc")
    # dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)
    dclus1 = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    # dclus2 <- svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, data=apiclus2)
    dclus2 = SurveyDesign(api["apiclus2"], psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    # dclus2wr <- svydesign(id=~dnum+snum, weights=~pw, data=apiclus2)
    dclus2wr = SurveyDesign(api["apiclus2"], psu=["dnum", "snum"], weights="pw")
    # rclus1 <- as.svrepdesign(dclus1)   (JK1, survey.replicates.mse=FALSE)
    rclus1 = dclus1.replicate("auto")
    return {
        "dstrat": dstrat,
        "dclus1": dclus1,
        "dclus2": dclus2,
        "dclus2wr": dclus2wr,
        "rclus1": rclus1,
        # dclus1p <- postStratify(dclus1, ~stype, pop.types)
        "dclus1p": dclus1.post_stratify("stype", pop_types),
        # rclus1p <- postStratify(rclus1, ~stype, pop.types)
        "rclus1p": rclus1.post_stratify("stype", pop_types),
        # gclus1 <- calibrate(dclus1, formula=~api99, population=c(6194, 3914069))
        "gclus1": dclus1.calibrate({"api99": 3914069}, population_size=6194),
        # dsrs <- svydesign(id=~1, fpc=~fpc, data=apisrs)
        "dsrs": SurveyDesign(api["apisrs"], fpc="fpc"),
    }


def _pair(est) -> tuple[float, float]:
    return est.value, est.se


def _computations(api: dict[str, pd.DataFrame]) -> dict[str, Callable[[], dict[str, float]]]:
    d = _designs(api)

    def mean_total(name: str, kind: str, variable: str) -> Callable[[], dict[str, float]]:
        def run() -> dict[str, float]:
            est = getattr(d[name], kind)(variable, na_rm=True)
            return {"estimate": est.value, "SE": est.se}

        return run

    def by_category(name: str) -> dict[str, float]:
        # svytotal(~stype, design): estimated number of schools of each type
        frame = d[name].total("stype").frame
        out = {}
        for row in frame.itertuples():
            out[f"estimate stype{row.category}"] = row.estimate
            out[f"SE stype{row.category}"] = row.se
        return out

    def svyby() -> dict[str, float]:
        # svyby(~ell+meals, ~stype, design=dclus1, svymean)
        frame = d["dclus1"].mean(["ell", "meals"], by="stype").frame
        out = {}
        for row in frame.itertuples():
            out[f"{row.variable} {row.stype}"] = row.estimate
            out[f"se.{row.variable} {row.stype}"] = row.se
        return out

    def svyglm() -> dict[str, float]:
        # summary(svyglm(api00~ell+meals, design=dclus1))
        frame = d["dclus1"].linear_regression("api00", ["ell", "meals"]).frame
        out = {}
        for row in frame.itertuples():
            out[f"estimate {row.term}"] = row.estimate
            out[f"SE {row.term}"] = row.se
        return out

    def quantiles() -> dict[str, float]:
        # svyquantile(~api00, dclus1, quantile=c(0.25,0.5,0.75), ci=TRUE)  (survey >= 4.1 defaults)
        frame = d["dclus1"].quantile("api00", [0.25, 0.5, 0.75]).frame
        out = {}
        for row in frame.itertuples():
            out[f"quantile {row.quantile:g}"] = row.estimate
            out[f"ci.2.5 {row.quantile:g}"] = row.ci_low
            out[f"ci.97.5 {row.quantile:g}"] = row.ci_high
            out[f"se {row.quantile:g}"] = row.se
        return out

    def ratio(name: str, **by: str) -> Callable[[], dict[str, float]]:
        def run() -> dict[str, float]:
            est = d[name].ratio("api.stu", "enroll", by="stype" if by else None)
            if by:  # svyratio(~api.stu, ~enroll, design=subset(dclus1, stype=="H"))
                est = est.get(**by)
            return {"estimate": est.value, "SE": est.se}

        return run

    def population() -> dict[str, float]:
        pop = api["apipop"]
        return {
            "mean_api00": float(np.nanmean(numeric_column(pop, "api00"))),  # mean(apipop$api00)
            "sum_enroll": float(
                np.nansum(numeric_column(pop, "enroll"))
            ),  # sum(apipop$enroll, na.rm=TRUE)
        }

    comps: dict[str, Callable[[], dict[str, float]]] = {
        "mean_apipop_api00": lambda: {"value": population()["mean_api00"]},
        "sum_apipop_enroll": lambda: {"value": population()["sum_enroll"]},
        "dclus1_total_stype": lambda: by_category("dclus1"),
        "gclus1_total_stype": lambda: by_category("gclus1"),
        "dclus1_ratio": ratio("dclus1"),
        "gclus1_ratio": ratio("gclus1"),
        "dclus1H_ratio": ratio("dclus1", stype="H"),
        "dclus1_svyby_stype": svyby,
        "dclus1_quantile_api00": quantiles,
        "dclus1_svyglm": svyglm,
        "dsrs_mean_enroll": mean_total("dsrs", "mean", "enroll"),
    }
    for name in (
        "dstrat",
        "dclus1",
        "dclus2",
        "dclus2wr",
        "rclus1",
        "dclus1p",
        "rclus1p",
        "gclus1",
        "dsrs",
    ):
        comps[f"{name}_mean_api00"] = mean_total(name, "mean", "api00")
        comps[f"{name}_total_enroll"] = mean_total(name, "total", "enroll")
    return comps


# Rows of the reference file that statcoder does not compute, with the reason (none today).
NOT_COMPUTED: dict[str, str] = {}


@pytest.fixture(scope="module")
def computed(api) -> dict[str, Callable[[], dict[str, float]]]:
    return _computations(api)


def test_every_survey_reference_row_is_checked(reference, computed) -> None:
    survey_ids = {key[0] for key, row in reference.items() if row["package"] == "survey"}
    unchecked = survey_ids - set(computed) - set(NOT_COMPUTED)
    assert not unchecked, f"reference rows without a test: {sorted(unchecked)}"


def _survey_rows(reference) -> list[tuple[str, str]]:
    return sorted(
        k for k, row in reference.items() if row["package"] == "survey" and k[0] not in NOT_COMPUTED
    )


# The printed value of these rows is truncated rather than rounded (or printed by an older
# survey version): it differs from the full-precision value by more than half a unit but less
# than one unit of its last digit, so one unit is allowed for them.
TRUNCATED_IN_PRINT = {("dclus1p_mean_api00", "SE"), ("rclus1p_mean_api00", "SE")}


def published_tolerance(rid: str, quantity: str, text: str, truncated: set) -> float:
    """Half a unit in the last printed digit of ``text`` (one unit for known truncations)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    unit = 10.0 ** (-decimals)
    return (unit if (rid, quantity) in truncated else 0.5 * unit) * (1 + 1e-9)


def test_survey_reference_values(reference, computed) -> None:
    rows = _survey_rows(reference)
    assert len(rows) == 86  # every survey row of the file
    cache: dict[str, dict[str, float]] = {}
    for rid, quantity in rows:
        if rid not in cache:
            cache[rid] = computed[rid]()
        value = cache[rid][quantity]
        row = reference[(rid, quantity)]
        full = float(row["full_precision_value"])
        assert value == pytest.approx(full, rel=1e-8, abs=1e-12), (rid, quantity, row["r_call"])
        if row["published_value"]:
            published = float(row["published_value"])
            tol = published_tolerance(rid, quantity, row["published_value"], TRUNCATED_IN_PRINT)
            assert abs(value - published) <= tol, (
                rid,
                quantity,
                row["r_call"],
            )

"""Correctness fixes of estimation v2 (issue 14): lonely PSU "adjust" for totals, an fpc that
varies within a stratum, ``design.subset`` keeping the full design, and a cheap import.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from statcoder.errors import EstimationError, InputError
from statcoder.estimation import SurveyDesign

# R survey tests/lonely.psu.R ("checks for svytotal()"): 5 records, stratum 3 has one PSU
SINGLETON = pd.DataFrame(
    {
        "Stratum": [1, 1, 2, 2, 3],
        "PSU": [1, 2, 3, 4, 5],
        "Design_Weight": [10.5, 10.5, 20, 20, 15],
        "Sex": ["M", "F", "F", "M", "M"],
        "Age": [30.5, 40.5, 35, 52, 44],
    }
)


def _singleton(lonely_psu: str) -> SurveyDesign:
    return SurveyDesign(
        SINGLETON, weights="Design_Weight", strata="Stratum", psu="PSU", lonely_psu=lonely_psu
    )


@pytest.mark.parametrize("rule", ["remove", "certainty"])
def test_lonely_psu_remove_and_certainty_match_r_total(rule: str) -> None:
    # R: stopifnot(all.equal(126625, vcov(svytotal(~Age, design_w_singleton))))
    assert _singleton(rule).total("Age").se ** 2 == pytest.approx(126625, rel=1e-12)


@pytest.mark.parametrize("rule", ["adjust", "centre"])
def test_lonely_psu_adjust_matches_r_total(rule: str) -> None:
    # R >= 4.4: all.equal(127579.8, vcov(...), scale = 127579.8, tolerance = 1e-6);
    # the lonely PSU total 660 is centred on the grand mean of the 5 PSU totals, 629.1
    variance = _singleton(rule).total("Age").se ** 2
    assert variance == pytest.approx(127579.8, rel=1e-6)
    assert variance == pytest.approx(126625 + (660 - 629.1) ** 2, rel=1e-12)


def test_lonely_psu_adjust_zero_is_the_older_rule_and_agrees_for_means() -> None:
    # before R 4.4 the lonely PSU was centred on zero: (660 - 0)^2 is added
    assert _singleton("adjust-zero").total("Age").se ** 2 == pytest.approx(126625 + 660**2)
    # for a mean the scores sum to zero, so the grand mean of PSU totals is zero: same answer
    a, z = _singleton("adjust").mean("Age").se, _singleton("adjust-zero").mean("Age").se
    assert a == pytest.approx(z, rel=1e-12)


def test_fpc_varying_within_a_stratum_is_refused(api: dict[str, pd.DataFrame]) -> None:
    data = api["apistrat"].copy()
    rows = np.flatnonzero(data["stype"].to_numpy() == "H")
    data.loc[rows[3], "fpc"] = "800"  # R warns and silently uses the first value
    with pytest.raises(EstimationError) as info:
        SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    err = info.value
    assert "varies within stratum 'H'" in err.message
    assert "column 'fpc'" in err.where and f"rows {rows[0] + 2}," in err.where  # file rows: the header is row 1
    # the untouched design is accepted
    SurveyDesign(api["apistrat"], weights="pw", strata="stype", fpc="fpc")


def test_subset_keeps_the_full_design(api: dict[str, pd.DataFrame]) -> None:
    data = api["apiclus1"]
    dclus1 = SurveyDesign(data, weights="pw", psu="dnum", fpc="fpc")
    sub = dclus1.subset("`sch.wide` == 'No'")
    est = sub.mean("api00")
    # exact value from the formula: domain scores, totals of all 15 PSUs (zero outside the
    # domain), (1 - n/N) n/(n-1) sum (t - tbar)^2 over the 15 sampled districts, N = 757
    w = data["pw"].astype(float).to_numpy()
    y = data["api00"].astype(float).to_numpy()
    m = (data["sch.wide"] == "No").to_numpy()
    mu = (w * y * m).sum() / (w * m).sum()
    t = pd.Series(w * m * (y - mu) / (w * m).sum()).groupby(data["dnum"].to_numpy()).sum()
    n, big_n = len(t), 757
    exact = np.sqrt((1 - n / big_n) * n / (n - 1) * ((t - t.mean()) ** 2).sum())
    assert est.value == pytest.approx(mu, rel=1e-12)
    assert est.se == pytest.approx(exact, rel=1e-12)
    assert round(est.se, 2) == 28.99  # R: svymean(~api00, subset(dclus1, sch.wide == "No"))
    # same as svyby, and a boolean mask works too
    by = dclus1.mean("api00", by="sch.wide").get(**{"sch.wide": "No"})
    assert by.se == pytest.approx(est.se, rel=1e-12)
    assert dclus1.subset(m).mean("api00").se == pytest.approx(est.se, rel=1e-12)
    # filtering the data first drops the districts without such schools: a different SE
    filtered = SurveyDesign(data[m], weights="pw", psu="dnum", fpc="fpc").mean("api00")
    assert round(filtered.se, 2) == 29.62


def test_subset_numeric_query_replicates_and_errors(api: dict[str, pd.DataFrame]) -> None:
    data = api["apistrat"]
    design = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    high = design.subset("api00 > 700")  # numbers compare as numbers although read as text
    assert high.mean("api00").frame["n"].iloc[0] == int((data["api00"].astype(float) > 700).sum())
    assert high.mean("api00").value > 700
    jk = design.replicate("JKn").subset("stype == 'E'")
    by = design.replicate("JKn").mean("api00", by="stype").get(stype="E")
    assert jk.mean("api00").se == pytest.approx(by.se, rel=1e-12)
    with pytest.raises(EstimationError, match="no records"):
        design.subset("stype == 'Z'")
    with pytest.raises(EstimationError, match="cannot evaluate"):
        design.subset("stype ==")
    with pytest.raises(EstimationError, match="one true/false value per record"):
        design.subset(np.ones(3, dtype=bool))
    with pytest.raises(EstimationError, match="cannot calibrate a subset"):
        design.subset("stype == 'E'").calibrate({"api99": 1}, population_size=10)


def test_misspelt_column_names_close_matches(api: dict[str, pd.DataFrame]) -> None:
    design = SurveyDesign(api["apistrat"], weights="pw", strata="stype", fpc="fpc")
    for call in (lambda: design.mean("api000"), lambda: design.total("api000")):
        with pytest.raises(InputError) as info:
            call()
        assert "'api000'" in info.value.message and "'api00'" in info.value.hint


def test_import_estimation_does_not_import_sklearn() -> None:
    code = (
        "import sys, statcoder.estimation as e; "
        "assert 'sklearn' not in sys.modules, 'sklearn imported'; "
        "e.CrossFittedGREG; assert 'sklearn' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr

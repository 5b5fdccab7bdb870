"""Estimation reports for readers: totals with separators, the design in words, share intervals in [0, 1]."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reportcheck import check_report

from statcoder.classifications import Classification
from statcoder.estimation import SurveyDesign
from statcoder.estimation.coding_error import corrected_shares
from statcoder.estimation.report import coding_correction_report, survey_report


@pytest.fixture(scope="module")
def survey_path(api, tmp_path_factory):
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    frame = design.total("enroll").frame
    described = "apiclus1.csv: weights=pw, strata=None, psu=['dnum'], fpc=['fpc']"  # as the CLI wrote it
    return survey_report(frame, design=described).write(tmp_path_factory.mktemp("est") / "survey.html")


def test_totals_are_written_with_separators_and_the_design_without_python_lists(survey_path):
    html = survey_path.read_text(encoding="utf-8")
    assert "3,404,940" in html  # survey::svytotal(~enroll, dclus1) = 3404940.13
    assert "e+06" not in html and "['" not in html and "None" not in html
    assert "psu dnum" in html


@pytest.fixture(scope="module")
def correction_path(tmp_path_factory):
    rows = [("1", "Managers", "1", ""), ("11", "Chief executives", "2", "1"), ("12", "Admin managers", "2", "1"),
            ("2", "Professionals", "1", ""), ("21", "Engineers", "2", "2"), ("22", "Health professionals", "2", "2")]
    tree = Classification.from_frame(pd.DataFrame(rows, columns=["code", "title", "level", "parent"]), name="toy")
    rng = np.random.default_rng(0)
    truth = rng.choice(["11", "12", "21", "22"], size=400, p=[0.6, 0.3, 0.08, 0.02])
    machine = np.where(rng.random(400) < 0.85, truth, "11")
    audit = rng.choice(400, size=40, replace=False)
    table = corrected_shares(machine, audit, truth[audit])
    assert (table["ci_low"] < 0).any(), "the rare code's interval must reach below 0 for this test"
    return coding_correction_report(table, audit_size=40, classification=tree).write(
        tmp_path_factory.mktemp("est") / "correction.html")


def test_share_intervals_are_clipped_and_codes_carry_titles(correction_path):
    html = correction_path.read_text(encoding="utf-8")
    assert ">-0." not in html and ">−0." not in html
    assert ">Health professionals</td>" in html  # titles sit next to codes in the table
    assert "22 Health professionals" in html  # and in the chart's labels


@pytest.mark.browser
@pytest.mark.parametrize("which", ["survey", "correction"])
def test_estimation_reports_fit_the_screen_and_have_no_raw_values(which, survey_path, correction_path, tmp_path):
    check_report(survey_path if which == "survey" else correction_path, tmp_path / "shots")


@pytest.mark.browser
def test_small_area_report_fits_the_screen_and_has_no_raw_values(estimation_dir, tmp_path):
    from statcoder.estimation.report import small_area_report
    from statcoder.estimation.small_area import fay_herriot_table

    milk = pd.read_csv(estimation_dir / "milk.csv", dtype=str, keep_default_na=False)
    milk["var"] = (milk["SD"].astype(float) ** 2).astype(str)
    result = fay_herriot_table(milk, direct="yi", variance="var", categorical=["MajorArea"], area="SmallArea")
    path = small_area_report(result.frame, result.coefficients(), variance=result.model.variance_).write(
        tmp_path / "sae.html")
    check_report(path, tmp_path / "shots")

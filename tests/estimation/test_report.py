"""HTML reports of estimates: self-contained, with tables, charts and text alternatives."""

from __future__ import annotations

import numpy as np

from statcoder.estimation import SurveyDesign
from statcoder.estimation.coding_error import corrected_shares
from statcoder.estimation.report import coding_correction_report, survey_report


def test_survey_report_has_kpis_table_and_accessible_chart(api, tmp_path) -> None:
    design = SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    frame = design.mean(["api00", "ell"], by="stype").frame
    path = survey_report(frame, design="apiclus1, one-stage cluster").write(tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "apiclus1, one-stage cluster" in html
    assert html.count("<tr>") == len(frame) + 1  # header row + one row per estimate
    assert 'role="img"' in html and "aria-label" in html and "<figcaption>" in html
    assert "<script src" not in html and "<link" not in html  # self-contained, works offline


def test_coding_correction_report_lists_codes(tmp_path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.choice(["11", "12", "21"], size=300)
    machine = np.where(rng.random(300) < 0.8, truth, "11")
    audit = rng.choice(300, size=60, replace=False)
    table = corrected_shares(machine, audit, truth[audit])
    html = coding_correction_report(table, audit_size=60).render()
    assert "audited records" in html and ">60<" in html
    for code in ("11", "12", "21"):
        assert f">{code}</td>" in html

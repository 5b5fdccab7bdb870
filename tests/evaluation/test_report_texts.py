"""Texts in the evaluation report: redacted by default; raw only in a report marked internal."""

from __future__ import annotations

import pandas as pd
import pytest
from reportcheck import check_report

from statcoder.evaluation.holistic import evaluate
from statcoder.evaluation.report import build_report
from statcoder.report.html import INTERNAL_MARK

# synthetic job ads: a name after a contact phrase, an e-mail address and a Polish phone number
ADS = [
    ("Software developer wanted. Kontakt: Anna Kowalska, anna.kowalska@firma.pl, tel. 601 234 567", "15-1252"),
    ("Registered nurse, night shifts. Contact Mr John Smith at john.smith@example.com, tel. 602 345 678", "29-1141"),
    ("Electrician for building sites. Kontakt: Pan Jan Nowak, jan.nowak@budowa.pl, tel. 603 456 789", "47-2111"),
    ("Database administrator. Kontakt: Pani Ewa Wiśniewska, ewa.w@dane.pl, tel. 604 567 890", "15-1242"),
    ("Carpenter, full time. Contact Ms Mary Jones at mary.jones@example.org, tel. 605 678 901", "47-2031"),
]
PERSONAL = ["Kowalska", "anna.kowalska@firma.pl", "601 234 567", "John Smith", "john.smith@example.com",
            "Nowak", "603 456 789", "Wiśniewska", "Mary Jones", "605 678 901"]


@pytest.fixture(scope="module")
def ads_evaluation(onet_slice):
    frame = pd.DataFrame(ADS, columns=["text", "code"])
    known = set(onet_slice["train"]["code"])
    frame = frame[frame["code"].isin(known)].reset_index(drop=True)
    assert len(frame) >= 3
    return evaluate(onet_slice["coder"], frame, text_columns=["text"], code_column="code", n_boot=50, min_cell=1)


def test_report_redacts_names_emails_and_phones_by_default(ads_evaluation, tmp_path):
    assert ads_evaluation.explained, "the report must show sampled records for this test to mean anything"
    html = build_report(ads_evaluation).write(tmp_path / "report.html").read_text()
    leaked = [p for p in PERSONAL if p in html]
    assert leaked == []
    assert "&lt;&lt;EMAIL&gt;&gt;" in html and "&lt;&lt;PHONE&gt;&gt;" in html and "&lt;&lt;NAME&gt;&gt;" in html
    assert INTERNAL_MARK not in html


def test_show_texts_gives_raw_texts_in_a_report_marked_internal_on_every_section(ads_evaluation, tmp_path):
    report = build_report(ads_evaluation, show_texts=True)
    html = report.write(tmp_path / "internal.html").read_text()
    assert any(p in html for p in PERSONAL)
    assert html.count(INTERNAL_MARK) == html.count("<section") + 1  # every section plus the banner
    assert "<title>[internal]" in html


@pytest.mark.browser
def test_evaluation_report_fits_the_screen_and_has_no_raw_values(onet_evaluation, tmp_path):
    path = build_report(onet_evaluation).write(tmp_path / "evaluation.html")
    check_report(path, tmp_path / "shots")


@pytest.mark.browser
def test_comparison_report_fits_the_screen_and_has_no_raw_values(onet_evaluation, tmp_path):
    from statcoder.evaluation.compare import compare
    from statcoder.evaluation.report import build_comparison_report

    evaluations = [onet_evaluation, onet_evaluation]
    path = build_comparison_report(evaluations, compare(evaluations, n_boot=50, seed=0)).write(tmp_path / "cmp.html")
    check_report(path, tmp_path / "shots")


@pytest.mark.browser
def test_report_without_bootstrap_passes_the_report_check_model_card_included(onet_slice, tmp_path):
    """--bootstrap 0 once put 'nan-nan' in the embedded model card (a <pre> the check skipped)."""
    ev = evaluate(onet_slice["coder"], onet_slice["test"], group_columns=["mode"], n_boot=0, min_cell=5)
    assert "nan" not in ev.results["model_card_markdown"]
    check_report(build_report(ev).write(tmp_path / "no-bootstrap.html"), tmp_path / "shots")

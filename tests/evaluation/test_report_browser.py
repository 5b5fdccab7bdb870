"""The quality report: structure, text alternatives, size, and rendering in headless Chromium."""

from __future__ import annotations

import re

import pytest

from statcoder.evaluation.report import build_report


@pytest.fixture(scope="module")
def report_path(onet_evaluation, tmp_path_factory):
    return build_report(onet_evaluation).write(tmp_path_factory.mktemp("report") / "quality.html")


def test_every_chart_has_a_text_alternative_and_the_file_is_self_contained(report_path):
    html = report_path.read_text()
    svgs = re.findall(r"<svg[^>]*>", html)
    assert len(svgs) >= 5
    assert all('role="img"' in s and 'aria-label="' in s for s in svgs)
    assert html.count("<figcaption>") == len(svgs)
    assert not re.search(r"""(src|href)=["']https?://""", html), "the report must not load anything from the network"
    for n in range(1, 10):
        assert f">{n}. " in html


@pytest.mark.browser
def test_report_renders_in_chromium_without_console_errors(report_path):
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    assert chromium.exists(), "run `bash scripts/system-deps.sh` to install Debian chromium"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox", "--disable-background-networking"]
        )
        page = browser.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(report_path.as_uri())
        assert page.title() == "Evaluation of the SOC 2018 coder"  # not the training-data quality report
        assert page.locator("section").count() >= 10
        assert page.locator("svg[role=img]").first.is_visible()
        # sorting a table by clicking its header reorders the rows
        table = page.locator("table.sortable").nth(0)
        first_before = table.locator("tbody tr").first.inner_text()
        table.locator("th").nth(0).click()
        table.locator("th").nth(0).click()
        assert table.locator("tbody tr").first.inner_text() != first_before
        browser.close()
    assert errors == []

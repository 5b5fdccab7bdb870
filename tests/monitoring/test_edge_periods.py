"""Periods that monitoring exists for must not crash it: no auto records, a perfect audit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from statcoder.monitoring import Monitor
from statcoder.monitoring.stats import wilson_interval

FAST = {"domain_permutations": 8, "domain_max_records": 200, "n_permutations": 100, "cusum_simulations": 300}


@pytest.fixture(scope="module")
def monitor(batch_factory):
    return Monitor(audit_column="audit", columns=["region"], **FAST).fit(batch_factory(1000, 1))


def test_period_without_auto_records_gives_a_report(monitor, batch_factory, tmp_path):
    unsure = batch_factory(300, 2, strength=(0.0, 0.3))  # the model is unsure of everything
    assert not (unsure.decision == "auto").any()
    result = monitor.calculate({"1": batch_factory(300, 3), "2": unsure})
    path = result.write_report(tmp_path / "m.html")
    html = path.read_text()
    summary = {p["period"]: p for p in result.summary()}
    assert summary["2"]["n_records"] == 300
    assert "Accuracy" in html


@pytest.mark.parametrize("n_audited", [13, 41])  # sizes where the Wilson upper limit for k = n fell below 1
def test_perfect_audit_accuracy_draws_its_interval(monitor, batch_factory, tmp_path, n_audited):
    batch = batch_factory(400, 5)
    auto = np.flatnonzero(batch.decision == "auto")[:n_audited]
    audit = np.full(len(batch.decision), "", dtype=object)
    audit[auto] = batch.predicted_code[auto]  # every audited auto code confirmed
    perfect = dataclasses.replace(batch, audit=audit)
    result = monitor.calculate({"1": batch_factory(300, 6, audit_share=0.5), "2": perfect})
    result.write_report(tmp_path / "m.html")
    row = result.to_frame().query("signal == 'audit_accuracy' and period == '2'").iloc[0]
    assert row["value"] == 1.0 and row["upper"] == 1.0 and row["lower"] <= 1.0


@pytest.mark.parametrize("n", [1, 2, 13, 41, 173, 1000])
def test_wilson_interval_is_within_0_1_and_contains_the_estimate(n):
    for k in (0, n):
        lo, hi = wilson_interval(k, n)
        assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_no_auto_record_in_any_period_says_so_per_period(monitor, batch_factory, tmp_path):
    """The auto-accuracy table had only a period column; now each period says why it is empty."""
    periods = {p: batch_factory(300, 10 + i, strength=(0.0, 0.3)) for i, p in enumerate(("2026-01", "2026-02"))}
    assert not any((b.decision == "auto").any() for b in periods.values())
    result = monitor.calculate(periods)
    html = result.write_report(tmp_path / "m.html").read_text()
    table = html.split("Accuracy of auto-coded records</caption>")[1].split("</table>")[0]
    assert "2026-01" in table and "2026-02" in table
    assert table.count("no automatically coded records") == 2
    assert "No record was coded automatically in these periods" in html


@pytest.mark.browser
def test_a_report_without_auto_records_passes_the_report_check(monitor, batch_factory, tmp_path):
    from reportcheck import check_report

    result = monitor.calculate({p: batch_factory(300, 20 + i, strength=(0.0, 0.3)) for i, p in enumerate("12")})
    check_report(result.write_report(tmp_path / "m.html"), tmp_path / "shots")


def test_input_and_output_drift_are_charted_apart_with_readable_legends(monitor, batch_factory):
    result = monitor.calculate({"1": batch_factory(300, 3), "2": batch_factory(300, 4, new_words=0.5)})
    inputs = result.plot("input_drift").axes[0]
    outputs = result.plot("output_drift").axes[0]
    shown_in = [t.get_text() for t in inputs.get_legend().get_texts()]
    shown_out = [t.get_text() for t in outputs.get_legend().get_texts()]
    assert "share of unseen tokens" in shown_in and "column region (PSI)" in shown_in
    assert not any("mix" in s or s.startswith("share coded") for s in shown_in)
    assert "predicted-code mix (PSI), level 1" in shown_out and "share sent to review" in shown_out
    assert not any("_" in s for s in shown_in + shown_out)
    assert inputs.get_title().startswith("Input drift") and outputs.get_title().startswith("Output drift")

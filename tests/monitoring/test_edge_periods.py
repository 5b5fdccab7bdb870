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

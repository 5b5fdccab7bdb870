"""The monitoring report in chromium at 1400 and 800 px: no overflow, no nan/None/inf; alerts grouped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from reportcheck import check_report

from statcoder.monitoring import Monitor

FAST = {"domain_permutations": 8, "domain_max_records": 200, "n_permutations": 100, "cusum_simulations": 300}


@pytest.fixture(scope="module")
def report_path(batch_factory, tmp_path_factory):
    monitor = Monitor(audit_column="audit", columns=["region"], **FAST).fit(batch_factory(1500, 1))
    perfect = batch_factory(400, 5)
    audit = np.full(len(perfect.decision), "", dtype=object)
    auto = np.flatnonzero(perfect.decision == "auto")[:13]
    audit[auto] = perfect.predicted_code[auto]
    periods = {
        "2026-01": batch_factory(500, 2, audit_share=0.3),
        "2026-02": dataclasses.replace(perfect, audit=audit),
        "2026-03": batch_factory(500, 3, strength=(0.0, 0.3)),  # no auto records
        "2026-04": batch_factory(500, 4, strength=(0.5, 4.0), new_words=0.5, region_shift=True, audit_share=0.5),
    }
    result = monitor.calculate(periods)
    return result.write_report(tmp_path_factory.mktemp("monitoring") / "monitoring.html")


@pytest.mark.browser
def test_monitoring_report_fits_the_screen_and_has_no_raw_values(report_path, tmp_path):
    check_report(report_path, tmp_path / "shots")

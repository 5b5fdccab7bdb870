"""The alert rule: significant after multiple-testing control AND beyond tolerance."""

from __future__ import annotations

import pandas as pd
import pytest

from statcoder.errors import ConfigurationError
from statcoder.monitoring.alerts import Alert, AlertPolicy, evaluate_alerts


def _rows(period: str, items: list[tuple[str, float, float]]) -> list[dict]:
    return [{"period": period, "signal": s, "level": None, "value": 0.0, "reference": 0.0, "size": size,
             "lower": float("nan"), "upper": float("nan"), "p_value": p, "testable": True, "n": 100,
             "change_start": ""} for s, size, p in items]


def test_alert_needs_both_significance_and_tolerance():
    frame = pd.DataFrame(_rows("1", [
        ("oov_share", 0.10, 1e-6),  # big and significant: alert
        ("text_length", 0.05, 1e-6),  # significant but below tolerance 0.10: no alert
        ("confidence_ks", 0.30, 0.2),  # big but not significant: no alert
        ("share_review", -0.08, 1e-5),  # shares count in both directions: alert
    ]))
    evaluated, alerts = evaluate_alerts(frame, AlertPolicy(), periods=["1"])
    assert [a.signal for a in alerts] == ["oov_share", "share_review"]
    assert evaluated["significant"].tolist() == [True, True, False, True]
    assert alerts[0].severity == "warning" and alerts[0].tolerance == pytest.approx(0.05)
    assert "tokens" in alerts[0].advice


def test_multiple_testing_control_removes_a_lone_marginal_p_value():
    # p = 0.03 alone would pass at 5 %, but not among 10 tests under Benjamini-Hochberg (0.03 * 10 > 0.05)
    items = [("oov_share", 0.2, 0.03)] + [(f"column:c{i}", 0.0, 0.8) for i in range(9)]
    _, alerts = evaluate_alerts(pd.DataFrame(_rows("1", items)), AlertPolicy(), periods=["1"])
    assert alerts == []
    _, alerts = evaluate_alerts(pd.DataFrame(_rows("1", items[:1])), AlertPolicy(), periods=["1"])
    assert len(alerts) == 1


def test_since_is_the_start_of_the_run_beyond_tolerance_and_policy_tolerances_apply():
    rows = _rows("1", [("oov_share", 0.01, 0.5)]) + _rows("2", [("oov_share", 0.07, 0.2)]) \
        + _rows("3", [("oov_share", 0.09, 1e-4)])
    _, alerts = evaluate_alerts(pd.DataFrame(rows), AlertPolicy(), periods=["1", "2", "3"])
    assert [(a.period, a.since) for a in alerts] == [("3", "2")]
    _, alerts = evaluate_alerts(pd.DataFrame(rows), AlertPolicy(tolerances={"oov_share": 0.1}), periods=["1", "2", "3"])
    assert alerts == []


def test_only_the_chosen_estimator_is_alertable():
    rows = _rows("1", [("accuracy_atc", 0.07, 1e-5), ("accuracy_average_confidence", 0.07, 1e-5)])
    for row in rows:
        row["level"] = 2
    _, alerts = evaluate_alerts(pd.DataFrame(rows), AlertPolicy(estimator="atc"), periods=["1"])
    assert [(a.signal, a.level) for a in alerts] == [("accuracy_atc", 2)]
    assert alerts[0].severity == "critical"  # 7 points > 2 x 3 points


def test_alert_round_trips_through_json_form_and_bad_policies_fail():
    alert = Alert("1", "oov_share", None, 0.1, "1", "x", "warning", 0.2, 0.1, 0.05, 1e-6, 1e-5)
    assert Alert.from_dict(alert.to_dict()) == alert
    with pytest.raises(ConfigurationError):
        AlertPolicy(method="fdr2").validate()
    with pytest.raises(ConfigurationError):
        AlertPolicy(q=1.5).validate()


def test_unknown_tolerance_names_are_refused():
    AlertPolicy(tolerances={"accuracy": 0.05, "column:region": 0.2, "gap_cbpe": 0.01, "share_auto": 0.1}).validate()
    with pytest.raises(ConfigurationError, match="unknown tolerance name.*'acurracy'") as info:
        AlertPolicy(tolerances={"acurracy": 0.05}).validate()
    assert "oov_share" in info.value.hint
    with pytest.raises(ConfigurationError):
        AlertPolicy(tolerances={"column:": 0.05}).validate()

"""Alerts in words: grouped by cause with one line of advice, direction said plainly."""

from __future__ import annotations

from statcoder.monitoring.alerts import Alert
from statcoder.monitoring.wording import CAUSES, advice_for, describe_alert, group_alerts


def _alert(signal: str, *, value: float, reference: float, size: float, level: int | None = None) -> Alert:
    return Alert(period="2026-03", signal=signal, level=level, size=size, since="2026-02", advice="",
                 severity="warning", value=value, reference=reference, tolerance=0.03, p_value=0.001, q_value=0.004)


def test_an_accuracy_drop_reads_as_a_fall_in_points():
    text = describe_alert(_alert("accuracy_cbpe", value=0.871, reference=0.912, size=0.041, level=4))
    assert text == "estimated accuracy (CBPE) at level 4 fell by 4.1 points (from 91.2 % to 87.1 %)"


def test_audit_and_shares_say_their_direction():
    assert "fell by 6.0 points" in describe_alert(_alert("audit_accuracy", value=0.90, reference=0.96, size=0.06))
    assert "rose by 8.0 points" in describe_alert(_alert("share_review", value=0.40, reference=0.32, size=0.08))
    assert "fell by 8.0 points" in describe_alert(_alert("share_auto", value=0.30, reference=0.38, size=-0.08))


def test_alerts_are_grouped_by_cause_in_a_fixed_order_with_advice():
    alerts = [_alert("code_psi", value=0.3, reference=0.1, size=0.2, level=1),
              _alert("oov_share", value=0.2, reference=0.05, size=0.15),
              _alert("accuracy_cbpe", value=0.8, reference=0.9, size=0.1, level=3),
              _alert("column:region", value=0.2, reference=0.0, size=0.2),
              _alert("gap_cbpe", value=0.1, reference=0.0, size=0.1)]
    groups = group_alerts(alerts)
    assert list(groups) == ["Input drift", "Output drift", "Estimated accuracy", "Audit"]
    assert [a.signal for a in groups["Input drift"]] == ["oov_share", "column:region"]
    assert all(advice_for(cause) for cause in CAUSES)

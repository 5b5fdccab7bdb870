"""The monitoring HTML report: alerts, accuracy estimates, drift, decisions, audit, assumptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from statcoder.monitoring.wording import advice_for, describe_alert, group_alerts, signal_label
from statcoder.report import HtmlReport
from statcoder.report import format as fmt

if TYPE_CHECKING:
    from statcoder.monitoring.result import MonitoringResult

__all__ = ["build_report"]

ASSUMPTIONS = [
    (
        "Average confidence and CBPE assume the model's probabilities stay calibrated on the new "
        "periods (no concept drift: the same text still means the same code). CBPE recalibrates the "
        "confidence on the labelled reference first."
    ),
    (
        "ATC (Garg et al. 2022) assumes that the share of records above the reference confidence "
        "threshold tracks accuracy; it is usually more robust than average confidence under covariate "
        "shift, but it cannot see a change in what the codes mean either."
    ),
    (
        "The label-shift estimate (EM of Saerens et al. 2002 on recalibrated probabilities, reference "
        "accuracy reweighted by the new priors of the top-level groups) assumes that only the mix of "
        "groups changed, not how each code is written."
    ),
    (
        "When these assumptions break, label-free estimates stay high while audited accuracy falls: "
        "the gap between estimated and audited accuracy (signal gap_*) and the CUSUM of audit errors "
        "are the signals for it. An audit sample is therefore part of any monitoring plan."
    ),
    (
        "Alerts need both significance after multiple-testing control across the period's signals and a "
        "size above the project's tolerance; a drift without an alert can still be worth a look."
    ),
]


def _fmt(value: object) -> str:
    return fmt.pct(value) if not fmt.is_missing(value) else fmt.NA


def _signals(frame: pd.DataFrame) -> pd.DataFrame:
    """Signal names in words; levels as integers or "—"."""
    out = frame.copy()
    out["signal"] = [signal_label(s) for s in out["signal"]]
    if "level" in out:
        out["level"] = [fmt.NA if fmt.is_missing(v) else str(int(v)) for v in out["level"]]
    if "alert" in out:
        out["alert"] = ["yes" if bool(v) else "no" for v in out["alert"]]
    return out


def build_report(result: MonitoringResult, *, title: str = "Model monitoring") -> HtmlReport:
    """An :class:`~statcoder.report.HtmlReport` for ``result`` (call ``.write(path)`` on it)."""
    ref = result.reference
    parts = [f"model {ref['model_version']}" if ref.get("model_version") else "",
             str(ref.get("classification") or ""), f"{len(result.periods):,} periods"]
    report = HtmlReport(title, subtitle=" · ".join(p for p in parts if p))
    summary = result.summary()
    last = summary[-1] if summary else {}
    report.section("Overview")
    overlap = ref.get("training_overlap") or {}
    if overlap.get("warning"):
        report.add_text(f"Warning: {overlap['warning']}; the reference should be labelled held-out records, so "
                        "that drift and accuracy are measured against what the model does on unseen data.",
                        css_class="flag")
    report.add_kpis([
        ("periods", f"{len(result.periods):,}"),
        ("alerts", f"{len(result.alerts):,}"),
        ("reference accuracy (auto records)", _fmt(ref.get("auto_accuracy"))),
        (f"estimated accuracy, last period ({result.policy.estimator})", _fmt(last.get("estimated_accuracy"))),
        ("audited accuracy, last period", _fmt(last.get("audit_accuracy"))),
    ])
    periods_with_alerts = sorted({a.period for a in result.alerts}, key=result.periods.index)
    if periods_with_alerts:
        report.add_text(f"Alerts in {len(periods_with_alerts)} of {len(result.periods)} periods "
                        f"(first: {periods_with_alerts[0]}).", css_class="flag")
    else:
        report.add_text("No alert: no signal changed both significantly and beyond its tolerance.", css_class="ok")
    table = pd.DataFrame(summary)
    if not table.empty:
        table = table[["period", "n_records", "estimated_accuracy", "estimated_accuracy_lower",
                       "estimated_accuracy_upper", "estimated_auto_accuracy", "n_audited", "audit_accuracy",
                       "n_alerts"]].rename(columns={
            "n_records": "records", "estimated_accuracy": f"estimated ({result.policy.estimator})",
            "estimated_accuracy_lower": "lower", "estimated_accuracy_upper": "upper",
            "estimated_auto_accuracy": "estimated (auto)", "n_audited": "audited",
            "audit_accuracy": "audited accuracy", "n_alerts": "alerts"})
    report.add_table(table, caption="Per period (accuracy at the deepest level; 'auto' = auto-coded records)",
                     formats={"records": "int", "audited": "int", "alerts": "int"})
    if any(p["n_records"] and fmt.is_missing(p.get("estimated_auto_accuracy")) for p in summary):
        report.add_text("A period without auto-coded records has no accuracy of auto codes (shown as —).",
                        css_class="note")

    report.section("Alerts")
    if result.alerts:
        for cause, alerts in group_alerts(result.alerts).items():
            report.add_heading(f"{cause}: {len(alerts):,} alert{'s' if len(alerts) != 1 else ''}")
            report.add_text(advice_for(cause))
            table = pd.DataFrame([{
                "period": a.period, "what happened": describe_alert(a), "severity": a.severity,
                "since": a.since, "q_value": a.q_value} for a in alerts])
            report.add_table(table, formats={"period": "text", "since": "text"})
        report.add_text("Alerts are significant after multiple-testing control and beyond the tolerance; "
                        "'since' is the first period of the uninterrupted run beyond tolerance.", css_class="note")
    else:
        report.add_text("No alerts.")
    report.add_text(f"Multiple-testing control: {'Benjamini-Hochberg' if result.policy.method == 'bh' else 'Holm'} "
                    f"at q = {result.policy.q} across the alertable signals of each period.", css_class="note")

    report.section("Accuracy")
    report.add_figure(result.plot("accuracy"), alt="Estimated accuracy per period for each label-free "
                      "estimator with the main estimator's 95% interval, realised and audited accuracy where known.")
    deepest = int(result.frame["level"].max()) if result.frame["level"].notna().any() else None
    for level in [deepest, None]:
        wide = result.estimates(level=level).reset_index()
        wide = wide.rename(columns={c: signal_label(c) for c in wide.columns if c != "period"})
        if level is None and len(wide.columns) <= 1:  # no auto-coded record in any period: say so per period
            wide["accuracy of auto-coded records"] = "no automatically coded records"
            report.add_text("No record was coded automatically in these periods, so there is no accuracy of "
                            "auto-coded records to estimate or audit.", css_class="note")
        report.add_table(wide, caption="Accuracy of auto-coded records" if level is None
                         else f"Accuracy at level {level}", formats={"period": "text"})
    report.add_heading("Assumptions of the label-free estimates")
    for text in ASSUMPTIONS:
        report.add_text(text, css_class="note")

    f = result.to_frame()
    report.section("Input drift")
    report.add_figure(result.plot("input_drift"), alt="Each input drift signal's size (text length, unseen-token "
                      "share, domain classifier, auxiliary columns) divided by its tolerance per period; values "
                      "above 1 exceed the tolerance.")
    inputs = f[f["signal"].isin(["text_length", "oov_share", "domain_auc"]) | f["signal"].str.startswith("column:")]
    report.add_table(_signals(inputs[["period", "signal", "value", "reference", "size", "p_value", "q_value", "alert"]]),
                     caption="Input signals", formats={"period": "text"})
    report.add_heading("Newest frequent tokens (last periods)")
    report.add_text(f"Unseen = not in the vocabulary ({ref.get('vocabulary_source', '')}). Only tokens "
                    "found in at least 5 records are listed.", css_class="note")
    for period in result.periods[-3:]:
        tokens = pd.DataFrame(result.tokens.get(period, []))
        if not tokens.empty:
            report.add_table(tokens, caption=f"Period {period}")

    report.section("Output drift")
    report.add_figure(result.plot("output_drift"), alt="Each output drift signal's size (predicted-code mix per "
                      "level, confidence, decision shares) divided by its tolerance per period; values above 1 "
                      "exceed the tolerance.")
    report.add_figure(result.plot("decisions"), alt="Shares of auto, partial and review decisions per period "
                      "with 3-sigma control limits around the reference shares.")
    outputs = f[f["signal"].isin(["code_psi", "code_js", "confidence_ks"]) | f["signal"].str.startswith("share_")]
    report.add_table(_signals(outputs[["period", "signal", "level", "value", "reference", "size", "p_value",
                                       "q_value", "alert"]]),
                     caption="Predicted codes, confidence and decisions", formats={"period": "text"})

    if (f["signal"] == "audit_cusum").any():
        report.section("Audit")
        report.add_figure(result.plot("audit"), alt="CUSUM of audit errors at the end of each period.")
        audit = f[f["signal"].isin(["audit_accuracy", "audit_cusum"]) | f["signal"].str.startswith("gap_")]
        audit = _signals(audit[["period", "signal", "value", "lower", "upper", "reference", "size", "n",
                                "p_value", "alert", "since"]])
        for col in ("lower", "upper"):  # limits of a share stay in [0, 1]
            audit[col] = [v if fmt.is_missing(v) else fmt.clip_share(v) for v in audit[col]]
        report.add_table(audit, caption="Audit accuracy, CUSUM and estimate gaps",
                         formats={"period": "text", "since": "text", "n": "int"})
    return report

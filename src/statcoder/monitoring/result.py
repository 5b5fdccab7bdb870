"""The result of a monitoring run: signal rows, alerts, new tokens; JSON in and out; charts.

``to_dict()`` is plain JSON (the form stored by the service and written by ``--json``):
``{"periods": [...], "alerts": [...], "signals": [...], "new_tokens": {...},
"reference": {...}, "settings": {...}, "policy": {...}}``; ``from_dict`` restores an equal result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from statcoder.monitoring.alerts import Alert, AlertPolicy, evaluate_alerts

__all__ = ["MonitoringResult"]

FRAME_COLUMNS = ["period", "signal", "level", "value", "reference", "size", "lower", "upper", "p_value",
                 "q_value", "tolerance", "testable", "alertable", "significant", "exceeds", "alert",
                 "since", "n", "change_start"]
SCHEMA_VERSION = 1


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if value is pd.NA:
        return None
    return value


@dataclass
class MonitoringResult:
    """Signals per period, alerts and the context needed to read them.

    ``frame`` has one row per period x signal x level (see :meth:`to_frame`); ``alerts`` the
    alerts in period order; ``tokens`` the newest frequent tokens per period.
    """

    periods: list[str]
    frame: pd.DataFrame
    alerts: list[Alert]
    policy: AlertPolicy
    sizes: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, frame: pd.DataFrame, *, periods: list[str], sizes: dict[str, int],
              tokens: dict[str, list[dict[str, Any]]], policy: AlertPolicy, reference: dict[str, Any],
              settings: dict[str, Any]) -> MonitoringResult:
        """Apply ``policy`` to the raw signal rows and assemble the result."""
        extra = {p: ", ".join(t["token"] for t in tokens.get(p, [])[:5]) for p in periods}
        evaluated, alerts = evaluate_alerts(frame, policy, periods=periods, advice_extra=extra)
        return cls(periods, evaluated[FRAME_COLUMNS].reset_index(drop=True), alerts, policy, sizes,
                   tokens, reference, settings)

    def with_policy(self, policy: AlertPolicy) -> MonitoringResult:
        """The same signals judged by another alert policy (tolerances, q, estimator)."""
        raw = self.frame[[c for c in FRAME_COLUMNS if c not in (
            "q_value", "tolerance", "alertable", "significant", "exceeds", "alert", "since")]]
        return MonitoringResult.build(raw, periods=self.periods, sizes=self.sizes, tokens=self.tokens,
                                      policy=policy, reference=self.reference, settings=self.settings)

    # ---- views -------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per period x signal x level.

        Columns: period; signal; level (classification level, <NA> when the signal has none);
        value (the statistic: share, AUC, PSI, accuracy...); reference (its reference value or
        null expectation); size (deterioration, in the signal's units); lower/upper (interval of
        value, or control limits); p_value (for "no change"); q_value (adjusted across the
        period's alertable signals); tolerance; testable/alertable/significant/exceeds/alert
        (booleans); since (first period of the run beyond tolerance); n (records used);
        change_start (CUSUM only).
        """
        return self.frame.copy()

    def estimates(self, *, level: int | None = None) -> pd.DataFrame:
        """Accuracy estimates and realised/audit accuracy as a wide table (periods x estimator).

        ``level=None`` gives the accuracy of auto-coded records (what the audit measures).
        """
        f = self.frame
        if level is None:
            rows = f[f["signal"].str.startswith("auto_accuracy_") | (f["signal"] == "audit_accuracy")]
        else:
            rows = f[f["signal"].str.startswith("accuracy_") & (f["level"] == level)]
        wide = rows.pivot_table(index="period", columns="signal", values="value", sort=False)
        return wide.reindex(self.periods)

    def summary(self) -> list[dict[str, Any]]:
        """Per period: records, audited records, main estimate and its interval, audit accuracy, alerts."""
        est = self.policy.estimator
        f = self.frame
        out = []
        deepest = int(f["level"].max()) if f["level"].notna().any() else None
        for period in self.periods:
            rows = f[f["period"] == period]

            def pick(signal: str, level: int | None = None, rows: pd.DataFrame = rows) -> pd.Series | None:
                r = rows[(rows["signal"] == signal) & (rows["level"].isna() if level is None else rows["level"] == level)]
                return None if r.empty else r.iloc[0]

            main = pick(f"accuracy_{est}", deepest)
            auto = pick(f"auto_accuracy_{est}")
            audit = pick("audit_accuracy")
            n_alerts = sum(a.period == period for a in self.alerts)
            out.append(_clean({
                "period": period,
                "n_records": self.sizes.get(period, 0),
                "estimator": est,
                "estimated_accuracy": None if main is None else main["value"],
                "estimated_accuracy_lower": None if main is None else main["lower"],
                "estimated_accuracy_upper": None if main is None else main["upper"],
                "estimated_auto_accuracy": None if auto is None else auto["value"],
                "n_audited": 0 if audit is None else int(audit["n"]),
                "audit_accuracy": None if audit is None else audit["value"],
                "audit_accuracy_lower": None if audit is None else audit["lower"],
                "audit_accuracy_upper": None if audit is None else audit["upper"],
                "n_alerts": n_alerts,
                "status": "alert" if n_alerts else "ok",
            }))
        return out

    # ---- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: periods, alerts, signals, new tokens, reference, settings, policy."""
        return _clean({
            "schema_version": SCHEMA_VERSION,
            "periods": self.summary(),
            "alerts": [a.to_dict() for a in self.alerts],
            "signals": self.frame.astype(object).where(self.frame.notna(), None).to_dict(orient="records"),
            "new_tokens": self.tokens,
            "reference": self.reference,
            "settings": self.settings,
            "policy": self.policy.to_dict(),
            "period_order": self.periods,
            "sizes": self.sizes,
        })

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitoringResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. read back from the service's store)."""
        frame = pd.DataFrame(data.get("signals", []), columns=FRAME_COLUMNS)
        for column in ("value", "reference", "size", "lower", "upper", "p_value", "q_value", "tolerance"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        for column in ("testable", "alertable", "significant", "exceeds", "alert"):
            frame[column] = frame[column].fillna(False).astype(bool)
        frame["level"] = pd.array(frame["level"].tolist(), dtype="Int64")
        frame["n"] = pd.to_numeric(frame["n"]).fillna(0).astype(int)
        for column in ("period", "signal", "since", "change_start"):
            frame[column] = frame[column].fillna("").astype(str)
        policy = AlertPolicy(**data.get("policy", {}))
        return cls(
            periods=[str(p) for p in data.get("period_order", [p["period"] for p in data.get("periods", [])])],
            frame=frame, alerts=[Alert.from_dict(a) for a in data.get("alerts", [])], policy=policy,
            sizes={str(k): int(v) for k, v in data.get("sizes", {}).items()},
            tokens=data.get("new_tokens", {}), reference=data.get("reference", {}),
            settings=data.get("settings", {}),
        )

    @classmethod
    def from_json(cls, text: str) -> MonitoringResult:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    # ---- charts ------------------------------------------------------------------------------
    def plot(self, kind: str = "overview") -> Any:
        """A matplotlib Figure: "overview" (accuracy, drift, decisions, audit), or one part:
        "accuracy", "drift" (input and output panels), "input_drift", "output_drift", "decisions", "audit"."""
        from statcoder.monitoring.charts import plot_result

        return plot_result(self, kind)

    def write_report(self, path: Any, *, title: str = "Model monitoring") -> Any:
        """Write the HTML report (see :mod:`statcoder.monitoring.report`); returns the path."""
        from statcoder.monitoring.report import build_report

        return build_report(self, title=title).write(path)

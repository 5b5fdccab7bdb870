"""Alerts: a change must be statistically significant AND larger than the project's tolerance.

Every period yields one row per signal (see :mod:`statcoder.monitoring.monitor`). Within a
period, the p-values of the alertable signals form one family; Benjamini-Hochberg (default)
or Holm controls the error rate across them. A row becomes an alert when its adjusted
p-value is at most ``q`` and its size exceeds the signal's tolerance (sizes are oriented so
that a positive size is a deterioration, except decision shares, where both directions count).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from statcoder.errors import ConfigurationError
from statcoder.monitoring.stats import benjamini_hochberg, holm

__all__ = ["Alert", "AlertPolicy", "check_tolerance_names", "evaluate_alerts", "signal_family"]

#: default tolerance per signal family (units of the row's ``size``)
DEFAULT_TOLERANCES: dict[str, float] = {
    "accuracy": 0.03,  # accuracy drop, proportion (3 points)
    "audit": 0.03,  # audited accuracy drop; also the CUSUM's out-of-control shift
    "gap": 0.03,  # (estimated - audited accuracy) minus the same gap on the reference
    "text_length": 0.10,  # KS D
    "confidence_ks": 0.10,  # KS D
    "oov_share": 0.05,  # rise in the share of unseen tokens
    "domain_auc": 0.10,  # AUC above 0.5
    "code_psi": 0.10,  # PSI beyond what sampling noise explains
    "column": 0.10,  # PSI
    "decision_share": 0.05,  # change of the auto / partial / review share
}

ADVICE: dict[str, str] = {
    "accuracy": "Estimated accuracy fell: draw a larger audit sample to confirm, then retrain "
    "with recently coded records; meanwhile consider raising the thresholds so fewer records are auto-coded.",
    "audit": "Audited accuracy of auto-coded records fell: check whether coding instructions or "
    "the classification changed (concept drift), retrain on recent audited and reviewed records, "
    "and re-derive the thresholds; label-free estimates cannot see this kind of change.",
    "gap": "The label-free estimate is above the audited accuracy and the gap grows: the "
    "relation between texts and codes changed (concept drift); trust the audit, retrain on recent "
    "audited and reviewed records, and check coding instructions and classification changes.",
    "text_length": "Answers have a different length: check the questionnaire and the capture "
    "(new question wording, new mode, truncation).",
    "oov_share": "Many words the model never saw: review the new frequent tokens, add examples "
    "with them to the training data (or the coding index) and retrain.",
    "domain_auc": "New texts are distinguishable from the reference: review the new frequent "
    "tokens, check the questionnaire and the data capture, and retrain if accuracy also falls.",
    "code_psi": "The mix of predicted codes moved: check whether the population really changed "
    "or the inputs did; compare with the accuracy estimates before publishing.",
    "column": "An auxiliary variable changed its distribution: check the sample and the capture "
    "of that variable; subgroup accuracy may change with it.",
    "confidence_ks": "The model is less (or more) sure than on the reference: compare with the "
    "accuracy estimates and the review share; retrain if accuracy falls.",
    "decision_share": "The share of auto / partial / review decisions moved: plan coder capacity "
    "and check the thresholds; if accuracy also falls, retrain.",
}


_ESTIMATOR_NAMES = ("average_confidence", "cbpe", "atc", "label_shift")
#: signal names a tolerance may also be given for (besides a family of DEFAULT_TOLERANCES or ``column:<name>``)
TOLERANCE_SIGNALS: tuple[str, ...] = (
    *(f"{prefix}_{name}" for prefix in ("accuracy", "auto_accuracy", "gap") for name in _ESTIMATOR_NAMES),
    "accuracy_realised", "auto_accuracy_realised", "audit_accuracy", "audit_cusum",
    "share_auto", "share_partial", "share_review",
)


def check_tolerance_names(names: list[str] | tuple[str, ...] | dict[str, float], *,
                          where: str = "tolerances (CLI: --tolerance)") -> None:
    """Raise ConfigurationError naming the valid ones when a tolerance name is not a signal or family.

    A misspelt name (``acurracy``) would otherwise be stored and never used, so the default
    tolerance would apply without the user knowing.
    """
    unknown = [n for n in names if n not in DEFAULT_TOLERANCES and n not in TOLERANCE_SIGNALS
               and not (n.startswith("column:") and len(n) > len("column:"))]
    if unknown:
        raise ConfigurationError(
            f"unknown tolerance name(s): {', '.join(map(repr, unknown))}", where=where,
            hint=f"use a signal family: {', '.join(DEFAULT_TOLERANCES)}; or one signal, e.g. accuracy_cbpe, "
                 "share_review or column:<name>",
        )


def signal_family(signal: str) -> str:
    """Family of a signal name (its tolerance and advice key), e.g. 'accuracy_atc' -> 'accuracy'."""
    if signal.startswith(("accuracy_", "auto_accuracy_")):
        return "accuracy"
    if signal.startswith("audit_"):
        return "audit"
    if signal.startswith("gap_"):
        return "gap"
    if signal.startswith("share_"):
        return "decision_share"
    if signal.startswith("column:"):
        return "column"
    return signal


@dataclass
class AlertPolicy:
    """What counts as an alert: tolerances per signal family, error rate and procedure.

    ``estimator`` is the label-free estimator whose accuracy and gap rows are alertable (the
    others are reported only): "cbpe" (default), "atc", "average_confidence" or "label_shift". ``method`` is "bh" (Benjamini-Hochberg, false discovery rate ``q``; under no
    change at all it also bounds the chance of any false alert per period by ``q``) or "holm"
    (family-wise error rate ``q``).
    """

    tolerances: dict[str, float] = field(default_factory=dict)
    q: float = 0.05
    method: str = "bh"
    estimator: str = "cbpe"

    def tolerance(self, signal: str) -> float:
        """Tolerance for a signal (project value, else the default for its family)."""
        if signal in self.tolerances:
            return float(self.tolerances[signal])
        family = signal_family(signal)
        return float(self.tolerances.get(family, DEFAULT_TOLERANCES.get(family, np.inf)))

    def validate(self) -> AlertPolicy:
        """Raise ConfigurationError on impossible settings; returns self."""
        if self.method not in ("bh", "holm"):
            raise ConfigurationError(f"unknown multiple-testing method {self.method!r}",
                                     hint="use 'bh' (Benjamini-Hochberg) or 'holm'")
        if not 0 < self.q < 1:
            raise ConfigurationError(f"error rate q={self.q} must be between 0 and 1", hint="e.g. 0.05")
        check_tolerance_names(self.tolerances)
        bad = {k: v for k, v in self.tolerances.items() if not (v >= 0)}
        if bad:
            raise ConfigurationError(f"tolerances must be >= 0: {bad}", hint="e.g. accuracy=0.03")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the policy."""
        return asdict(self)


@dataclass(frozen=True)
class Alert:
    """One alert: which signal, at which classification level, how big, since when, what to do."""

    period: str
    signal: str
    level: int | None  # classification level (1 = top), None for signals without a level
    size: float  # in the signal's units (see MonitoringResult.to_frame, column "size")
    since: str  # first period of the uninterrupted run beyond tolerance
    advice: str
    severity: str  # "warning" (size > tolerance) or "critical" (size > 2 x tolerance)
    value: float
    reference: float
    tolerance: float
    p_value: float
    q_value: float

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (NaN -> None)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and np.isnan(value):
                out[key] = None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        """Inverse of :meth:`to_dict`."""
        values = {k: data.get(k) for k in cls.__dataclass_fields__}
        for key in ("size", "value", "reference", "tolerance", "p_value", "q_value"):
            values[key] = float("nan") if values[key] is None else float(values[key])
        return cls(**values)


def _primary(signal: str, estimator: str) -> bool:
    """Estimator-specific rows are alertable only for the policy's estimator."""
    if signal_family(signal) in ("accuracy", "gap"):
        return signal in (f"accuracy_{estimator}", f"auto_accuracy_{estimator}", f"gap_{estimator}")
    return True


def _exceeds(signal: str, size: float, tolerance: float) -> bool:
    if np.isnan(size):
        return False
    if signal_family(signal) == "decision_share":
        return abs(size) > tolerance
    return size > tolerance


def evaluate_alerts(
    frame: pd.DataFrame, policy: AlertPolicy, *, periods: list[str], advice_extra: dict[str, str] | None = None
) -> tuple[pd.DataFrame, list[Alert]]:
    """Apply the policy to a signal frame (one row per period x signal x level).

    Fills the columns tolerance, alertable, q_value, significant, exceeds, alert and since, and
    returns (the frame, the alerts in period order). ``periods`` gives the time order;
    ``advice_extra`` maps a period to extra advice for text signals (its new frequent tokens).
    """
    policy.validate()
    frame = frame.copy()
    frame["tolerance"] = [policy.tolerance(s) for s in frame["signal"]]
    est = policy.estimator
    frame["alertable"] = [
        bool(testable) and _primary(s, est)
        for s, testable in zip(frame["signal"], frame["testable"], strict=True)
    ]
    frame["q_value"] = np.nan
    frame["significant"] = False
    for index in frame.groupby("period", sort=False).groups.values():
        rows = frame.loc[index]
        rows = rows[rows["alertable"] & rows["p_value"].notna()]
        if rows.empty:
            continue
        adjust = benjamini_hochberg if policy.method == "bh" else holm
        adjusted, rejected = adjust(rows["p_value"].to_numpy(float), **({"q": policy.q} if policy.method == "bh" else {"alpha": policy.q}))
        frame.loc[rows.index, "q_value"] = adjusted
        frame.loc[rows.index, "significant"] = rejected
    frame["exceeds"] = [
        _exceeds(s, float(z), float(t)) for s, z, t in zip(frame["signal"], frame["size"], frame["tolerance"], strict=True)
    ]
    frame["alert"] = frame["alertable"] & frame["significant"] & frame["exceeds"]
    frame["since"] = _since(frame, periods)
    alerts = []
    order = {p: i for i, p in enumerate(periods)}
    for row in sorted(frame[frame["alert"]].itertuples(index=False), key=lambda r: order[r.period]):
        family = signal_family(row.signal)
        advice = ADVICE.get(family, "")
        extra = (advice_extra or {}).get(row.period, "")
        if extra and family in ("oov_share", "domain_auc", "text_length"):
            advice = f"{advice} New frequent tokens: {extra}."
        level = None if pd.isna(row.level) else int(row.level)
        alerts.append(Alert(
            period=row.period, signal=row.signal, level=level, size=float(row.size), since=row.since,
            advice=advice, severity="critical" if abs(row.size) > 2 * row.tolerance else "warning",
            value=float(row.value), reference=float(row.reference), tolerance=float(row.tolerance),
            p_value=float(row.p_value), q_value=float(row.q_value),
        ))
    return frame, alerts


def _since(frame: pd.DataFrame, periods: list[str]) -> list[str]:
    """First period of the uninterrupted run of periods where the row's signal exceeds tolerance."""
    since = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    order = {p: i for i, p in enumerate(periods)}
    level_key = frame["level"].astype("Int64").astype(str)
    for _, group in frame.groupby([frame["signal"], level_key], sort=False, dropna=False):
        start = None
        for idx in sorted(group.index, key=lambda i: order[frame.at[i, "period"]]):
            if "change_start" in frame.columns and isinstance(frame.at[idx, "change_start"], str) \
                    and frame.at[idx, "change_start"]:
                since[idx] = frame.at[idx, "change_start"]
                continue
            if frame.at[idx, "exceeds"]:
                start = start or frame.at[idx, "period"]
                since[idx] = start
            else:
                start = None
    return since.tolist()

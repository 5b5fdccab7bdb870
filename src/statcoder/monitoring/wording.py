"""Words for monitoring results: signal names, alert causes with advice, alert direction.

Used by the HTML report and the ``statcoder monitor`` summary so both say the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from statcoder.monitoring.alerts import signal_family

if TYPE_CHECKING:
    from statcoder.monitoring.alerts import Alert

__all__ = ["CAUSES", "cause_of", "describe_alert", "group_alerts", "signal_label"]

_ESTIMATORS = {"average_confidence": "average confidence", "cbpe": "CBPE", "atc": "ATC",
               "label_shift": "label-shift reweighting", "realised": "realised (labels)"}

_LABELS = {
    "text_length": "text length (KS distance)",
    "oov_share": "share of unseen tokens",
    "domain_auc": "new-vs-reference texts (domain classifier AUC)",
    "code_psi": "predicted-code mix (PSI)",
    "code_js": "predicted-code mix (Jensen-Shannon)",
    "confidence_ks": "confidence (KS distance)",
    "share_auto": "share coded auto",
    "share_partial": "share coded partial",
    "share_review": "share sent to review",
    "audit_accuracy": "audited accuracy",
    "audit_cusum": "CUSUM of audit errors",
}

#: cause -> (signal families, one line of advice)
CAUSES: dict[str, tuple[tuple[str, ...], str]] = {
    "Input drift": (
        ("text_length", "oov_share", "domain_auc", "column"),
        (
            "The texts changed: look at the new frequent tokens and the questionnaire or capture; "
            "add examples of the new wording to the training data and retrain if accuracy also falls."
        ),
    ),
    "Output drift": (
        ("code_psi", "confidence_ks", "decision_share"),
        (
            "What the model outputs changed: check whether the population really changed; plan coder "
            "capacity for the review share and compare with the accuracy estimates before publishing."
        ),
    ),
    "Estimated accuracy": (
        ("accuracy",),
        (
            "Label-free estimates say accuracy fell: confirm with a larger audit sample, then retrain on "
            "recent coded records; meanwhile raise the thresholds so fewer records are auto-coded."
        ),
    ),
    "Audit": (
        ("audit", "gap"),
        (
            "Coders disagree with more auto codes than before: trust the audit over the estimates; check "
            "coding instructions and classification changes, retrain on recent audited records."
        ),
    ),
}


def signal_label(signal: str) -> str:
    """A signal name in words: ``accuracy_cbpe`` -> ``estimated accuracy (CBPE)``."""
    if signal in _LABELS:
        return _LABELS[signal]
    if signal.startswith("column:"):
        return f"column {signal[len('column:'):]} (PSI)"
    for prefix, words in (("auto_accuracy_", "accuracy of auto codes"), ("accuracy_", "accuracy"),
                          ("gap_", "estimated minus audited accuracy")):
        if signal.startswith(prefix):
            name = signal[len(prefix):]
            kind = "" if prefix == "gap_" else ("" if name == "realised" else "estimated ")
            return f"{kind}{words} ({_ESTIMATORS.get(name, name)})"
    return signal.replace("_", " ")


def cause_of(signal: str) -> str:
    """The cause group of a signal (one of :data:`CAUSES`), by its family."""
    family = signal_family(signal)
    for cause, (families, _advice) in CAUSES.items():
        if family in families:
            return cause
    return "Other"


def _points(x: float) -> str:
    return f"{abs(100 * x):.1f} points"


def describe_alert(alert: Alert) -> str:
    """What happened, with its direction in words, e.g. "estimated accuracy (CBPE) fell by 4.1
    points (from 91.2 % to 87.1 %)"."""
    label = signal_label(alert.signal)
    if alert.level is not None:
        label = f"{label} at level {alert.level}"
    value, ref, size = alert.value, alert.reference, alert.size
    known = not (math.isnan(value) or math.isnan(ref))
    span = f" (from {100 * ref:.1f} % to {100 * value:.1f} %)" if known else ""
    family = signal_family(alert.signal)
    if alert.signal == "audit_cusum":
        return f"{label} crossed its control limit (audit errors accumulate faster than on the reference)"
    if family in ("accuracy", "audit"):
        return f"{label} {'fell' if size > 0 else 'rose'} by {_points(size)}{span}"
    if family == "gap":
        return f"{label} {'grew' if size > 0 else 'shrank'} by {_points(size)} beyond the reference gap"
    if family in ("decision_share", "oov_share") or alert.signal == "oov_share":
        direction = "rose" if (value > ref if known else size > 0) else "fell"
        return f"{label} {direction} by {_points(value - ref if known else size)}{span}"
    if alert.signal == "domain_auc":
        return f"{label}: AUC {value:.2f}, new texts can be told apart from the reference"
    return f"{label} moved by {abs(size):.3f} (tolerance {alert.tolerance:g})"


def group_alerts(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    """Alerts by cause, in the order of :data:`CAUSES` (then "Other"); empty groups left out."""
    groups: dict[str, list[Alert]] = {name: [] for name in [*CAUSES, "Other"]}
    for alert in alerts:
        groups[cause_of(alert.signal)].append(alert)
    return {k: v for k, v in groups.items() if v}


def advice_for(cause: str) -> str:
    """The one line of advice of a cause group."""
    return CAUSES.get(cause, ((), "Look at the signal's table below."))[1]

"""Time-series charts of a monitoring result (matplotlib, Agg backend)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from statcoder.monitoring.result import MonitoringResult

__all__ = ["plot_result"]

_LABELS = {"average_confidence": "average confidence", "cbpe": "CBPE", "atc": "ATC",
           "label_shift": "label-shift reweighting", "realised": "realised (labels)"}


def _series(frame: pd.DataFrame, periods: list[str], signal: str, level: int | None, column: str = "value") -> np.ndarray:
    rows = frame[(frame["signal"] == signal) & (frame["level"].isna() if level is None else frame["level"] == level)]
    values = rows.set_index("period")[column]
    return np.array([values.get(p, np.nan) for p in periods], dtype=float)


def _alert_marks(ax: Any, result: MonitoringResult, x: np.ndarray, signals: set[str]) -> None:
    periods = [a.period for a in result.alerts if a.signal in signals]
    for i, p in enumerate(result.periods):
        if p in periods:
            ax.axvline(x[i], color="#b00020", alpha=0.15, linewidth=8)


def plot_accuracy(ax: Any, result: MonitoringResult, level: int | None) -> None:
    """Estimated (with the main estimator's interval), realised and audited accuracy over periods."""
    f, periods = result.frame, result.periods
    x = np.arange(len(periods))
    prefix = "accuracy_" if level is not None else "auto_accuracy_"
    names = sorted({s[len(prefix):] for s in f["signal"] if s.startswith(prefix)})
    for name in names:
        y = _series(f, periods, prefix + name, level)
        if np.all(np.isnan(y)):
            continue
        style = "-" if name == result.policy.estimator else "--"
        color = "black" if name == "realised" else None
        ax.plot(x, y, style, marker="o", markersize=3, label=_LABELS.get(name, name), color=color)
        if name == result.policy.estimator:
            lo = _series(f, periods, prefix + name, level, "lower")
            hi = _series(f, periods, prefix + name, level, "upper")
            ax.fill_between(x, lo, hi, alpha=0.2)
            ref = _series(f, periods, prefix + name, level, "reference")
            ax.axhline(np.nanmean(ref), color="grey", linewidth=1, linestyle=":", label="reference")
    if level is None and (f["signal"] == "audit_accuracy").any():
        y = _series(f, periods, "audit_accuracy", None)
        lo, hi = _series(f, periods, "audit_accuracy", None, "lower"), _series(f, periods, "audit_accuracy", None, "upper")
        # bars never negative: limits are clipped to [0, 1] and to either side of the point
        below = np.clip(y - np.clip(lo, 0.0, 1.0), 0.0, None)
        above = np.clip(np.clip(hi, 0.0, 1.0) - y, 0.0, None)
        ax.errorbar(x, y, yerr=[below, above], fmt="s", color="#b00020", capsize=3, label="audit (95% CI)")
    _alert_marks(ax, result, x, {s for s in f["signal"] if s.startswith((prefix, "audit_", "gap_"))})
    title = f"Accuracy at level {level}" if level is not None else "Accuracy of auto-coded records"
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("accuracy")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower left")
    else:  # e.g. no period has auto-coded records
        ax.text(0.5, 0.5, "no estimate: no auto-coded records", ha="center", va="center", transform=ax.transAxes)


#: input signals (what comes in: the texts and auxiliary columns); the other drift signals are outputs
INPUT_SIGNALS = ("text_length", "oov_share", "domain_auc")


def is_input_signal(signal: str) -> bool:
    """True for a signal about the input (texts, auxiliary columns), False for one about the model's output."""
    return signal in INPUT_SIGNALS or signal.startswith("column:")


def plot_drift(ax: Any, result: MonitoringResult, side: str = "input") -> None:
    """Size of each alertable ``side`` ("input" or "output") drift signal divided by its tolerance.

    Input: text length, unseen-token share, domain classifier, auxiliary columns. Output:
    predicted-code mix per level, confidence and decision shares. Legends use the signal labels.
    """
    from statcoder.monitoring.wording import signal_label

    f, periods = result.frame, result.periods
    x = np.arange(len(periods))
    drift = f[f["alertable"] & ~f["signal"].str.startswith(("accuracy_", "auto_accuracy_", "audit_", "gap_"))]
    drift = drift[drift["signal"].map(is_input_signal) == (side == "input")]
    levels = drift["level"].astype("Int64").astype(object).fillna("")
    for (signal, level), rows in drift.groupby([drift["signal"], levels], sort=False):
        ratio = (rows["size"].abs() / rows["tolerance"]).to_numpy(float)
        values = dict(zip(rows["period"], ratio, strict=True))
        y = np.array([values.get(p, np.nan) for p in periods])
        label = signal_label(signal) if level == "" else f"{signal_label(signal)}, level {level}"
        ax.plot(x, y, marker=".", linewidth=1, label=label)
    ax.axhline(1.0, color="#b00020", linestyle="--", linewidth=1, label="tolerance")
    what = ("Input drift: texts and auxiliary columns" if side == "input"
            else "Output drift: predicted codes, confidence, decisions")
    ax.set_title(f"{what} (size / tolerance)", fontsize=10)
    ax.legend(fontsize=6, ncol=2, loc="upper left")


def plot_decisions(ax: Any, result: MonitoringResult) -> None:
    """Control chart of the auto / partial / review shares with 3-sigma limits around the reference."""
    f, periods = result.frame, result.periods
    x = np.arange(len(periods))
    for decision, color in (("auto", "#1b7f3b"), ("partial", "#e0b000"), ("review", "#1f3b5a")):
        signal = f"share_{decision}"
        y = _series(f, periods, signal, None)
        ax.plot(x, y, marker="o", markersize=3, color=color, label=decision)
        ax.plot(x, _series(f, periods, signal, None, "lower"), color=color, linestyle=":", linewidth=1)
        ax.plot(x, _series(f, periods, signal, None, "upper"), color=color, linestyle=":", linewidth=1)
        ax.axhline(np.nanmean(_series(f, periods, signal, None, "reference")), color=color, linewidth=0.6)
    ax.set_title("Decision shares (dotted: 3-sigma control limits)", fontsize=10)
    ax.set_ylabel("share of records")
    ax.legend(fontsize=7)


def plot_audit(ax: Any, result: MonitoringResult) -> None:
    """The Bernoulli CUSUM of audit errors at the end of each period."""
    f, periods = result.frame, result.periods
    x = np.arange(len(periods))
    y = _series(f, periods, "audit_cusum", None)
    ax.plot(x, y, marker="o", color="#b00020")
    _alert_marks(ax, result, x, {"audit_cusum"})
    ax.set_title("CUSUM of audit errors (log-likelihood ratio)", fontsize=10)


def _axis(ax: Any, periods: list[str]) -> None:
    step = max(1, len(periods) // 12)
    ax.set_xticks(np.arange(len(periods))[::step])
    ax.set_xticklabels(periods[::step], rotation=45, fontsize=7, ha="right")
    ax.grid(alpha=0.3)


def plot_result(result: MonitoringResult, kind: str = "overview") -> Any:
    """Figure for ``kind`` in overview / accuracy / drift (input and output) / input_drift / output_drift /
    decisions / audit."""
    has_audit = (result.frame["signal"] == "audit_cusum").any()
    deepest = int(result.frame["level"].max()) if result.frame["level"].notna().any() else None
    panels = {
        "accuracy": [lambda ax: plot_accuracy(ax, result, deepest), lambda ax: plot_accuracy(ax, result, None)],
        "drift": [lambda ax: plot_drift(ax, result, "input"), lambda ax: plot_drift(ax, result, "output")],
        "input_drift": [lambda ax: plot_drift(ax, result, "input")],
        "output_drift": [lambda ax: plot_drift(ax, result, "output")],
        "decisions": [lambda ax: plot_decisions(ax, result)],
        "audit": [lambda ax: plot_audit(ax, result)] if has_audit else [],
    }
    if kind == "overview":
        chosen = panels["accuracy"] + panels["drift"] + panels["decisions"] + panels["audit"]
    elif kind in panels:
        chosen = panels[kind]
    else:
        raise ValueError(f"unknown chart {kind!r}; use overview, accuracy, drift, input_drift, output_drift, "
                         "decisions or audit")
    if not chosen:
        chosen = [lambda ax: ax.text(0.5, 0.5, "no audit data", ha="center")]
    fig, axes = plt.subplots(len(chosen), 1, figsize=(9, 3.0 * len(chosen)), squeeze=False)
    for ax, draw in zip(axes[:, 0], chosen, strict=True):
        draw(ax)
        _axis(ax, result.periods)
    fig.tight_layout()
    return fig

"""HTML reports of estimates in the project's report style (``statcoder.report.HtmlReport``).

Three builders, one per kind of result: survey estimates (tidy ``Estimates`` frames), small-area
estimates (per-area frame) and code shares corrected for coding error. Each adds headline
figures, the table and a chart with a text alternative.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from statcoder.report import HtmlReport
from statcoder.report import format as fmt

MAX_PLOTTED = 40
SHARE_COLUMNS = ("estimate", "naive", "ci_low", "ci_high", "naive_ci_low", "naive_ci_high")
FORMATS: dict[str, str | int] = {"n": "int", "n_machine": "int", "n_audit_machine": "int",
                                 "n_audit_human": "int", "cv": "pct", "direct_cv": "pct",
                                 "deff": 2, "gamma": 3, "level": "int"}
HEADERS = {"ci_low": "CI lower", "ci_high": "CI upper", "naive_ci_low": "naive CI lower",
           "naive_ci_high": "naive CI upper", "naive_se": "naive SE", "cv": "CV", "direct_cv": "direct CV",
           "deff": "design effect",
           "n_machine": "coded by machine", "n_audit_machine": "audited: machine code",
           "n_audit_human": "audited: human code"}


def _flag_counts(frame: pd.DataFrame) -> list[tuple[str, str]]:
    counts = frame["flag"].value_counts() if "flag" in frame else pd.Series(dtype=int)
    return [(f"flagged '{k}'", fmt.integer(v)) for k, v in counts.items()]


def describe_design(design: str | Mapping[str, Any]) -> str:
    """A design for a subtitle: ``{"weights": "pw", "psu": ["dnum"]}`` or the string
    ``"weights=pw, strata=None, psu=['dnum']"`` -> ``"weights pw · psu dnum"`` (no Python lists,
    no None)."""
    if isinstance(design, Mapping):
        parts = [(str(k), v) for k, v in design.items()]
    else:
        head, sep, rest = design.partition(":")
        if not sep or "=" not in rest:
            return re.sub(r"\[([^\]]*)\]", lambda m: m.group(1).replace("'", ""), design)
        parts = [(k.strip(), v.strip()) for k, _, v in (p.partition("=") for p in re.split(r",\s*(?![^\[]*\])", rest))]
        prefix = head.strip()
        return " · ".join([prefix, *_design_parts(parts)]) if prefix else " · ".join(_design_parts(parts))
    return " · ".join(_design_parts(parts))


def _design_parts(parts: list[tuple[str, Any]]) -> list[str]:
    out = []
    for key, value in parts:
        if isinstance(value, str):
            value = [v.strip().strip("'\"") for v in value.strip("[]").split(",") if v.strip()]
        elif value is None:
            value = []
        elif not isinstance(value, (list, tuple)):
            value = [value]
        value = [v for v in value if str(v) not in ("None", "")]
        if value:
            out.append(f"{key} {fmt.plain_list(value)}")
    return out


def _clip_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Interval limits of shares clipped to [0, 1] (estimates of shares are left as they are)."""
    out = frame.copy()
    for col in ("ci_low", "ci_high", "naive_ci_low", "naive_ci_high"):
        if col in out:
            out[col] = out[col].astype(float).clip(0.0, 1.0)
    return out


def _titles(frame: pd.DataFrame, classification: Any) -> pd.DataFrame:
    if classification is None or "code" not in frame or "title" in frame:
        return frame
    out = frame.copy()
    out.insert(list(out.columns).index("code") + 1, "title",
               [classification.title(str(c)) if str(c) in classification else "" for c in out["code"]])
    return out


def _interval_figure(labels: Sequence[str], est, low, high, *, xlabel: str):
    """Points at ``est`` with a line from ``low`` to ``high`` per row (drawn from the limits
    themselves, so an estimate outside its clipped interval, e.g. a corrected share below 0,
    never makes a negative error bar)."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.28 * n + 1)))
    pos = np.arange(n)[::-1]
    est, low, high = (np.asarray(a, dtype=float) for a in (est, low, high))
    drawn = ~(np.isnan(low) | np.isnan(high))
    ax.hlines(pos[drawn], np.fmin(low, high)[drawn], np.fmax(low, high)[drawn],
              color="#7a8aa0", linewidth=1.2)
    ax.plot(est, pos, "o", color="#1f3b5a")
    ax.set_yticks(pos, labels)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _short(title: Any, width: int = 38) -> str:
    text = "" if fmt.is_missing(title) else str(title)
    return text if len(text) <= width else text[: width - 1] + "…"


def _row_label(frame: pd.DataFrame, skip: Sequence[str]) -> list[str]:
    keys = [c for c in frame.columns if c not in skip]
    return [
        " ".join(str(v) for v in row if not fmt.is_missing(v) and str(v) != "")
        for row in frame[keys].itertuples(index=False)
    ]


#: how the report (and docs/estimation.md) presents corrected shares below 0
NEGATIVE_SHARES_NOTE = (
    "Interval limits of shares are clipped to [0, 1]; the corrected shares themselves are the "
    "unbiased estimates and are not clipped. A corrected share below 0 (possible when the audit "
    "finds the machine over-codes a rare code) means the share is not distinguishable from 0: "
    "publish it as 0 or suppress it, do not publish a negative share. Likewise a share above 1 "
    "is not distinguishable from 1."
)

RESULT_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "cv", "deff", "n", "flag", "estimator")


def survey_report(
    frame: pd.DataFrame,
    *,
    title: str = "Survey estimates",
    design: str | Mapping[str, Any] = "",
    confidence: float = 0.95,
) -> HtmlReport:
    """Report of a tidy estimates frame (from ``Estimates.frame``): KPIs, table, interval chart.

    ``design`` is a description string or a mapping such as ``{"weights": "pw", "psu": ["dnum"]}``.
    """
    report = HtmlReport(title, subtitle=describe_design(design))
    report.section("Estimates").add_kpis([("estimates", fmt.integer(len(frame))), *_flag_counts(frame)])
    shown = frame.copy()
    if "statistic" in shown and "ci_low" in shown:
        shares = shown["statistic"].astype(str).isin(["proportion", "share"])
        for col in ("ci_low", "ci_high"):
            shown.loc[shares, col] = shown.loc[shares, col].astype(float).clip(0.0, 1.0)
    report.add_table(
        shown,
        caption=f"Estimates with {confidence:.0%} confidence intervals",
        formats=FORMATS, headers=HEADERS,
    )
    report.add_text(
        "cv = se / |estimate|; deff = design variance over the variance of a simple random sample "
        "of the same size (Kish). Flags: ok (cv <= 16.5 %), caution (<= 33.3 %), suppress (above). "
        "Intervals of proportions are clipped to [0, 1].",
        css_class="note",
    )
    shown = frame.head(MAX_PLOTTED)
    for statistic, part in shown.groupby("statistic", sort=False):
        labels = _row_label(part, (*RESULT_COLUMNS, "statistic"))
        fig = _interval_figure(
            labels, part["estimate"], part["ci_low"], part["ci_high"], xlabel=str(statistic)
        )
        report.add_figure(
            fig,
            alt=f"{statistic} estimates with {confidence:.0%} confidence intervals, "
            f"{len(part):,} rows (see the table above for the numbers)",
        )
    return report


def small_area_report(
    frame: pd.DataFrame,
    coefficients: pd.DataFrame,
    *,
    title: str = "Small-area estimates",
    method: str = "REML",
    variance: float | None = None,
) -> HtmlReport:
    """Report of Fay-Herriot results: KPIs, coefficients, per-area table, direct vs model charts."""
    report = HtmlReport(title, subtitle=f"Fay-Herriot EBLUP ({method})")
    sampled = frame["kind"] == "eblup"
    kpis = [
        ("areas", fmt.integer(len(frame))),
        ("sampled", fmt.integer(sampled.sum())),
        ("synthetic", fmt.integer((~sampled).sum())),
    ]
    if variance is not None:
        kpis.append(("random-effect variance A", fmt.number(variance, fmt.decimals_for([variance]) + 1)))
    report.section("Summary").add_kpis(kpis + _flag_counts(frame))
    report.add_table(coefficients, caption="Regression coefficients", formats={"p_value": "p"}, headers=HEADERS)
    report.section("Areas").add_table(frame, caption="Per-area estimates", formats=FORMATS, headers=HEADERS)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
    a1.scatter(frame.loc[sampled, "direct"], frame.loc[sampled, "estimate"], s=14, color="#1f3b5a")
    lims = [
        np.nanmin(frame[["direct", "estimate"]].to_numpy()),
        np.nanmax(frame[["direct", "estimate"]].to_numpy()),
    ]
    a1.plot(lims, lims, color="#b00020", lw=0.8)
    a1.set_xlabel("direct estimate")
    a1.set_ylabel("EBLUP")
    a2.scatter(frame.loc[sampled, "direct_cv"], frame.loc[sampled, "cv"], s=14, color="#1f3b5a")
    cv_max = np.nanmax(frame.loc[sampled, ["direct_cv", "cv"]].to_numpy()) if sampled.any() else 1.0
    a2.plot([0, cv_max], [0, cv_max], color="#b00020", lw=0.8)
    a2.set_xlabel("CV of the direct estimate")
    a2.set_ylabel("CV of the EBLUP")
    fig.tight_layout()
    report.section("Direct vs model").add_figure(
        fig,
        alt="Left: EBLUP against direct estimate per sampled area (shrinkage towards the model). "
        "Right: CV of the EBLUP against CV of the direct estimate (points below the line gained precision).",
    )
    return report


def coding_correction_report(
    frame: pd.DataFrame,
    *,
    title: str = "Code shares corrected for coding error",
    audit_size: int | None = None,
    classification: Any = None,
    quantity: str = "share",
    method: str = "difference",
) -> HtmlReport:
    """Report of corrected vs naive code shares (from ``corrected_shares``).

    With a ``classification`` codes carry their titles in the table and the chart. For
    ``quantity="share"`` interval limits are clipped to [0, 1].
    """
    estimator = "difference estimator" if method == "difference" else f"{method} estimator"
    report = HtmlReport(title, subtitle=f"prediction + audit correction ({estimator})")
    if quantity == "share":
        frame = _clip_shares(frame)
    frame = _titles(frame, classification)
    shift = (frame["estimate"] - frame["naive"]).abs()
    largest = fmt.pct(shift.max(), 2) if quantity == "share" else fmt.number(shift.max(), 0)
    kpis = [("codes", fmt.integer(len(frame))), ("largest naive error", largest)]
    if audit_size is not None:
        kpis.insert(1, ("audited records", fmt.integer(audit_size)))
    below = int((frame["estimate"].astype(float) < 0).sum())
    if quantity == "share" and below:
        kpis.append(("below 0 (not distinguishable from 0)", fmt.integer(below)))
    report.section("Summary").add_kpis(kpis + _flag_counts(frame))
    report.add_table(
        frame,
        caption="Naive (machine-only) and corrected estimates per code",
        formats=FORMATS, headers=HEADERS,
    )
    if quantity == "share":
        report.add_text(NEGATIVE_SHARES_NOTE, css_class="note")
    top = frame.assign(_shift=shift).sort_values("_shift", ascending=False).head(MAX_PLOTTED)
    titles = top["title"] if "title" in top else [""] * len(top)
    labels = [
        (f"L{lv} " if str(lv) else "") + f"{c} {_short(t)}".strip()
        for lv, c, t in zip(top.get("level", [""] * len(top)), top["code"], titles, strict=True)
    ]
    fig = _interval_figure(
        labels, top["estimate"], top["ci_low"], top["ci_high"], xlabel="estimate"
    )
    fig.axes[0].scatter(
        top["naive"], np.arange(len(top))[::-1], marker="x", color="#b00020", label="naive"
    )
    fig.axes[0].legend(loc="best")
    report.section("Largest corrections").add_figure(
        fig,
        alt="Corrected estimates with confidence intervals (dots) and naive machine-only "
        "estimates (crosses) for the codes with the largest corrections",
    )
    return report

"""HTML reports of estimates in the project's report style (``statcoder.report.HtmlReport``).

Three builders, one per kind of result: survey estimates (tidy ``Estimates`` frames), small-area
estimates (per-area frame) and code shares corrected for coding error. Each adds headline
figures, the table and a chart with a text alternative.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from statcoder.report import HtmlReport

MAX_PLOTTED = 40


def _flag_counts(frame: pd.DataFrame) -> list[tuple[str, str]]:
    counts = frame["flag"].value_counts() if "flag" in frame else pd.Series(dtype=int)
    return [(f"flagged '{k}'", str(int(v))) for k, v in counts.items()]


def _interval_figure(labels: Sequence[str], est, low, high, *, xlabel: str):
    n = len(labels)
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.28 * n + 1)))
    pos = np.arange(n)[::-1]
    est, low, high = (np.asarray(a, dtype=float) for a in (est, low, high))
    ax.errorbar(
        est,
        pos,
        xerr=[est - low, high - est],
        fmt="o",
        color="#1f3b5a",
        ecolor="#7a8aa0",
        capsize=2,
    )
    ax.set_yticks(pos, labels)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _row_label(frame: pd.DataFrame, skip: Sequence[str]) -> list[str]:
    keys = [c for c in frame.columns if c not in skip]
    return [
        " ".join(str(v) for v in row if str(v) not in ("", "nan"))
        for row in frame[keys].itertuples(index=False)
    ]


RESULT_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "cv", "deff", "n", "flag", "estimator")


def survey_report(
    frame: pd.DataFrame,
    *,
    title: str = "Survey estimates",
    design: str = "",
    confidence: float = 0.95,
) -> HtmlReport:
    """Report of a tidy estimates frame (from ``Estimates.frame``): KPIs, table, interval chart."""
    report = HtmlReport(title, subtitle=design)
    report.section("Estimates").add_kpis([("estimates", str(len(frame))), *_flag_counts(frame)])
    report.add_table(
        frame,
        caption=f"Estimates with {confidence:.0%} confidence intervals",
        float_format="{:.4g}",
    )
    report.add_text(
        "cv = se / |estimate|; deff = design variance over the variance of a simple random sample "
        "of the same size (Kish). Flags: ok (cv <= 16.5 %), caution (<= 33.3 %), suppress (above).",
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
            f"{len(part)} rows (see the table above for the numbers)",
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
        ("areas", str(len(frame))),
        ("sampled", str(int(sampled.sum()))),
        ("synthetic", str(int((~sampled).sum()))),
    ]
    if variance is not None:
        kpis.append(("random-effect variance A", f"{variance:.4g}"))
    report.section("Summary").add_kpis(kpis + _flag_counts(frame))
    report.add_table(coefficients, caption="Regression coefficients", float_format="{:.4g}")
    report.section("Areas").add_table(frame, caption="Per-area estimates", float_format="{:.4g}")
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
) -> HtmlReport:
    """Report of corrected vs naive code shares (from ``corrected_shares``)."""
    report = HtmlReport(title, subtitle="prediction + audit correction (difference estimator)")
    shift = (frame["estimate"] - frame["naive"]).abs()
    kpis = [("codes", str(len(frame))), ("largest naive error", f"{shift.max():.4g}")]
    if audit_size is not None:
        kpis.insert(1, ("audited records", str(audit_size)))
    report.section("Summary").add_kpis(kpis + _flag_counts(frame))
    report.add_table(
        frame,
        caption="Naive (machine-only) and corrected estimates per code",
        float_format="{:.4g}",
    )
    top = frame.assign(_shift=shift).sort_values("_shift", ascending=False).head(MAX_PLOTTED)
    labels = [
        f"L{lv} {c}" for lv, c in zip(top.get("level", [""] * len(top)), top["code"], strict=True)
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

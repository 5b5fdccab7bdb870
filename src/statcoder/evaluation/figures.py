"""Matplotlib figures of the quality report, each returned with its text alternative.

Every function returns ``(figure, alt)``: ``alt`` states the numbers the chart shows, so a
screen-reader user (and the JSON) gets the same information.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

# text stays text in the SVG: smaller files, selectable and readable by assistive technology
RC = {"svg.fonttype": "none"}
_COLOURS = ["#1f3b5a", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"]


def _fmt(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if math.isinf(v):
        return "none (never automatic)"
    return "n/a" if math.isnan(v) else f"{v:.3f}"


def accuracy_by_level(rows: Sequence[Mapping[str, Any]]) -> tuple[Any, str]:
    """Bar chart of accuracy per level with bootstrap 95 % intervals."""
    fig, ax = plt.subplots(figsize=(5.5, 2.8))
    levels = [r["level"] for r in rows]
    acc = [r["accuracy"] for r in rows]
    err = [[r["accuracy"] - r["accuracy_lower"] for r in rows], [r["accuracy_upper"] - r["accuracy"] for r in rows]]
    ax.bar([str(lv) for lv in levels], acc, yerr=err, color=_COLOURS[0], capsize=4)
    ax.set_ylim(0, 1)
    ax.set_xlabel("level (1 = top)")
    ax.set_ylabel("accuracy")
    ax.grid(axis="y", alpha=0.3)
    alt = "Accuracy by level with 95 % bootstrap intervals: " + "; ".join(
        f"level {r['level']} {_fmt(r['accuracy'])} ({_fmt(r['accuracy_lower'])} to {_fmt(r['accuracy_upper'])})"
        for r in rows
    )
    return fig, alt


def coverage_curves(curves: Mapping[int, pd.DataFrame], points: Sequence[Mapping[str, Any]]) -> tuple[Any, str]:
    """Coverage-accuracy curve per level, with each level's operating point marked."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, (level, curve) in enumerate(sorted(curves.items())):
        ax.plot(curve["coverage"], curve["accuracy"], color=_COLOURS[i % len(_COLOURS)], label=f"level {level}")
    for point in points:
        if point["n_accepted"]:
            colour = _COLOURS[(int(point["level"]) - 1) % len(_COLOURS)]
            ax.plot([point["coverage"]], [point["accuracy"]], marker="o", color=colour, markersize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share coded automatically (coverage)")
    ax.set_ylabel("accuracy of that share")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    parts = []
    for level, curve in sorted(curves.items()):
        at = {c: curve.loc[(curve["coverage"] - c).abs().idxmin(), "accuracy"] for c in (0.25, 0.5, 1.0)} if len(curve) else {}
        parts.append(
            f"level {level}: accuracy {_fmt(at.get(0.25))} at 25 % coverage, {_fmt(at.get(0.5))} at 50 %, "
            f"{_fmt(at.get(1.0))} at 100 %"
        )
    for point in points:
        parts.append(
            f"operating point level {point['level']}: threshold {_fmt(point['threshold'])}, coverage "
            f"{_fmt(point['coverage'])}, accuracy {_fmt(point['accuracy'])}, lower bound {_fmt(point['cp_lower'])}"
        )
    return fig, "Coverage-accuracy curves (dots = operating points). " + "; ".join(parts)


def reliability(tables: Mapping[str, pd.DataFrame]) -> tuple[Any, str]:
    """Reliability diagram: accuracy vs mean confidence per bin, one series per variant."""
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888", linewidth=1, label="perfect calibration")
    parts = []
    for i, (name, table) in enumerate(tables.items()):
        ax.plot(table["mean_confidence"], table["accuracy"], marker="o", markersize=3,
                color=_COLOURS[(i + 1) % len(_COLOURS)], label=name)
        gaps = ", ".join(
            f"{_fmt(r.mean_confidence)}->{_fmt(r.accuracy)} (n={r.n})" for r in table.itertuples()
        )
        parts.append(f"{name}: confidence->accuracy per bin {gaps}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean confidence in bin")
    ax.set_ylabel("accuracy in bin")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig, "Reliability diagram. " + "; ".join(parts)


def tree_distance(distribution: Sequence[Mapping[str, Any]]) -> tuple[Any, str]:
    """Bar chart of errors by tree distance (1 = same parent group)."""
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    ax.bar([str(d["distance"]) for d in distribution], [d["share"] for d in distribution], color=_COLOURS[1])
    ax.set_xlabel("tree distance of the error (levels)")
    ax.set_ylabel("share of errors")
    ax.grid(axis="y", alpha=0.3)
    alt = "Errors by tree distance: " + "; ".join(f"distance {d['distance']}: {_fmt(d['share'])} ({d['n']} errors)" for d in distribution)
    return fig, alt


def subgroup_accuracy(table: pd.DataFrame) -> tuple[Any, str]:
    """Accuracy per subgroup with 95 % Clopper-Pearson intervals (suppressed groups left out)."""
    shown = table[~table["suppressed"]].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1.2))
    labels = [f"{r.column}={r.group}" for r in shown.itertuples()]
    y = range(len(shown))
    ax.errorbar(shown["accuracy"], list(y), xerr=[shown["accuracy"] - shown["accuracy_lower"],
                shown["accuracy_upper"] - shown["accuracy"]], fmt="o", color=_COLOURS[0], capsize=3)
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (full depth)")
    ax.grid(axis="x", alpha=0.3)
    alt = "Accuracy by subgroup: " + "; ".join(
        f"{lab} {_fmt(r.accuracy)} ({_fmt(r.accuracy_lower)} to {_fmt(r.accuracy_upper)})"
        for lab, r in zip(labels, shown.itertuples(), strict=True)
    )
    return fig, alt

"""The holistic evaluation of one coder on labelled data (HLG-MOS QF4SA dimensions).

``evaluate(coder, frame, ...)`` returns an ``Evaluation`` whose ``results`` dict holds every
figure of the quality report as plain JSON-ready values; ``statcoder.evaluation.report``
renders it as HTML. Record texts never enter ``results``: the example texts of confused
pairs are kept apart (``Evaluation.examples``) and shown only in the HTML the user writes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from statcoder.contract import AUTOMATIC, DECISION, DECISIONS
from statcoder.evaluation import calibration as cal
from statcoder.evaluation.automation import (
    coverage_accuracy_curve,
    operating_point,
    partial_coding_gain,
)
from statcoder.evaluation.bootstrap import bootstrap_intervals
from statcoder.evaluation.cost import CostInputs, cost_model
from statcoder.evaluation.data import EvaluationData, ModelPredictions, ProgressCallback
from statcoder.evaluation.error_analysis import confused_pairs, error_tree_distances, per_code_table
from statcoder.evaluation.ethics import ethics_evidence, model_card_markdown
from statcoder.evaluation.metrics import (
    correct_at_coded_level,
    encode_pair,
    f1_scores,
    top_k_hits,
    truncate_codes,
)
from statcoder.evaluation.reproducibility import reproducibility_section
from statcoder.evaluation.subgroups import subgroup_table
from statcoder.evaluation.tables import cell_shifts, production_codes, total_variation_distance


@dataclass
class Evaluation:
    """Result of ``evaluate``: ``results`` (JSON-ready), plus private per-record arrays."""

    results: dict[str, Any]
    data: EvaluationData
    predictions: ModelPredictions
    correct_by_level: dict[int, np.ndarray]
    scored_by_level: dict[int, np.ndarray]
    examples: dict[int, list[str]] = field(default_factory=dict)
    explained: list[dict[str, Any]] = field(default_factory=list)
    #: the coder's classification (titles for the report); None for results read back from JSON
    classification: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Every figure of the report as plain JSON values (no record texts); NaN becomes None."""
        return to_json_values(self.results)


def to_json_values(value: Any) -> Any:
    """Frames, numpy values and dicts as plain JSON values; NaN and infinities become None."""
    from statcoder.report.html import json_ready

    return _finite(json_ready(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@dataclass
class _Level:
    truth: np.ndarray
    scored: np.ndarray
    pred: np.ndarray
    conf: np.ndarray
    correct: np.ndarray
    codes: list[str]
    proba: np.ndarray


def _levels(data: EvaluationData, pred: ModelPredictions, classification: Any) -> dict[int, _Level]:
    true_level = np.array([classification.level(c) for c in data.truth])
    out = {}
    for level in range(1, classification.depth + 1):
        truth = truncate_codes(data.truth, level, classification=classification)
        codes_pred, conf = pred.best_at_level(level, classification)
        agg, codes = classification.aggregate(pred.proba, pred.classes, level)
        out[level] = _Level(truth, true_level >= level, codes_pred, conf, codes_pred == truth, codes, agg)
    return out


def _accuracy_section(levels: dict[int, _Level], data: EvaluationData, classification: Any, *, top_k: int,
                      n_boot: int, seed: int) -> tuple[dict[str, Any], dict[int, list[str]]]:
    encoded = {}
    for level, lv in levels.items():
        t, p, labels = encode_pair(lv.truth[lv.scored], lv.pred[lv.scored])
        hits = top_k_hits(lv.proba[lv.scored], lv.codes, lv.truth[lv.scored], k=top_k)
        encoded[level] = (t, p, len(labels), hits, np.flatnonzero(lv.scored))

    def statistic(w: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for level, (t, p, k, hits, rows) in encoded.items():
            wl = w[:, rows]
            for name, value in f1_scores(t, p, n_labels=k, weights=wl).items():
                out[f"{level}|{name}"] = value
            total = wl.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f"{level}|top_k_accuracy"] = np.where(total > 0, (wl @ hits.astype(float)) / total, np.nan)
        return out

    boot = bootstrap_intervals(statistic, data.n, n_boot=n_boot, seed=seed)
    boot[["level", "name"]] = boot["metric"].str.split("|", expand=True)
    rows = []
    for level, lv in levels.items():
        row: dict[str, Any] = {"level": level, "n": int(lv.scored.sum())}
        for r in boot[boot["level"] == str(level)].itertuples():
            row[r.name], row[f"{r.name}_lower"], row[f"{r.name}_upper"] = r.estimate, r.lower, r.upper
        rows.append(row)
    depth = classification.depth
    leaf = levels[depth]
    truth, pred = leaf.truth[leaf.scored], leaf.pred[leaf.scored]
    pairs = confused_pairs(truth, pred, classification=classification, top=20)
    scored_rows = np.flatnonzero(leaf.scored)
    texts = data.texts()
    examples = {i: [texts[scored_rows[j]] for j in r[:3]] for i, r in enumerate(pairs["rows"])}
    section = {
        "top_k": top_k,
        "n_boot": n_boot,
        "by_level": rows,
        "per_code": per_code_table(truth, pred, classification=classification),
        "confused_pairs": pairs.drop(columns="rows"),
        "error_tree_distance": error_tree_distances(truth, pred, classification=classification),
    }
    return section, examples


def _automation_section(levels: dict[int, _Level], pred: ModelPredictions, data: EvaluationData,
                        coder: Any, classification: Any) -> dict[str, Any]:
    from statcoder.evaluation.metrics import automation_summary

    thresholds = {int(k): float(v) for k, v in dict(getattr(coder, "thresholds", {}) or {}).items()}
    curves, points = {}, []
    for level, lv in levels.items():
        conf, correct = lv.conf[lv.scored], lv.correct[lv.scored]
        curves[level] = coverage_accuracy_curve(conf, correct, n_points=101)
        if level in thresholds:
            points.append({"level": level, **operating_point(conf, correct, threshold=thresholds[level])})
    correct_coded = correct_at_coded_level(pred.coded, data.truth, classification=classification)
    return {
        "target_accuracy": coder.card.target_accuracy if hasattr(coder, "card") else None,
        "thresholds": thresholds,
        "summary": automation_summary(pred.coded, data.truth, classification=classification),
        "curves": curves,
        "operating_points": points,
        "partial_gain": partial_coding_gain(pred.coded, correct_coded, depth=classification.depth),
    }


def _calibration_section(levels: dict[int, _Level], pred: ModelPredictions, data: EvaluationData,
                         classification: Any) -> dict[str, Any]:
    scored = levels[classification.depth].scored
    after = cal.calibration_summary(pred.proba[scored], pred.classes, data.truth[scored])
    before = None
    if pred.proba_uncalibrated is not None:
        before = cal.calibration_summary(pred.proba_uncalibrated[scored], pred.classes, data.truth[scored])
    per_level = []
    for level, lv in levels.items():
        top = lv.proba.argmax(axis=1)
        hit = np.asarray(lv.codes, dtype=object)[top] == lv.truth
        per_level.append({
            "level": level,
            "top_label_ece": cal.top_label_ece(lv.proba.max(axis=1)[lv.scored], hit[lv.scored]),
        })
    coded_conf = pd.to_numeric(pred.coded["confidence"], errors="coerce").to_numpy(dtype=float)
    correct_coded = correct_at_coded_level(pred.coded, data.truth, classification=classification)
    automatic = pred.coded[DECISION].astype(str).isin(AUTOMATIC).to_numpy()
    return {
        "after": after,
        "before": before,
        "by_level": per_level,
        "coded_confidence_ece": cal.top_label_ece(coded_conf[automatic], correct_coded[automatic]) if automatic.any() else None,
    }


def _tables_section(levels: dict[int, _Level], pred: ModelPredictions, classification: Any) -> dict[str, Any]:
    rows, cells = [], {}
    for level, lv in levels.items():
        truth = lv.truth[lv.scored]
        model = lv.pred[lv.scored]
        production = production_codes(lv.truth, pred.coded, level=level, classification=classification)[lv.scored]
        rows.append({
            "level": level,
            "n_cells_true": len(set(truth)),
            "tvd_model": total_variation_distance(truth, model),
            "tvd_production": total_variation_distance(truth, production),
        })
        shifts = cell_shifts(truth, model, top=15)
        shifts.insert(1, "title", [classification.title(c) for c in shifts["code"]])
        cells[level] = shifts
    return {"by_level": rows, "cells": cells}


def evaluate(
    coder: Any,
    frame: pd.DataFrame,
    *,
    text_columns: Sequence[str] = ("text",),
    code_column: str = "code",
    group_columns: Sequence[str] = (),
    top_k: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    min_cell: int = 10,
    cost: CostInputs | None = None,
    retrain_data: pd.DataFrame | None = None,
    retrain_seeds: Sequence[int] = (1, 2),
    explain_records: int = 5,
    on_unknown_code: str = "error",
    source: str = "<data>",
    timings: dict[str, float] | None = None,
    on_progress: ProgressCallback | None = None,
    max_text_length: int | None = None,
) -> Evaluation:
    """Evaluate ``coder`` on labelled ``frame`` along every dimension of the quality report.

    Returns an ``Evaluation``; ``results`` has the sections ``meta``, ``accuracy``,
    ``automation``, ``calibration``, ``tables``, ``subgroups``, ``explainability``,
    ``reproducibility``, ``timeliness_cost``, ``ethics`` and ``model_card_markdown``.
    Proportions are in [0, 1], times in seconds, money in the units of ``cost``.
    ``retrain_data`` (the training data) enables the seed-churn check. ``max_text_length`` is
    handled as by ``statcoder code`` (through ``coder.code``).
    """
    started = time.perf_counter()
    classification = coder.classification
    data = EvaluationData.from_frame(
        frame, text_columns=text_columns, code_column=code_column, classification=classification,
        group_columns=group_columns, on_unknown_code=on_unknown_code, source=source,
    )
    from statcoder.coder.overlap import training_overlap

    overlap = training_overlap(coder, data.texts(), list(data.truth))
    overlap.warn("the evaluation data")
    pred = ModelPredictions.from_coder(coder, data, top_k=top_k, on_progress=on_progress,
                                       max_text_length=max_text_length)
    levels = _levels(data, pred, classification)
    accuracy, examples = _accuracy_section(levels, data, classification, top_k=top_k, n_boot=n_boot, seed=seed)
    automation = _automation_section(levels, pred, data, coder, classification)
    calibration = _calibration_section(levels, pred, data, classification)
    tables = _tables_section(levels, pred, classification)

    depth = classification.depth
    correct_coded = correct_at_coded_level(pred.coded, data.truth, classification=classification)
    decision = pred.coded["decision"].astype(str).to_numpy()
    automatic = np.isin(decision, AUTOMATIC)
    subgroups = subgroup_table(
        data.groups, correct=levels[depth].correct, automatic=automatic, correct_at_level=correct_coded,
        min_cell=min_cell,
    ) if data.groups else pd.DataFrame()

    from statcoder.evaluation.explain import explain_section

    explainability, explained = explain_section(coder, data, pred, n_records=explain_records, seed=seed)
    reproducibility = reproducibility_section(
        coder, data, pred, retrain_data=retrain_data, retrain_seeds=retrain_seeds,
        text_columns=list(text_columns), code_column=code_column, on_progress=on_progress,
    )
    summary_rows = automation["summary"].set_index("decision")
    shares = {d: float(summary_rows.loc[d, "share"]) for d in DECISIONS}
    acc = {d: summary_rows.loc[d, "accuracy"] for d in AUTOMATIC}
    card = coder.card.to_dict() if hasattr(coder, "card") else {}
    timing = dict(timings or {})
    timing["coding_seconds"] = pred.coding_seconds
    timing["records_per_second"] = data.n / pred.coding_seconds if pred.coding_seconds > 0 else None
    for key in ("train_seconds", "training_seconds"):
        if key in card:
            timing.setdefault("train_seconds", card[key])
    costs = cost_model(
        share_auto=shares["auto"], share_partial=shares["partial"],
        error_rate_auto=1 - acc["auto"], error_rate_partial=1 - acc["partial"],
        n_records=data.n, inputs=cost or CostInputs(),
    )
    flagged = int((subgroups["flag"] != "").sum()) if not subgroups.empty else 0
    summary = {
        "model_version": pred.version,
        "n_records": data.n,
        "data_fingerprint": data.fingerprint,
        "auto_share": shares["auto"], "partial_share": shares["partial"], "review_share": shares["review"],
        "auto_accuracy": acc["auto"],
        "target_accuracy": automation["target_accuracy"],
        "thresholds": automation["thresholds"],
        "ece": calibration["after"]["top_label_ece"],
        "group_columns": list(group_columns), "n_flagged_groups": flagged, "min_cell": min_cell,
        "n_boot": n_boot,
        "training_overlap_warning": overlap.warning("the evaluation data"),
    }
    results: dict[str, Any] = {
        "meta": {
            "model_version": pred.version,
            "classification": {"name": classification.name, "version": getattr(classification, "version", ""),
                               "fingerprint": getattr(classification, "fingerprint", ""), "depth": depth},
            "n_records": data.n, "n_dropped_unknown_code": data.dropped,
            "data_fingerprint": data.fingerprint, "text_columns": list(text_columns), "code_column": code_column,
            "training_overlap": {**overlap.to_dict(), "warning": overlap.warning("the evaluation data")},
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "seed": seed,
        },
        "summary": summary,
        "accuracy": accuracy,
        "automation": automation,
        "calibration": calibration,
        "tables": tables,
        "subgroups": {"columns": list(group_columns), "min_cell": min_cell, "table": subgroups},
        "explainability": explainability,
        "reproducibility": reproducibility,
        "timeliness_cost": {"timings": timing, "cost": costs},
    }
    results["ethics"] = ethics_evidence(summary, card)
    results["model_card_markdown"] = model_card_markdown(card, summary, accuracy["by_level"])
    results["meta"]["evaluation_seconds"] = time.perf_counter() - started
    return Evaluation(
        results=results, data=data, predictions=pred,
        correct_by_level={lv: levels[lv].correct for lv in levels},
        scored_by_level={lv: levels[lv].scored for lv in levels},
        examples=examples,
        explained=explained,
        classification=classification,
    )

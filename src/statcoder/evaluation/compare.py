"""Comparison mode: two (or more) models evaluated on the same records, side by side.

Differences in accuracy are paired: the same bootstrap resamples are applied to both models,
so the interval of the difference reflects that they were scored on the same records. The
exact McNemar test (a binomial test on the records only one model gets right) says whether
the difference at a level is more than chance. Churn is the share of records whose
full-depth code or decision differs between the models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from statcoder.errors import InputError
from statcoder.evaluation.bootstrap import bootstrap_weights
from statcoder.evaluation.holistic import Evaluation
from statcoder.evaluation.reproducibility import prediction_churn


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Two-sided exact McNemar p-value for paired correctness vectors (1.0 when no discordant pairs)."""
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_b, only_a + only_b, 0.5).pvalue)


def headline(ev: Evaluation) -> dict[str, Any]:
    """The figures a methodologist compares first, for one evaluation (proportions in [0, 1])."""
    r = ev.results
    out: dict[str, Any] = {"model_version": r["meta"]["model_version"]}
    for row in r["accuracy"]["by_level"]:
        out[f"accuracy_level_{row['level']}"] = row["accuracy"]
        out[f"macro_f1_level_{row['level']}"] = row["macro_f1"]
    s = r["summary"]
    out.update({
        "auto_share": s["auto_share"], "auto_accuracy": s["auto_accuracy"], "partial_share": s["partial_share"],
        "review_share": s["review_share"], "top_label_ece": s["ece"],
        "records_per_second": r["timeliness_cost"]["timings"].get("records_per_second"),
    })
    return out


def compare(evaluations: list[Evaluation], *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Side-by-side headline figures and paired differences of every model against the first.

    All evaluations must be on the same records (same data fingerprint). Returns a dict with
    ``models`` (one headline row per model), ``differences`` (rows ``model, level,
    accuracy_difference, lower, upper, mcnemar_p``; difference = model - first model) and
    ``churn`` (rows ``model, code_churn, decision_churn`` against the first model).
    """
    if len(evaluations) < 2:
        raise InputError("comparison needs at least two models", hint="pass two or more evaluations (CLI: --model twice)")
    base = evaluations[0]
    for other in evaluations[1:]:
        if other.data.fingerprint != base.data.fingerprint:
            raise InputError("the models were evaluated on different data", hint="evaluate them in one command")
    weights = bootstrap_weights(base.data.n, n_boot=n_boot, seed=seed)
    differences, churn = [], []
    base_leaf = np.asarray(base.predictions.classes, dtype=object)[base.predictions.proba.argmax(axis=1)]
    for other in evaluations[1:]:
        name = other.results["meta"]["model_version"]
        for level, scored in base.scored_by_level.items():
            a = base.correct_by_level[level][scored].astype(float)
            b = other.correct_by_level[level][scored].astype(float)
            diff = b - a
            w = weights[:, scored]
            boot = (w @ diff) / np.maximum(w.sum(axis=1), 1e-12)
            differences.append({
                "model": name, "level": level, "accuracy_difference": float(diff.mean()) if diff.size else np.nan,
                "lower": float(np.quantile(boot, 0.025)) if n_boot else np.nan,
                "upper": float(np.quantile(boot, 0.975)) if n_boot else np.nan,
                "mcnemar_p": mcnemar_exact(a.astype(bool), b.astype(bool)),
            })
        other_leaf = np.asarray(other.predictions.classes, dtype=object)[other.predictions.proba.argmax(axis=1)]
        churn.append({
            "model": name,
            "code_churn": prediction_churn(base_leaf, other_leaf),
            "decision_churn": prediction_churn(
                base.predictions.coded["decision"].astype(str).to_numpy(),
                other.predictions.coded["decision"].astype(str).to_numpy(),
            ),
        })
    return {
        "baseline": base.results["meta"]["model_version"],
        "models": pd.DataFrame([headline(ev) for ev in evaluations]),
        "differences": pd.DataFrame(differences),
        "churn": pd.DataFrame(churn),
    }

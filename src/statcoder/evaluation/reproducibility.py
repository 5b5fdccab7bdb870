"""Reproducibility: fingerprints, versions, seeds, and prediction churn across retraining seeds.

Churn (Milani Fard et al. 2016, "Launch and iterate: reducing prediction churn") is the
share of records whose prediction changes when the same training data is refitted with
another random seed. A model whose codes change for many records between seeds would make
published series move for no reason in the data.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from statcoder.evaluation.data import (
    EvaluationData,
    ModelPredictions,
    ProgressCallback,
    fingerprint_frame,
)

_PACKAGES = ("statcoder", "numpy", "scipy", "scikit-learn", "pandas", "fasttext-numpy2")


def library_versions() -> dict[str, str]:
    """Installed versions of Python and the libraries the model depends on ("" if absent)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


def prediction_churn(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of records whose code differs between two prediction vectors (in [0, 1])."""
    x = np.asarray(a, dtype=object)
    y = np.asarray(b, dtype=object)
    if x.shape != y.shape:
        raise ValueError("prediction vectors differ in length")
    return float((x != y).mean()) if x.size else float("nan")


def _leaf_predictions(pred: ModelPredictions) -> np.ndarray:
    return np.asarray(pred.classes, dtype=object)[pred.proba.argmax(axis=1)]


def reproducibility_section(
    coder: Any,
    data: EvaluationData,
    pred: ModelPredictions,
    *,
    retrain_data: pd.DataFrame | None,
    retrain_seeds: Sequence[int],
    text_columns: list[str],
    code_column: str,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Fingerprints, versions and seeds; with ``retrain_data``, churn against models refitted
    with each of ``retrain_seeds``.

    Returns a dict: ``model_version``, ``model_card`` (subset), ``data_fingerprint``,
    ``classification_fingerprint``, ``library_versions``, ``seed``, ``churn`` (rows ``seed,
    code_churn, decision_churn, accuracy, train_seconds``; empty if not run) and ``churn_note``.
    """
    card = coder.card.to_dict() if hasattr(coder, "card") else {}
    section: dict[str, Any] = {
        "model_version": str(coder.version),
        "model_card": {k: v for k, v in card.items() if not isinstance(v, (list, dict)) or k in ("thresholds", "versions", "library_versions", "training_data", "classification")},
        "data_fingerprint": data.fingerprint,
        "classification_fingerprint": getattr(coder.classification, "fingerprint", ""),
        "library_versions": library_versions(),
        "seed": card.get("seed"),
        "churn": [],
        "churn_note": "",
    }
    if retrain_data is None:
        section["churn_note"] = "Not run: pass the training data (--train-data) to retrain with other seeds."
        return section
    from statcoder.coder import Coder, train

    section["retrain_data_fingerprint"] = fingerprint_frame(retrain_data, [*text_columns, code_column])
    base_codes = _leaf_predictions(pred)
    selection = card.get("model_selection") or {}
    missing_extra = bool(selection.get("extra_examples"))
    base_decision = pred.coded["decision"].astype(str).to_numpy()
    rows = []
    for seed in retrain_seeds:
        started = time.perf_counter()
        other: Coder = train(
            retrain_data, text_columns=text_columns, code_column=code_column,
            classification=coder.classification,
            target_accuracy=float(card.get("target_accuracy", 0.95)),
            backend=str(card.get("backend", "linear")), seed=int(seed), on_unknown_code="drop",
            cv_folds=int(card.get("heldout", {}).get("cv_folds") or 0) or None,
            deploy=str(card.get("deploy", "members")), hierarchical=bool(card.get("hierarchical_model", True)),
            max_text_length=card.get("limits", {}).get("max_text_length"),
            index=getattr(coder, "index", None), on_progress=on_progress,
            # the recipe the card records: titles as extra training text, model choice by validation
            title_examples="title_examples" in selection, select_model=bool(selection.get("candidates")),
        )
        seconds = time.perf_counter() - started
        other_pred = ModelPredictions.from_coder(other, data)
        codes = _leaf_predictions(other_pred)
        rows.append({
            "seed": int(seed),
            "code_churn": prediction_churn(base_codes, codes),
            "decision_churn": prediction_churn(base_decision, other_pred.coded["decision"].astype(str).to_numpy()),
            "accuracy": float((codes == data.truth).mean()),
            "train_seconds": seconds,
        })
    section["churn"] = rows
    section["churn_note"] = (
        "Share of evaluation records whose full-depth code (code_churn) or decision (decision_churn) "
        "changes when the same training data is refitted with another seed."
    ) + (" The model was trained with extra examples (e.g. a classification's notes) that its card does not "
         "hold; the refitted models are trained without them." if missing_extra else "")
    return section

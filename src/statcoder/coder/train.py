"""Training a Coder: validate the data, cross-validate, calibrate, choose thresholds, fit.

Steps: (1) check columns, texts and codes; (2) K-fold out-of-fold scores; (3) one
temperature fitted on them (calibration); (4) per-level thresholds for the target accuracy
from the out-of-fold probabilities; (5) held-out metrics for the model card; (6) the final
model fitted on all records.
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

import statcoder
from statcoder.classifications import Classification
from statcoder.coder.coder import Coder, ProgressFn
from statcoder.coder.index import CodingIndex
from statcoder.coder.levels import best_by_level, level_aggregators
from statcoder.decision import clopper_pearson_lower, decide, threshold_for_target
from statcoder.decision.conformal import fit_conformal
from statcoder.errors import ConfigurationError, InputError, UnknownCodeError
from statcoder.models.calibration import expected_calibration_error, fit_temperature, softmax
from statcoder.models.cv import out_of_fold_scores
from statcoder.models.registry import BACKENDS, HIERARCHY_AWARE, make_model
from statcoder.text.normalise import as_text, check_lengths, join_columns


def data_fingerprint(texts: Sequence[str], codes: Sequence[str]) -> str:
    """SHA-256 of the sorted (text, code) pairs: same training data, same fingerprint."""
    digest = hashlib.sha256()
    for text, code in sorted(zip(texts, codes, strict=True)):
        digest.update(text.encode())
        digest.update(b"\x1f")
        digest.update(code.encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def prepare_training_data(
    data: pd.DataFrame,
    *,
    text_columns: Sequence[str],
    code_column: str,
    classification: Classification,
    on_unknown_code: str = "error",
    max_text_length: int = 10_000,
    where: str = "training data",
) -> tuple[list[str], list[str], dict[str, int]]:
    """Return (texts, codes, counts of dropped rows) after checking the training table.

    Rows with empty text are dropped; codes not in the classification raise
    UnknownCodeError (``on_unknown_code="error"``) or are dropped (``"drop"``).
    """
    if on_unknown_code not in ("error", "drop"):
        raise ConfigurationError(f"on_unknown_code must be 'error' or 'drop', got {on_unknown_code!r}")
    if code_column not in data.columns:
        raise InputError(f"code column {code_column!r} not found", where=where,
                         hint=f"the columns are: {', '.join(map(str, list(data.columns)[:30]))}")
    texts = join_columns(data, list(text_columns), where=where)
    codes = [as_text(c).strip() for c in data[code_column].tolist()]
    check_lengths(texts, max_length=max_text_length, where=where)
    unknown_rows = [i for i, c in enumerate(codes) if c and c not in classification]
    if unknown_rows and on_unknown_code == "error":
        counts = pd.Series([codes[i] for i in unknown_rows]).value_counts()
        listed = ", ".join(f"{code} ({n})" for code, n in counts.head(5).items())
        rows = ", ".join(str(i + 2) for i in unknown_rows[:5])
        raise UnknownCodeError(
            f"{len(unknown_rows)} row(s) carry {len(counts)} code(s) not in {classification.name}: {listed}",
            where=f"{where}: column {code_column!r}, rows {rows}{' ...' if len(unknown_rows) > 5 else ''}",
            hint="fix the codes, or pass --on-unknown-code drop to leave those rows out",
        )
    keep = [i for i, (t, c) in enumerate(zip(texts, codes, strict=True)) if t.strip() and c and c in classification]
    dropped = {
        "empty_text": sum(1 for t in texts if not t.strip()),
        "empty_code": sum(1 for c in codes if not c),
        "unknown_code": len(unknown_rows),
    }
    if len({codes[i] for i in keep}) < 2:
        raise InputError(f"after checks, the training data has {len(keep)} usable row(s) with fewer than 2 codes",
                         where=where, hint="check the text and code columns")
    return [texts[i] for i in keep], [codes[i] for i in keep], dropped


def choose_thresholds(
    proba: np.ndarray, classes: Sequence[str], y_true: Sequence[str], classification: Classification,
    *, target: float, confidence_level: float = 0.95,
    per_level: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[dict[int, float], dict[int, dict[str, float]]]:
    """Per-level thresholds from held-out probabilities, and per-level held-out figures.

    Levels are calibrated deepest first, in the order the decision rule applies them: the
    threshold of level L is chosen on the records that no deeper level accepted. The records
    coded at L are exactly those, so each decision's share reaches the target on its own
    (calibrating every level on all records would let easy records, which are coded deeper,
    vouch for the hard ones that end up coded at L).
    """
    thresholds: dict[int, float] = {}
    figures: dict[int, dict[str, float]] = {}
    true_level = np.asarray([classification.level(c) for c in y_true])
    remaining = np.ones(len(y_true), dtype=bool)
    if per_level is None:
        per_level = best_by_level(proba, level_aggregators(classification, classes))
    for level in range(classification.depth, 0, -1):
        best, conf = per_level[level]
        eligible = true_level >= level  # records whose true code reaches this level
        if not conf.any() or not eligible.any():
            thresholds[level] = float("inf")
            continue
        truth = np.asarray([classification.truncate(c, level) if lv >= level else ""
                            for c, lv in zip(y_true, true_level, strict=True)], dtype=object)
        correct = best == truth
        pool = eligible & remaining
        t = threshold_for_target(conf[pool], correct[pool], target=target, confidence_level=confidence_level)
        thresholds[level] = t
        accepted = pool & (conf >= t)
        k, n = int(correct[accepted].sum()), int(accepted.sum())
        figures[level] = {
            "accuracy": float(correct[eligible].mean()),
            "coded_share": float(n / len(y_true)),
            "coded_accuracy": float(k / n) if n else float("nan"),
            "lower_bound": float(clopper_pearson_lower(k, n, confidence=confidence_level)) if n else 0.0,
        }
        remaining &= ~(conf >= t)
    return thresholds, dict(sorted(figures.items()))


def train(
    data: pd.DataFrame,
    *,
    text_columns: Sequence[str],
    code_column: str,
    classification: Classification,
    target_accuracy: float = 0.95,
    backend: str = "linear",
    seed: int = 0,
    on_unknown_code: str = "error",
    index: CodingIndex | None = None,
    cv_folds: int | None = None,
    max_text_length: int = 10_000,
    model_params: dict[str, Any] | None = None,
    hierarchical: bool = True,
    on_progress: ProgressFn | None = None,
    where: str = "training data",
) -> Coder:
    """Train a Coder on ``data`` and return it (unsaved; call ``.save(dir)``).

    ``cv_folds`` defaults to 5 below 20,000 records and 3 above (thresholds and calibration
    come from out-of-fold predictions either way). ``hierarchical`` (linear backend) uses one SVM
    over top-level groups and one per group; ``False`` trains a flat one-vs-rest SVM over all
    codes, which is slower to train and, on some data, more accurate (see benchmarks/results.md).
    """
    if backend not in BACKENDS:
        raise ConfigurationError(f"unknown backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}")
    if not 0.0 < target_accuracy < 1.0:
        raise ConfigurationError(f"target accuracy must be between 0 and 1, got {target_accuracy}", hint="e.g. 0.95")
    started = time.perf_counter()
    texts, codes, dropped = prepare_training_data(
        data, text_columns=text_columns, code_column=code_column, classification=classification,
        on_unknown_code=on_unknown_code, max_text_length=max_text_length, where=where,
    )
    if index is not None:
        index.validate(classification)
    params = dict(model_params or {})
    if backend in HIERARCHY_AWARE and hierarchical and "groups" not in params and classification.depth > 1:
        # hierarchy-aware model: one SVM over top-level groups, one per group over its codes
        params["groups"] = {c: classification.truncate(c, 1) for c in set(codes)}
    folds = cv_folds or (5 if len(texts) < 20_000 else 3)
    if folds < 2:
        raise ConfigurationError(f"cv_folds must be at least 2, got {folds}")
    scores, classes = out_of_fold_scores(
        lambda: make_model(backend, seed=seed, **params), texts, codes, n_splits=folds, seed=seed,
        on_progress=on_progress,
    )
    column = {c: i for i, c in enumerate(classes)}
    y_index = np.asarray([column[c] for c in codes])
    temperature = fit_temperature(scores, y_index)
    proba = softmax(scores, temperature=temperature)
    raw_proba = softmax(scores, temperature=1.0)
    per_level = best_by_level(proba, level_aggregators(classification, classes))
    thresholds, level_figures = choose_thresholds(proba, classes, codes, classification, target=target_accuracy,
                                                  per_level=per_level)
    best = proba.argmax(axis=1)
    correct = np.asarray(classes, dtype=object)[best] == np.asarray(codes, dtype=object)
    heldout = {
        "n": len(codes),
        "cv_folds": folds,
        "accuracy": float(correct.mean()),
        "ece_before_calibration": expected_calibration_error(raw_proba[np.arange(len(best)), best], correct),
        "ece": expected_calibration_error(proba[np.arange(len(best)), best], correct),
        "temperature": temperature,
        "levels": {str(k): v for k, v in level_figures.items()},
        "decisions": _decision_summary(per_level, codes, classification, thresholds),
    }
    heldout["conformal"] = [
        {"coverage": c.coverage, "quantile": None if not np.isfinite(c.quantile) else c.quantile,
         "heldout_coverage": c.heldout_coverage, "mean_set_size": c.mean_set_size, "n": c.n}
        for c in fit_conformal(proba, y_index, seed=seed)
    ]
    if on_progress is not None:
        on_progress(0, 1, "final model")
    model = make_model(backend, seed=seed, **params).fit(texts, codes)
    model.temperature_ = temperature
    if on_progress is not None:
        on_progress(1, 1, "final model")
    card = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": backend,
        "model_params": {k: v for k, v in model.get_params().items() if k != "groups"},
        "hierarchical_model": bool(params.get("groups")),
        "seed": seed,
        "target_accuracy": target_accuracy,
        "classification": {"name": classification.name, "version": classification.version,
                           "fingerprint": classification.fingerprint, "depth": classification.depth,
                           "n_codes": len(classification)},
        "training_data": {"fingerprint": data_fingerprint(texts, codes), "n_records": len(texts),
                          "n_codes": len(classes), "text_columns": list(text_columns),
                          "code_column": code_column, "dropped": dropped},
        "heldout": heldout,
        "train_seconds": round(time.perf_counter() - started, 3),
        "library_versions": _versions(),
        "index_entries": len(index) if index is not None else 0,
    }
    return Coder(model=model, classification=classification, thresholds=thresholds, card=card, index=index)


def _decision_summary(per_level, codes, classification, thresholds) -> dict[str, dict[str, float]]:
    """Share and accuracy (at the level coded) of held-out records per decision."""
    chosen, decision = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=thresholds,
                              full_depth=classification.depth)
    summary = {}
    for name in ("auto", "partial", "review"):
        mask = decision == name
        entry = {"share": float(mask.mean())}
        if name != "review" and mask.any():
            hits = [per_level[lv][0][i] == classification.truncate(codes[i], lv)
                    for i, lv in zip(np.flatnonzero(mask), chosen[mask], strict=True)]
            entry["accuracy"] = float(np.mean(hits))
        summary[name] = entry
    return summary


def _versions() -> dict[str, str]:
    import scipy
    import sklearn

    return {"statcoder": statcoder.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__, "pandas": pd.__version__}

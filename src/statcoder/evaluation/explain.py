"""Explainability of the linear text model: n-grams per code and per-record feature contributions.

For a linear model the score of class k is sum_j x_j w_kj + b_k, so the weight w_kj says how
hard n-gram j pushes towards code k, and x_j w_kj is n-gram j's contribution to one record's
score (exact, not an approximation such as LIME or SHAP sampling). Calibration (temperature
or Platt scaling) is monotone in the score and does not change which features drive it.
Word n-grams and character n-grams (prefixed ``c:``) are reported separately; in character
n-grams a word boundary is shown as ``_``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def top_features_per_code(
    coef: Any, feature_names: Sequence[str], classes: Sequence[str], *, codes: Sequence[str], top: int = 8
) -> pd.DataFrame:
    """The ``top`` largest positive weights of each code, words and character n-grams apart.

    ``coef`` is (n_classes, n_features), rows in ``classes`` order (dense or sparse).
    Returns columns ``code, kind (word|char), rank, ngram, weight``.
    """
    names = np.asarray(feature_names, dtype=object)
    is_char = np.char.startswith(names.astype(str), "c:")
    row_of = {c: i for i, c in enumerate(classes)}
    rows = []
    for code in codes:
        if code not in row_of:
            continue
        w = coef[row_of[code]]
        w = np.asarray(w.toarray()).ravel() if hasattr(w, "toarray") else np.asarray(w, dtype=float).ravel()
        for kind, mask in (("word", ~is_char), ("char", is_char)):
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue
            best = idx[np.argsort(-w[idx], kind="stable")[:top]]
            for rank, j in enumerate(best, start=1):
                if w[j] <= 0:
                    break
                rows.append({"code": code, "kind": kind, "rank": rank, "ngram": _readable(str(names[j])),
                             "weight": float(w[j])})
    return pd.DataFrame(rows, columns=["code", "kind", "rank", "ngram", "weight"])


def _readable(name: str) -> str:
    """A feature name for people: character n-grams lose the ``c:`` prefix and show word
    boundaries as ``_`` (``" nur"`` and ``"nur "`` are different features)."""
    return name[2:].replace(" ", "_") if name.startswith("c:") else name


def record_contributions(
    x: Any, coef_row: np.ndarray, feature_names: Sequence[str], *, top: int = 6
) -> list[tuple[str, float]]:
    """The ``top`` features with the largest positive contribution x_j * w_j to one record's score.

    ``x`` is the record's (1, n_features) sparse row. Returns (feature name, contribution)
    pairs, largest first; character n-grams keep their ``c:`` prefix.
    """
    row = x.tocsr() if hasattr(x, "tocsr") else x
    idx = row.indices
    contrib = np.asarray(row.data, dtype=float) * np.asarray(coef_row, dtype=float)[idx]
    order = np.argsort(-contrib, kind="stable")[:top]
    return [(str(feature_names[idx[i]]), float(contrib[i])) for i in order if contrib[i] > 0]


def format_drivers(drivers: Sequence[tuple[str, float]], *, names: Sequence[str] | None = None) -> str:
    """``"'nurse' +1.20, 'urs' (chars) +0.40"`` from (feature, contribution) pairs (``c:`` = chars).

    ``names`` replaces the shown names (e.g. redacted ones), in the same order.
    """
    shown = names if names is not None else [_readable(n) for n, _ in drivers]
    return ", ".join(
        f"{label!r}{' (chars)' if n.startswith('c:') else ''} +{v:.2f}"
        for (n, v), label in zip(drivers, shown, strict=True)
    ) or "no positive contribution"


def linear_parts(model: Any) -> tuple[Any, np.ndarray, np.ndarray, list[str]] | None:
    """(transform, coef, feature names, classes) of a fitted linear text model, or None.

    Uses the model's ``explain_parts()`` hook when it has one; otherwise looks for a fitted
    ``features_`` transformer with ``feature_names()`` and a ``coef_`` matrix.
    """
    hook = getattr(model, "explain_parts", None)
    if callable(hook):
        return hook()
    features = getattr(model, "features_", None)
    coef = getattr(model, "coef_", None)
    if features is None or coef is None or not hasattr(features, "feature_names"):
        return None
    return features.transform, coef, features.feature_names(), [str(c) for c in model.classes_]


def explain_section(
    coder: Any, data: Any, pred: Any, *, n_records: int = 5, n_codes: int = 40, seed: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Top n-grams for the ``n_codes`` most frequent true codes, and drivers of sampled records.

    Returns ``(section, records)``: ``section`` is JSON-ready (``available``, ``note``,
    ``top_ngrams`` rows); ``records`` carry record texts and go only into the HTML report
    (``text``, ``predicted_code``, ``decision``, ``drivers`` as text and ``driver_list`` of
    (readable feature, is character n-gram, contribution)).
    """
    parts = linear_parts(getattr(coder, "model", None))
    if parts is None:
        return {
            "available": False,
            "note": "This model exposes no linear weights (e.g. the fastText backend); n-gram explanations "
            "are available for the default linear model.",
            "top_ngrams": [],
        }, []
    transform, coef, names, classes = parts
    codes = pd.Series(data.truth).value_counts().index[:n_codes].tolist()
    table = top_features_per_code(coef, names, classes, codes=[c for c in codes if c in classes])
    wide = (
        table.groupby(["code", "kind"], sort=False)["ngram"].agg(lambda s: ", ".join(s)).unstack("kind")
        .reindex(columns=["word", "char"]).fillna("").reset_index()
        .rename(columns={"word": "top word n-grams", "char": "top character n-grams"})
    )
    wide.insert(1, "title", [coder.classification.title(c) for c in wide["code"]])
    section = {
        "available": True,
        "note": f"Largest positive weights of the linear model for the {len(wide)} most frequent codes in the "
        "evaluation data; the full list with weights is in the JSON (top_ngrams_long).",
        "top_ngrams": wide,
        "top_ngrams_long": table,
    }
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(data.n, size=min(n_records, data.n), replace=False))
    texts = data.texts()
    row_of = {c: i for i, c in enumerate(classes)}
    records = []
    leaf = np.asarray(pred.classes, dtype=object)[pred.proba.argmax(axis=1)]
    for i in sample:
        code = str(leaf[i])
        x = transform([texts[i]])
        coef_row = coef[row_of[code]]
        coef_row = np.asarray(coef_row.toarray()).ravel() if hasattr(coef_row, "toarray") else np.asarray(coef_row).ravel()
        drivers = record_contributions(x, coef_row, names)
        records.append({
            "text": texts[i],
            "predicted_code": code,
            "decision": str(pred.coded["decision"].iloc[i]),
            "drivers": format_drivers(drivers),
            "driver_list": [(_readable(n), n.startswith("c:"), v) for n, v in drivers],
        })
    return section, records

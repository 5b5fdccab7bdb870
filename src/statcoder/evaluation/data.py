"""Evaluation inputs: validated truth codes, the predictions of one model, fingerprints.

``EvaluationData`` is the labelled data set (texts stay private: they are used only for the
example texts the HTML report shows); ``ModelPredictions`` is what one coder produced on it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from statcoder.errors import InputError

ProgressCallback = Callable[[int, int, str], None]


def fingerprint_frame(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """SHA-256 (hex) of the named columns, row by row in order; equal data, equal fingerprint."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(columns).encode())
    for row in frame[list(columns)].astype(str).itertuples(index=False):
        digest.update(("\x1e" + "\x1f".join(row)).encode())
    return digest.hexdigest()


@dataclass
class EvaluationData:
    """Labelled records to evaluate on: texts (private), truth codes, optional group columns."""

    frame: pd.DataFrame
    text_columns: list[str]
    code_column: str
    truth: np.ndarray
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    dropped: int = 0
    fingerprint: str = ""

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        text_columns: Sequence[str],
        code_column: str,
        classification: Any,
        group_columns: Sequence[str] = (),
        on_unknown_code: str = "error",
        source: str = "<data>",
    ) -> EvaluationData:
        """Validate columns and codes; returns the data with truth codes as str.

        Raises ``InputError`` for missing columns and ``UnknownCodeError`` for codes not in
        the classification (unless ``on_unknown_code="drop"``, which drops those rows).
        """
        missing = [c for c in [*text_columns, code_column, *group_columns] if c not in frame.columns]
        if missing:
            raise InputError(
                f"column(s) {', '.join(map(repr, missing))} not found",
                where=source,
                hint=f"available columns: {', '.join(map(str, frame.columns))}",
            )
        if on_unknown_code not in ("error", "drop"):
            raise InputError(f"unknown-code handling must be 'error' or 'drop', not {on_unknown_code!r}",
                             where="--on-unknown-code / on_unknown_code", hint="use error (stop) or drop (leave the rows out)")
        codes = frame[code_column].fillna("").astype(str).str.strip()
        unknown = ~codes.map(lambda c: bool(c) and c in classification)
        dropped = int(unknown.sum())
        if dropped and on_unknown_code == "error":
            from statcoder.classifications.unknown import unknown_code_error

            raise unknown_code_error(codes.tolist(), np.flatnonzero(unknown.to_numpy()).tolist(),
                                     classification=classification, column=code_column, where=source)
        kept = frame.loc[~unknown.to_numpy()].reset_index(drop=True)
        if kept.empty:
            raise InputError("no records left to evaluate", where=source, hint="check the code column")
        return cls(
            frame=kept[list(dict.fromkeys([*text_columns, code_column, *group_columns]))],
            text_columns=list(text_columns),
            code_column=code_column,
            truth=codes[~unknown].to_numpy(dtype=object),
            groups={g: kept[g].fillna("").astype(str).to_numpy(dtype=object) for g in group_columns},
            dropped=dropped,
            fingerprint=fingerprint_frame(kept, [*text_columns, code_column]),
        )

    @property
    def n(self) -> int:
        """Number of records."""
        return len(self.truth)

    def texts(self) -> list[str]:
        """The record texts (text columns joined as the coder joins them). Never log these."""
        from statcoder.text import join_columns

        return list(join_columns(self.frame, self.text_columns))


@dataclass
class ModelPredictions:
    """One model's output on ``EvaluationData``: calibrated leaf probabilities and the coded frame."""

    version: str
    classes: list[str]
    proba: np.ndarray
    coded: pd.DataFrame
    coding_seconds: float
    proba_uncalibrated: np.ndarray | None = None

    @classmethod
    def from_coder(
        cls, coder: Any, data: EvaluationData, *, top_k: int = 5, on_progress: ProgressCallback | None = None,
        max_text_length: int | None = None,
    ) -> ModelPredictions:
        """Code ``data`` with ``coder`` (timed) and collect its probabilities.

        ``coding_seconds`` is the wall time of ``coder.code`` on all records (the throughput
        a user sees). ``max_text_length`` is handed to ``coder.code`` (the same handling as
        ``statcoder code``) and the probabilities use the texts as coded.
        Uncalibrated probabilities (softmax of the scores at temperature 1) are
        collected when the model exposes ``scores`` and a ``calibrator_`` (``HierarchicalCoder``).
        """
        started = time.perf_counter()
        coded = coder.code(data.frame, text_columns=data.text_columns, top_k=top_k, on_progress=on_progress,
                           max_text_length=max_text_length)
        seconds = time.perf_counter() - started
        texts = data.texts()
        if max_text_length is not None:
            texts = [t[:max_text_length] for t in texts]
        model = coder.model
        raw = None
        if callable(getattr(model, "scores", None)) and hasattr(model, "calibrator_") and model.deploy != "ensemble":
            # proba = calibrator(scores); softmax at temperature 1 = before calibration
            from statcoder.models.calibration import softmax

            scores = np.asarray(model.scores(texts), dtype=float)
            proba = model.calibrator_.predict_proba(scores)
            raw = softmax(scores, temperature=1.0)
        else:
            proba = np.asarray(coder.predict_proba(texts), dtype=float)
        return cls(
            version=str(coder.version),
            classes=[str(c) for c in coder.classes_],
            proba=proba,
            coded=coded.reset_index(drop=True),
            coding_seconds=seconds,
            proba_uncalibrated=raw,
        )

    def from_index(self) -> np.ndarray:
        """Boolean per record: was the code taken from the exact-match index?"""
        if "source" not in self.coded.columns:
            return np.zeros(len(self.coded), dtype=bool)
        return self.coded["source"].astype(str).to_numpy() == "index"

    def best_at_level(self, level: int, classification: Any) -> tuple[np.ndarray, np.ndarray]:
        """The most probable code at ``level`` and its probability, per record.

        Leaf probabilities are summed up the tree first. Index hits keep their index code
        (truncated to ``level``) with confidence 1. Returns ``(codes, confidence)``.
        """
        agg, codes = classification.aggregate(self.proba, self.classes, level)
        best = agg.argmax(axis=1)
        pred = np.asarray(codes, dtype=object)[best]
        conf = agg[np.arange(len(best)), best]
        hits = np.flatnonzero(self.from_index())
        if hits.size:
            pred = pred.copy()
            conf = conf.copy()
            index_codes = self.coded["predicted_code"].astype(str).to_numpy()
            for i in hits:
                code = index_codes[i]
                if code in classification and classification.level(code) >= level:
                    pred[i] = classification.truncate(code, level)
                    conf[i] = 1.0
        return pred, conf

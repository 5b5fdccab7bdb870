"""The Coder: a trained model, its classification, index and thresholds, applied to records.

``Coder.code`` turns records into the coded-output contract of ARCHITECTURE.md: the input
columns plus ``predicted_code``, ``predicted_level``, ``confidence``, ``decision``,
``source`` and ``candidates``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statcoder.classifications import Classification
from statcoder.coder.index import CodingIndex
from statcoder.coder.levels import best_by_level, level_aggregators
from statcoder.decision import REVIEW, decide
from statcoder.errors import ConfigurationError, InputError
from statcoder.text.normalise import check_lengths, join_columns

ProgressFn = Callable[[int, int, str], None]
OUTPUT_COLUMNS = ("predicted_code", "predicted_level", "confidence", "decision", "source", "candidates")
CHUNK = 2000


class Coder:
    """A ready-to-use automated coder. Create it with ``statcoder.train`` or ``Coder.load``."""

    def __init__(
        self,
        *,
        model: Any,
        classification: Classification,
        thresholds: dict[int, float],
        card: dict[str, Any],
        index: CodingIndex | None = None,
    ) -> None:
        self.model = model
        self.classification = classification
        self.thresholds = {int(k): float(v) for k, v in thresholds.items()}
        self.card = card
        self.index = index
        self.classes_: list[str] = [str(c) for c in model.classes_]
        self._levels = list(range(1, classification.depth + 1))
        self._aggregators = level_aggregators(classification, self.classes_)
        self._candidate_prefix = [
            '{"code": ' + json.dumps(c) + ', "title": ' + json.dumps(classification.title(c)) + ', "p": '
            for c in self.classes_
        ]

    @property
    def version(self) -> str:
        """Short content hash of the saved model (``m-...``), or ``unsaved``."""
        return str(self.card.get("version", "unsaved"))

    def __repr__(self) -> str:
        return f"Coder({self.classification.name}, {len(self.classes_)} classes, version={self.version})"

    # ---- probabilities ----------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return calibrated probabilities (n_texts, n_classes), columns in ``classes_`` order."""
        return self.model.predict_proba(list(texts))

    def best_by_level(self, proba: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per level: (best code per record, its probability summed up the tree)."""
        return best_by_level(proba, self._aggregators)

    def prediction_sets(
        self,
        data: pd.DataFrame | Sequence[str],
        *,
        coverage: float = 0.9,
        text_columns: Sequence[str] | None = None,
        where: str = "input",
    ) -> list[list[str]]:
        """Per record, the codes of its conformal prediction set (best first, never empty).

        The set holds the true code with probability >= ``coverage`` for records like the
        held-out ones (split-conformal APS on out-of-fold probabilities; see
        ``statcoder.decision.conformal``). ``coverage`` must be one the model was fitted for
        (0.9 and 0.95 by default). Empty texts get an empty list.
        """
        from statcoder.decision.conformal import prediction_sets

        quantile = self._conformal_quantile(coverage)
        if isinstance(data, pd.DataFrame):
            columns = list(text_columns or self.card.get("training_data", {}).get("text_columns", ["text"]))
            texts = join_columns(data, columns, where=where)
        else:
            texts = [str(t) for t in data]
        out: list[list[str]] = [[] for _ in texts]
        rows = [i for i, t in enumerate(texts) if t.strip()]
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            sets = prediction_sets(self.predict_proba([texts[i] for i in chunk]), self.classes_, quantile=quantile)
            for i, s in zip(chunk, sets, strict=True):
                out[i] = s
        return out

    def _conformal_quantile(self, coverage: float) -> float:
        fitted = (self.card.get("heldout") or {}).get("conformal") or []
        for entry in fitted:
            if abs(float(entry["coverage"]) - float(coverage)) < 1e-9:
                q = entry["quantile"]
                return float("inf") if q is None else float(q)
        if not fitted:
            raise ConfigurationError("this model has no conformal prediction-set quantiles",
                                     where=f"model {self.version}",
                                     hint="retrain or recalibrate the model with this statcoder version")
        offered = ", ".join(f"{float(e['coverage']):g}" for e in fitted)
        raise ConfigurationError(f"coverage {coverage} was not fitted for this model", where=f"model {self.version}",
                                 hint=f"use one of: {offered}")

    # ---- coding -------------------------------------------------------------------------------
    def code(
        self,
        data: pd.DataFrame | Sequence[str],
        *,
        text_columns: Sequence[str] = ("text",),
        top_k: int = 5,
        max_text_length: int | None = None,
        on_progress: ProgressFn | None = None,
        where: str = "input",
    ) -> pd.DataFrame:
        """Code every record; returns the input columns plus the coded-output columns.

        ``data`` is a DataFrame (texts in ``text_columns``, joined) or a sequence of texts.
        The index (when present) is consulted on the first text column before the model.
        Empty texts get decision ``review`` with no code. ``top_k`` candidates are listed.
        """
        if top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}", hint="use e.g. --top-k 5")
        frame = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame({"text": list(data)})
        if not isinstance(data, pd.DataFrame):
            text_columns = ("text",)
        texts = join_columns(frame, list(text_columns), where=where)
        if max_text_length is not None:
            check_lengths(texts, max_length=max_text_length, where=where)
        n = len(texts)
        code = np.full(n, "", dtype=object)
        level = np.zeros(n, dtype=np.int64)
        confidence = np.zeros(n, dtype=float)
        decision = np.full(n, REVIEW, dtype=object)
        source = np.full(n, "model", dtype=object)
        candidates = np.full(n, "[]", dtype=object)

        todo = np.ones(n, dtype=bool)
        if self.index is not None and len(self.index):
            first = join_columns(frame, [text_columns[0]], where=where)
            hits = self.index.lookup(first)
            for i, hit in enumerate(hits):
                if hit is not None:
                    code[i], level[i], confidence[i] = hit, self.classification.level(hit), 1.0
                    decision[i], source[i], todo[i] = "auto", "index", False
                    candidates[i] = json.dumps([{"code": hit, "title": self.classification.title(hit), "p": 1.0}])
        empty = np.array([not t.strip() for t in texts], dtype=bool)
        todo &= ~empty
        rows = np.flatnonzero(todo)
        # survey answers repeat a lot ("nurse", "teacher"): the model sees each distinct text once
        first_row: dict[str, int] = {}
        repeats = np.empty(len(rows), dtype=np.int64)
        for j, i in enumerate(rows):
            repeats[j] = first_row.setdefault(texts[i], int(i))
        distinct = np.fromiter(first_row.values(), dtype=np.int64, count=len(first_row))
        for start in range(0, len(distinct), CHUNK):
            chunk = distinct[start : start + CHUNK]
            self._code_chunk([texts[i] for i in chunk], chunk, top_k, code, level, confidence, decision, candidates)
            if on_progress is not None:
                on_progress(min(start + CHUNK, len(distinct)), len(distinct), "coding")
        for column in (code, level, confidence, decision, candidates):
            column[rows] = column[repeats]
        frame["predicted_code"] = code
        frame["predicted_level"] = level
        frame["confidence"] = confidence
        frame["decision"] = decision
        frame["source"] = source
        frame["candidates"] = candidates
        return frame

    def _code_chunk(self, texts, rows, top_k, code, level, confidence, decision, candidates) -> None:
        proba = self.predict_proba(texts)
        per_level = self.best_by_level(proba)
        depth = self.classification.depth
        chosen, dec = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=self.thresholds,
                             full_depth=depth)
        # review records keep the machine's best guess at the deepest level (not an accepted code)
        best_leaf = proba.argmax(axis=1)
        leaf_codes = np.asarray(self.classes_, dtype=object)[best_leaf]
        leaf_levels = np.array([self.classification.level(c) for c in leaf_codes], dtype=np.int64)
        out_code = leaf_codes.copy()
        out_level = leaf_levels.copy()
        out_conf = proba[np.arange(len(proba)), best_leaf]
        for lv in self._levels:
            mask = chosen == lv
            if mask.any():
                best, conf = per_level[lv]
                out_code[mask] = best[mask]
                out_level[mask] = lv
                out_conf[mask] = conf[mask]
        code[rows], level[rows], confidence[rows], decision[rows] = out_code, out_level, out_conf, dec
        k = min(top_k, proba.shape[1])
        top = np.argpartition(-proba, k - 1, axis=1)[:, :k] if k < proba.shape[1] else np.tile(np.arange(proba.shape[1]), (len(proba), 1))
        top_p = np.take_along_axis(proba, top, axis=1)
        order = np.argsort(-top_p, axis=1, kind="stable")
        top, top_p = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_p, order, axis=1)
        prefix = self._candidate_prefix
        candidates[rows] = [
            "[" + ", ".join(f"{prefix[j]}{p:.4f}}}" for j, p in zip(r, ps, strict=True)) + "]"
            for r, ps in zip(top.tolist(), top_p.tolist(), strict=True)
        ]

    def code_file(self, input_path: str | Path, *, text_columns: Sequence[str], top_k: int = 5,
                  max_text_length: int | None = None, on_progress: ProgressFn | None = None) -> pd.DataFrame:
        """Read ``input_path`` (any readable table format) and code it; returns the coded frame."""
        from statcoder.io import read_table

        frame = read_table(input_path)
        return self.code(frame, text_columns=text_columns, top_k=top_k, max_text_length=max_text_length,
                         on_progress=on_progress, where=str(input_path))

    # ---- persistence --------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model directory (card + safe weights) atomically; returns its path."""
        from statcoder.coder.storage import save_coder

        return save_coder(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> Coder:
        """Load a model directory, verifying hashes and format; raises ModelFileError if unsafe."""
        from statcoder.coder.storage import load_coder

        return load_coder(Path(directory))

"""The Coder: a trained model, its classification, index and thresholds, applied to records.

``Coder.code`` turns records into the coded-output contract (``statcoder.contract``): the
input columns plus ``predicted_code``, ``predicted_level``, ``confidence``, ``decision``,
``source`` and ``candidates``.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from statcoder.classifications import Classification
from statcoder.coder.hotpath import (
    LevelAggregator,
    candidate_prefixes,
    candidates_json,
    class_levels,
)
from statcoder.coder.index import CodingIndex
from statcoder.coder.levels import level_aggregators
from statcoder.contract import (
    CANDIDATES,
    CONFIDENCE,
    DECISION,
    OUTPUT_COLUMNS,
    PREDICTED_CODE,
    PREDICTED_LEVEL,
    SOURCE,
    Decision,
    Source,
)
from statcoder.decision import decide
from statcoder.errors import ConfigurationError, InputError
from statcoder.text.normalise import as_text, join_columns, truncate_texts

if TYPE_CHECKING:
    from statcoder.coder.card import ModelCard

ProgressFn = Callable[[int, int, str], None]
CHUNK = 2000
log = logging.getLogger(__name__)
__all__ = ["CHUNK", "OUTPUT_COLUMNS", "Coder", "ProgressFn", "SameDataCalibrationWarning"]


class SameDataCalibrationWarning(UserWarning):
    """A model is recalibrated on the records it was trained on (its promise would be optimistic)."""


class Coder:
    """A ready-to-use automated coder. Create it with ``statcoder.train`` or ``Coder.load``."""

    def __init__(
        self,
        *,
        model: Any,
        classification: Classification,
        thresholds: dict[int, float],
        card: ModelCard,
        index: CodingIndex | None = None,
        training_text_keys: frozenset[str] | None = None,
    ) -> None:
        self.model = model
        #: short hashes of the normalised training texts (statcoder.coder.overlap), None if unknown
        self.training_text_keys = training_text_keys
        self.classification = classification
        self.thresholds = {int(k): float(v) for k, v in thresholds.items()}
        self.card = card
        self.index = index
        self.classes_: list[str] = [str(c) for c in model.classes_]
        self._levels = list(range(1, classification.depth + 1))
        self._aggregators = level_aggregators(classification, self.classes_)
        self._level_best = LevelAggregator(self._aggregators)
        self._candidate_prefix = candidate_prefixes(classification, self.classes_)
        self._class_levels = class_levels(classification, self.classes_)

    @property
    def version(self) -> str:
        """Short content hash of the saved model (``m-...``), or ``unsaved``."""
        return self.card.version

    def __repr__(self) -> str:
        return f"Coder({self.classification.name}, {len(self.classes_)} classes, version={self.version})"

    # ---- probabilities ----------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return calibrated probabilities (n_texts, n_classes), columns in ``classes_`` order."""
        return self.model.predict_proba(list(texts))

    def best_by_level(self, proba: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per level: (best code per record, its probability summed up the tree)."""
        return self._level_best.best(proba)

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
            texts = join_columns(data, list(text_columns or self.card.limits.text_columns), where=where)
        else:
            texts = [str(t) for t in data]
        texts, _ = truncate_texts(texts, max_length=self.card.limits.max_text_length)
        out: list[list[str]] = [[] for _ in texts]
        rows = [i for i, t in enumerate(texts) if t.strip()]
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            sets = prediction_sets(self.predict_proba([texts[i] for i in chunk]), self.classes_, quantile=quantile)
            for i, s in zip(chunk, sets, strict=True):
                out[i] = s
        return out

    def _conformal_quantile(self, coverage: float) -> float:
        fitted = self.card.heldout.conformal
        for entry in fitted:
            if abs(entry.coverage - float(coverage)) < 1e-9:
                return float(entry.quantile)
        if not fitted:
            raise ConfigurationError("this model has no conformal prediction-set quantiles",
                                     where=f"model {self.version}",
                                     hint="retrain or recalibrate the model with this statcoder version")
        offered = ", ".join(f"{e.coverage:g}" for e in fitted)
        raise ConfigurationError(f"coverage {coverage} was not fitted for this model", where=f"model {self.version}",
                                 hint=f"use one of: {offered}")

    # ---- coding -------------------------------------------------------------------------------
    def code(
        self,
        data: pd.DataFrame | Sequence[str],
        *,
        text_columns: Sequence[str] | None = None,
        top_k: int = 5,
        max_text_length: int | None = None,
        on_progress: ProgressFn | None = None,
        where: str = "input",
    ) -> pd.DataFrame:
        """Code every record; returns the input columns plus the coded-output columns.

        ``data`` is a DataFrame (texts in ``text_columns``, joined; default: the columns the
        model was trained on) or a sequence of texts. Texts longer than ``max_text_length``
        (default: the model's training limit) are cut to it, as at training, with a warning.
        The index (when present) is consulted on the first text column before the model.
        Empty texts get decision ``review`` with no code. ``top_k`` candidates are listed.
        """
        if top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}", hint="pass top_k >= 1, e.g. 5 (CLI: --top-k)")
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame({"text": list(data)})
        if not isinstance(data, pd.DataFrame):
            text_columns = ("text",)
        elif text_columns is None:
            text_columns = self.card.limits.text_columns
        texts = join_columns(frame, list(text_columns), where=where)
        first = texts if len(text_columns) == 1 else join_columns(frame, [text_columns[0]], where=where)
        coded = self._code_joined(texts, first, top_k=top_k, max_text_length=max_text_length,
                                  on_progress=on_progress, where=where)
        return _with_columns(frame, coded)

    def code_texts(
        self,
        texts: Sequence[str],
        *,
        index_texts: Sequence[str] | None = None,
        top_k: int = 5,
        max_text_length: int | None = None,
        on_progress: ProgressFn | None = None,
        where: str = "input",
        margins: bool = False,
    ) -> dict[str, np.ndarray]:
        """Code one text per record; returns the coded-output columns as arrays (no frame, no dicts).

        The columnar core of :meth:`code`, for callers that build their own output (the
        coding service writes its JSON answer straight from these columns). ``texts`` holds
        one text per record (several text fields already joined with " | "); ``index_texts``
        the text the index looks up per record (the first text field; default: ``texts``).
        Values are taken as :func:`~statcoder.text.normalise.as_text` gives them, stripped.

        Returns a dict in :data:`~statcoder.contract.OUTPUT_COLUMNS` order: ``predicted_code``
        (object array of ``str``, "" when nothing was coded), ``predicted_level`` (int64),
        ``confidence`` (float64), ``decision``, ``source`` and ``candidates`` (object arrays
        of ``str``; candidates as a JSON list). ``code(frame)`` equals the frame's columns
        followed by these columns. ``margins=True`` adds ``margin`` (float64): p(best) -
        p(second) of the candidates as written (1.0 for an index hit, 0.0 without candidates),
        the order the review queue works in.
        """
        if top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}", hint="pass top_k >= 1, e.g. 5 (CLI: --top-k)")
        joined = [as_text(t).strip() for t in texts]
        first = joined if index_texts is None else [as_text(t).strip() for t in index_texts]
        if len(first) != len(joined):
            raise InputError(f"{len(first)} index texts for {len(joined)} texts", where=where,
                             hint="pass one index text (the first text field) per record")
        return self._code_joined(joined, first, top_k=top_k, max_text_length=max_text_length,
                                 on_progress=on_progress, where=where, margins=margins)

    def _code_joined(
        self, texts: list[str], first: list[str], *, top_k: int, max_text_length: int | None,
        on_progress: ProgressFn | None, where: str, margins: bool = False,
    ) -> dict[str, np.ndarray]:
        """Code normalised texts (``first``: what the index looks up); the output columns."""
        limit = self.card.limits.max_text_length if max_text_length is None else max_text_length
        texts, cut = truncate_texts(texts, max_length=limit)
        if cut:
            log.warning("%d text(s) longer than %d characters were cut to that length (%s)", len(cut), limit, where)
        n = len(texts)
        code = np.full(n, "", dtype=object)
        level = np.zeros(n, dtype=np.int64)
        confidence = np.zeros(n, dtype=float)
        decision = np.full(n, Decision.REVIEW.value, dtype=object)
        source = np.full(n, Source.MODEL.value, dtype=object)
        candidates = np.full(n, "[]", dtype=object)
        margin = np.zeros(n, dtype=float) if margins else None

        todo = np.ones(n, dtype=bool)
        if self.index is not None and len(self.index):
            hits = self.index.lookup(first)
            for i, hit in enumerate(hits):
                if hit is not None:
                    code[i], level[i], confidence[i] = hit, self.classification.level(hit), 1.0
                    decision[i], source[i], todo[i] = Decision.AUTO.value, Source.INDEX.value, False
                    candidates[i] = json.dumps([{"code": hit, "title": self.classification.title(hit), "p": 1.0}])
                    if margin is not None:
                        margin[i] = 1.0
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
            self._code_chunk([texts[i] for i in chunk], chunk, top_k, code, level, confidence, decision, candidates,
                             margin)
            if on_progress is not None:
                on_progress(min(start + CHUNK, len(distinct)), len(distinct), "coding distinct texts")
        for column in (code, level, confidence, decision, candidates) + ((margin,) if margin is not None else ()):
            column[rows] = column[repeats]
        out = {PREDICTED_CODE: code, PREDICTED_LEVEL: level, CONFIDENCE: confidence, DECISION: decision,
               SOURCE: source, CANDIDATES: candidates}
        if margin is not None:
            out["margin"] = margin
        return out

    def _code_chunk(self, texts, rows, top_k, code, level, confidence, decision, candidates, margin=None) -> None:
        proba = self.predict_proba(texts)
        per_level = self.best_by_level(proba)
        depth = self.classification.depth
        chosen, dec = decide({lv: c for lv, (_, c) in per_level.items()}, thresholds=self.thresholds,
                             full_depth=depth)
        # review records keep the machine's best guess at the deepest level (not an accepted code)
        best_leaf = proba.argmax(axis=1)
        leaf_codes = np.asarray(self.classes_, dtype=object)[best_leaf]
        leaf_levels = self._class_levels[best_leaf]
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
        chunk_margin = np.empty(len(proba)) if margin is not None else None
        candidates[rows] = candidates_json(self._candidate_prefix, proba, top_k, margins=chunk_margin)
        if margin is not None:
            margin[rows] = chunk_margin

    def code_file(self, input_path: str | Path, *, text_columns: Sequence[str] | None = None, top_k: int = 5,
                  max_text_length: int | None = None, on_progress: ProgressFn | None = None) -> pd.DataFrame:
        """Read ``input_path`` (any readable table format) and code it; returns the coded frame."""
        from statcoder.io import read_table

        frame = read_table(input_path)
        return self.code(frame, text_columns=text_columns, top_k=top_k, max_text_length=max_text_length,
                         on_progress=on_progress, where=str(input_path))

    # ---- recalibration -----------------------------------------------------------------------
    def recalibrate(
        self,
        texts: Sequence[str],
        codes: Sequence[str],
        *,
        source: str = "labelled sample of the target population",
        min_records: int = 200,
    ) -> Coder:
        """A new Coder whose calibration, thresholds and prediction sets are re-chosen on a sample.

        ``texts``/``codes`` are a labelled sample of the records that will be coded (e.g. the
        service's audited or double-coded decisions), unseen by the model. The model itself
        is unchanged; the card's ``calibration_data`` records which data the promise now
        refers to (``source``, fingerprint, n). Codes outside the classification are an error;
        codes the model never saw count as errors of the model.
        """
        from statcoder.coder.train import calibration_card, data_fingerprint

        texts = [str(t) for t in texts]
        codes = [str(c).strip() for c in codes]
        if len(texts) != len(codes):
            raise InputError(f"{len(texts)} texts for {len(codes)} codes", where="calibration data",
                             hint="pass one true code per text")
        unknown_rows = [i for i, c in enumerate(codes) if c not in self.classification]
        if unknown_rows:
            unknown = sorted({codes[i] for i in unknown_rows})
            raise InputError(
                f"{len(unknown_rows):,} of {len(codes):,} record(s) have codes not in {self.classification.name} "
                f"({len(unknown)} distinct: {', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}; "
                f"first at record {unknown_rows[0] + 1})", where=f"calibration data ({source})",
                hint=f"check that the sample is coded in {self.classification.name}, the model's classification "
                "(codes read as numbers lose leading zeros: read them as text); fix or leave out those records")
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if len(keep) < len(texts):
            warnings.warn(f"{len(texts) - len(keep):,} calibration record(s) with an empty text left out",
                          stacklevel=2)
        if len(keep) < min_records:
            raise InputError(f"the calibration sample has {len(keep)} usable record(s); at least {min_records} are needed",
                             where="calibration data",
                             hint="label more records of the target population (about 1,000 give useful thresholds)")
        texts, _ = truncate_texts([texts[i] for i in keep], max_length=self.card.limits.max_text_length)
        codes = [codes[i] for i in keep]
        model = self.model.recalibrated(texts, codes)
        fingerprint = data_fingerprint(texts, codes)
        if fingerprint == self.card.training_data.fingerprint:
            warnings.warn("the calibration sample is the model's training data: the promise would refer to records "
                          "the model has seen; use a labelled sample it was not trained on", SameDataCalibrationWarning,
                          stacklevel=2)
        card = calibration_card(self.card, model, source=source, fingerprint=fingerprint, n=len(codes))
        return Coder(model=model, classification=self.classification, thresholds=model.thresholds_, card=card,
                     index=self.index, training_text_keys=self.training_text_keys)

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


def _with_columns(frame: pd.DataFrame, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A new frame: ``frame``'s columns followed by ``columns`` (one concatenation, not one
    insertion per column; a column of ``frame`` with the same name is replaced in place)."""
    if any(name in frame.columns for name in columns) or not frame.columns.is_unique:
        out = frame.copy()
        for name, values in columns.items():
            out[name] = values
        return out
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)

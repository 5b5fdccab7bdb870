"""Scored records: what the monitor needs to know about one batch (the reference or a period).

A :class:`ScoredRecords` holds, per record, the text, the model's leaf probabilities and the
coded output (predicted code and level, confidence, decision), plus labels, audit codes and
auxiliary columns where they exist. :func:`score_frame` builds one from a data frame and a
:class:`~statcoder.coder.Coder`; tests and other callers can build one directly from arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from statcoder.classifications import Classification
from statcoder.errors import InputError

__all__ = ["CODED_COLUMNS", "LevelView", "ScoredRecords", "score_frame", "split_periods"]

from statcoder.contract import CODED_COLUMNS


@dataclass(frozen=True)
class LevelView:
    """Probabilities aggregated to one classification level, and the best code there."""

    level: int
    codes: list[str]  # column order of ``proba``
    proba: np.ndarray  # (n, len(codes)), rows sum to 1
    best: np.ndarray  # index into ``codes`` of the most probable code per record
    confidence: np.ndarray  # its probability

    @property
    def predicted(self) -> np.ndarray:
        """The most probable code at this level, per record (array of str)."""
        return np.asarray(self.codes, dtype=object)[self.best]


def level_groups(classification: Classification, classes: Sequence[str], level: int) -> tuple[np.ndarray, list[str]]:
    """Map each class to its ancestor at ``level`` (itself when not deeper).

    Returns (group index per class, group codes in classification order).
    """
    ancestors = [classification.truncate(c, level) for c in classes]
    order = {c: i for i, c in enumerate(classification.codes)}
    codes = sorted(set(ancestors), key=order.__getitem__)
    position = {c: i for i, c in enumerate(codes)}
    return np.array([position[a] for a in ancestors], dtype=np.int64), codes


@dataclass
class ScoredRecords:
    """One batch of coded records (reference or period); arrays are aligned by record."""

    classification: Classification
    classes: list[str]
    proba: np.ndarray
    texts: list[str]
    predicted_code: np.ndarray
    predicted_level: np.ndarray
    confidence: np.ndarray
    decision: np.ndarray
    labels: np.ndarray | None = None  # true leaf codes ("" = unknown)
    audit: np.ndarray | None = None  # audit codes ("" = not audited)
    columns: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def levels(self) -> dict[int, LevelView]:
        """One :class:`LevelView` per classification level present among the classes."""
        views = {}
        for level in range(1, self.classification.depth + 1):
            groups, codes = level_groups(self.classification, self.classes, level)
            proba = np.zeros((len(self), len(codes)))
            np.add.at(proba.T, groups, np.asarray(self.proba).T)
            best = proba.argmax(axis=1) if len(self) else np.zeros(0, dtype=int)
            views[level] = LevelView(level, codes, proba, best, proba[np.arange(len(self)), best])
        return views

    def correct_at(self, level: int, truth: np.ndarray) -> np.ndarray:
        """0/1 per record: the most probable code at ``level`` equals the truth truncated there.

        Records whose truth is empty or not in the classification count as wrong.
        """
        predicted = self.levels[level].predicted
        return np.array([
            1.0 if t and t in self.classification and self.classification.truncate(t, level) == p else 0.0
            for t, p in zip(truth, predicted, strict=True)
        ])

    def auto_correct(self, truth: np.ndarray) -> np.ndarray:
        """0/1 per record: the coded-output code equals the truth truncated to the predicted level."""
        out = np.zeros(len(self))
        for i, (t, code, level) in enumerate(zip(truth, self.predicted_code, self.predicted_level, strict=True)):
            if t and t in self.classification and int(level) >= 1:  # level 0 = empty text, no code
                out[i] = float(self.classification.truncate(t, int(level)) == code)
        return out

    def subset(self, index: np.ndarray) -> ScoredRecords:
        """The records at positions ``index`` (an int array) as a new batch."""
        index = np.asarray(index, dtype=int)

        def pick(a: Any) -> Any:
            return None if a is None else np.asarray(a)[index]

        return ScoredRecords(
            classification=self.classification, classes=self.classes, proba=self.proba[index],
            texts=[self.texts[i] for i in index], predicted_code=pick(self.predicted_code),
            predicted_level=pick(self.predicted_level), confidence=pick(self.confidence),
            decision=pick(self.decision), labels=pick(self.labels), audit=pick(self.audit),
            columns=self.columns.iloc[index].reset_index(drop=True) if len(self.columns.columns) else pd.DataFrame(),
        )


def _column(frame: pd.DataFrame, name: str | None, where: str) -> np.ndarray | None:
    if name is None:
        return None
    if name not in frame.columns:
        raise InputError(f"column {name!r} not found", where=where,
                         hint=f"available columns: {', '.join(map(str, frame.columns[:20]))}")
    return frame[name].fillna("").astype(str).str.strip().to_numpy(dtype=object)


def score_frame(
    coder: Any,
    frame: pd.DataFrame,
    *,
    text_columns: Sequence[str] = ("text",),
    label_column: str | None = None,
    audit_column: str | None = None,
    columns: Sequence[str] = (),
    where: str = "<frame>",
    on_progress: Any = None,
    max_text_length: int | None = None,
) -> ScoredRecords:
    """Run ``coder`` on ``frame`` and collect what the monitor needs.

    ``max_text_length`` is handed to ``coder.code`` (the same handling as ``statcoder code``);
    the probabilities are then computed on the texts as coded (cut at that length).

    Leaf probabilities always come from ``coder.predict_proba``. If the frame already carries
    the coded-output columns (predicted_code, predicted_level, confidence, decision), they are
    used as produced in production; otherwise ``coder.code`` computes them.
    """
    from statcoder.text import join_columns

    texts = join_columns(frame, list(text_columns), where=where)
    if texts and not any(t.strip() for t in texts):
        raise InputError(f"every text in {where} is empty", where=where,
                         hint="check the text column(s); a period needs some texts to be monitored")
    label = label_column if label_column and label_column in frame.columns else None
    audit = _column(frame, audit_column, where)
    for name in columns:
        if name not in frame.columns:
            raise InputError(f"auxiliary column {name!r} not found", where=where,
                             hint="drop it from columns (CLI: --column), or check the file; "
                                  f"the columns are: {', '.join(map(str, list(frame.columns)[:30]))}")
    aux = frame[list(columns)].astype(str).reset_index(drop=True) if columns else pd.DataFrame()
    if all(c in frame.columns for c in CODED_COLUMNS):
        coded = frame
    else:
        coded = coder.code(pd.DataFrame({"text": texts}), text_columns=["text"], on_progress=on_progress,
                           max_text_length=max_text_length, where=where)
    if max_text_length is not None:
        texts = [t[:max_text_length] for t in texts]
    proba = np.asarray(coder.predict_proba(texts))
    return ScoredRecords(
        classification=coder.classification,
        classes=list(coder.classes_),
        proba=proba,
        texts=texts,
        predicted_code=coded["predicted_code"].astype(str).to_numpy(dtype=object),
        predicted_level=pd.to_numeric(coded["predicted_level"]).to_numpy(dtype=int),
        confidence=pd.to_numeric(coded["confidence"]).to_numpy(dtype=float),
        decision=coded["decision"].astype(str).to_numpy(dtype=object),
        labels=_column(frame, label, where),
        audit=audit,
        columns=aux,
    )


def _period_sort_key(values: list[str]) -> list[str]:
    numeric = pd.to_numeric(pd.Series(values), errors="coerce")
    if numeric.notna().all():
        return [v for _, v in sorted(zip(numeric, values, strict=True))]
    return sorted(values)


def split_periods(
    frame: pd.DataFrame, *, period_column: str | None = None, chunk_size: int | None = None, where: str = "<frame>"
) -> list[tuple[str, pd.DataFrame]]:
    """Split a frame into (period name, rows) in time order.

    By ``period_column`` (numbers sort numerically, anything else as text, so ISO dates such
    as ``2025-03`` sort correctly), or by consecutive chunks of ``chunk_size`` records named
    ``"1"``, ``"2"``, ... (a last chunk under half the size is merged into the one before).
    """
    if period_column is not None:
        if period_column not in frame.columns:
            raise InputError(f"period column {period_column!r} not found", where=where,
                             hint="pass period_column with a column of the current file, or chunk_size N "
                                  "(CLI: --period-col C or --period-size N)")
        keys = frame[period_column].fillna("").astype(str)
        if (keys == "").any():
            raise InputError(f"{int((keys == '').sum())} rows have no period", where=f"{where}: column {period_column}",
                             hint="fill the period column for every row")
        return [(k, frame[keys == k].reset_index(drop=True)) for k in _period_sort_key(keys.unique().tolist())]
    if chunk_size is None or chunk_size < 1:
        raise InputError("no way to split the current data into periods", where=where,
                         hint="pass period_column, or chunk_size N >= 1 (CLI: --period-col C or --period-size N)")
    starts = list(range(0, len(frame), chunk_size))
    if len(starts) > 1 and len(frame) - starts[-1] < chunk_size / 2:
        starts.pop()
    bounds = [*starts[1:], len(frame)]
    return [(str(i + 1), frame.iloc[s:e].reset_index(drop=True)) for i, (s, e) in enumerate(zip(starts, bounds, strict=True))]

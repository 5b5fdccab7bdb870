"""One call that runs every training-data check and keeps the results together.

``check_training_data`` is what ``statcoder quality`` calls: personal data (optionally
redacted first, so the model never sees it), coverage of the classification, duplicates and
conflicts, coder agreement when there are several code columns, and label issues by confident
learning on out-of-fold probabilities (``HierarchicalCoder.oof_proba_``, the training recipe's own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.errors import InputError
from statcoder.quality.agreement import coder_agreement
from statcoder.quality.coverage import CoverageResult, coverage
from statcoder.quality.duplicates import DuplicatesResult, find_duplicates
from statcoder.quality.label_issues import LabelIssueResult, detect_label_issues
from statcoder.quality.pii import PiiDetector, PiiSummary, redact_frame

if TYPE_CHECKING:
    from statcoder.classifications import Classification

#: columns added to the suspicious records (they must not already exist in the input)
SUSPICIOUS_COLUMNS = (
    "row_number",
    "suggested_code",
    "suggested_title",
    "score",
    "p_given",
    "p_suggested",
    "relation",
    "common_level",
)


@dataclass
class QualityResult:
    """Everything ``check_training_data`` found.

    ``data`` is the input frame (redacted when redaction was asked for); ``label_issues`` is
    ``None`` when fewer than two codes were usable; ``agreement`` is ``None`` without coder
    columns; ``timings`` gives seconds per stage.
    """

    data: pd.DataFrame
    text_columns: list[str]
    code_column: str
    classification: Classification
    n_records: int
    n_without_code: int
    pii: PiiSummary
    redacted: bool
    coverage: CoverageResult
    duplicates: DuplicatesResult
    label_issues: LabelIssueResult | None
    agreement: pd.DataFrame | None
    settings: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def suspicious_records(self) -> pd.DataFrame:
        """The flagged records, most suspicious first: every input column plus the columns of ``SUSPICIOUS_COLUMNS``.

        ``row_number`` is the 1-based position of the record among the data rows of the input;
        ``score`` is the label quality score (0-1, low = likely wrong).
        """
        return suspicious_records(self.data, self.label_issues, self.classification)


def suspicious_records(
    data: pd.DataFrame, issues: LabelIssueResult | None, classification: Classification
) -> pd.DataFrame:
    """Input rows of the flagged records with the suggested code and scores added, best first."""
    clash = [c for c in SUSPICIOUS_COLUMNS if c in data.columns]
    if clash:
        raise InputError(
            f"the input already has column(s) {', '.join(clash)} that the suspicious-records file adds",
            hint="rename those columns in the input",
        )
    if issues is None or issues.issues.empty:
        return pd.DataFrame(columns=[*data.columns, *SUSPICIOUS_COLUMNS])
    frame = issues.issues
    rows = frame["row"].to_numpy(dtype=int)
    out = data.iloc[rows].reset_index(drop=True).copy()
    out["row_number"] = rows + 1
    out["suggested_code"] = frame["suggested_code"].to_numpy()
    out["suggested_title"] = [
        classification.title(c) if c in classification else "" for c in frame["suggested_code"]
    ]
    for col in ("score", "p_given", "p_suggested"):
        out[col] = frame[col].to_numpy()
    out["relation"] = frame["relation"].to_numpy() if "relation" in frame else ""
    out["common_level"] = frame["common_level"].to_numpy() if "common_level" in frame else pd.NA
    return out


def check_training_data(
    data: pd.DataFrame,
    *,
    text_columns: Sequence[str],
    code_column: str,
    classification: Classification,
    redact: bool = False,
    pii_detector: PiiDetector | None = None,
    coder_columns: Sequence[str] | None = None,
    expected_shares: Mapping[str, float] | None = None,
    min_examples: int = 5,
    filter_by: str = "both",
    score: str = "normalized_margin",
    group_level: int | None = None,
    backend: str = "linear",
    n_splits: int | None = None,
    seed: int = 0,
    proba: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    max_text_length: int | None = None,
    where: str = "training data",
) -> QualityResult:
    """Run all training-data checks on ``data`` and return a ``QualityResult``.

    ``max_text_length``: texts are cut to it (characters) as ``train`` cuts them; None: kept whole.
    Raises ``UnknownCodeError`` (as ``train`` and ``evaluate`` do) when not one code is in
    ``classification``: the data were coded in another classification. Some unknown codes are
    only counted (``coverage.unknown_codes``), since finding them is what the check is for.

    Records with an empty code (counted) or an empty text are left out of label-issue
    detection, as ``train`` leaves them out. The out-of-fold probabilities come from train's
    recipe (``out_of_fold_proba``: title examples, shared feature plan, ``n_splits`` folds,
    default 5 below 20,000 records and 3 above, as train), so on data train accepts, with the same
    seed and folds, the model's out-of-fold accuracy equals train's held-out accuracy. When
    ``proba``/``classes`` are given (out-of-fold probabilities for the records with a code and a
    text, in order; e.g. a trained coder's ``model.oof_proba_``) they are used instead of fitting one.
    """
    from statcoder.text import join_columns, truncate_texts

    text_columns = list(text_columns)
    needed = [*text_columns, code_column, *(coder_columns or [])]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(repr(c) for c in missing)} not found",
            hint=f"the columns are: {', '.join(map(str, list(data.columns)[:30]))}",
        )
    # before the slow checks: data coded in another classification is refused, as train refuses it
    check_codes_match_classification(data[code_column].fillna("").astype(str).str.strip().tolist(), classification,
                                     column=code_column, where=where)
    timings: dict[str, float] = {}
    step = _Steps(on_progress, total=5)

    t0 = time.perf_counter()
    detector = pii_detector or PiiDetector()
    if redact:
        data, pii = redact_frame(data, text_columns, detector=detector)
    else:
        _, pii = redact_frame(data, text_columns, detector=detector)
    timings["personal data"] = time.perf_counter() - t0
    step("personal data")

    texts = join_columns(data, text_columns)
    if max_text_length is not None:  # cut as `train` cuts them (the model checked is the one train fits)
        texts, _ = truncate_texts(texts, max_length=max_text_length)
    codes = data[code_column].fillna("").astype(str).str.strip().tolist()
    has_code = np.array([bool(c) for c in codes])
    coded_rows = np.flatnonzero(has_code)
    coded = [codes[i] for i in coded_rows]

    t0 = time.perf_counter()
    cov = coverage(coded, classification, min_examples=min_examples, expected_shares=expected_shares)
    timings["coverage"] = time.perf_counter() - t0
    step("coverage")

    t0 = time.perf_counter()
    dups = find_duplicates(texts, codes, classification=classification, group_level=group_level)
    timings["duplicates"] = time.perf_counter() - t0
    step("duplicates")

    agreement = None
    if coder_columns:
        t0 = time.perf_counter()
        agreement = coder_agreement(data[list(coder_columns)], classification)
        timings["coder agreement"] = time.perf_counter() - t0

    # label issues are judged on the rows train learns from (a code and a text), with train's folds,
    # so that the out-of-fold accuracy is the held-out accuracy `statcoder train` reports
    judged_rows = np.flatnonzero(has_code & np.array([bool(t.strip()) for t in texts], dtype=bool))
    judged = [codes[i] for i in judged_rows]
    from statcoder.coder.train import default_cv_folds

    n_splits = n_splits or default_cv_folds(len(judged))
    issues = None
    if len(set(judged)) >= 2:
        t0 = time.perf_counter()
        if proba is None:
            from statcoder.coder.estimator import out_of_fold_proba

            proba, classes = out_of_fold_proba(
                [texts[i] for i in judged_rows], judged, classification=classification, backend=backend,
                n_splits=n_splits, seed=seed, on_progress=on_progress,
            )
        elif classes is None or len(proba) != len(judged):
            raise InputError(
                "proba must have one row per record with a code, and classes must be given",
                hint="pass the out-of-fold probabilities of the coded records (a coder's oof_proba_)",
            )
        timings["out-of-fold probabilities"] = time.perf_counter() - t0
        step("out-of-fold probabilities")
        t0 = time.perf_counter()
        issues = detect_label_issues(
            judged, proba, list(classes), classification=classification, group_level=group_level,
            filter_by=filter_by, score=score,  # type: ignore[arg-type]
        )
        # rows of the issue table refer to the judged subset; map back to input positions
        issues.issues["row"] = judged_rows[issues.issues["row"].to_numpy(dtype=int)]
        issues.n_records = len(codes)
        timings["label issues"] = time.perf_counter() - t0
    step("label issues")

    return QualityResult(
        data=data,
        text_columns=text_columns,
        code_column=code_column,
        classification=classification,
        n_records=len(codes),
        n_without_code=int((~has_code).sum()),
        pii=pii,
        redacted=redact,
        coverage=cov,
        duplicates=dups,
        label_issues=issues,
        agreement=agreement,
        settings={
            "filter_by": filter_by,
            "score": score,
            "min_examples": min_examples,
            "backend": backend,
            "n_splits": n_splits,
            "seed": seed,
            "group_level": issues.group_level if issues else group_level,
        },
        timings=timings,
    )


def check_codes_match_classification(codes: Sequence[str], classification: Classification, *, column: str,
                                     where: str) -> None:
    """Raise the error ``train`` and ``evaluate`` raise when no non-empty code is in ``classification``.

    It is :func:`~statcoder.classifications.unknown.unknown_code_error`, whose hint then says
    "none of the codes given is in <name>: check ... (--classification)".
    """
    from statcoder.classifications.unknown import unknown_code_error, unknown_code_rows

    rows = unknown_code_rows(codes, classification)
    given = sum(1 for c in codes if c)
    if given and len(rows) >= given:
        raise unknown_code_error(codes, rows, classification=classification, column=column, where=where)


class _Steps:
    def __init__(self, callback: Callable[[int, int, str], None] | None, *, total: int) -> None:
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, name: str) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total, "quality checks")

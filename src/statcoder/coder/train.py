"""Training a Coder: check the data, run ``HierarchicalCoder`` (the recipe), write the card.

The recipe itself (out-of-fold scores, calibration, thresholds, prediction sets, what is
deployed) lives in ``statcoder.coder.estimator.HierarchicalCoder``; this module only checks
the training table and describes the result in a ``ModelCard``.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

import statcoder
from statcoder.classifications import Classification
from statcoder.classifications.unknown import count_of, unknown_code_error, unknown_code_rows
from statcoder.coder.card import (
    CalibrationDataRef,
    ClassificationRef,
    HeldoutFigures,
    ModelCard,
    TrainingDataSummary,
    TrainingLimits,
)
from statcoder.coder.coder import Coder, ProgressFn
from statcoder.coder.estimator import HierarchicalCoder
from statcoder.coder.index import CodingIndex
from statcoder.coder.levels import top_level_groups
from statcoder.errors import ConfigurationError, InputError
from statcoder.models.registry import BACKENDS, HIERARCHY_AWARE, make_model
from statcoder.text.head import check_head_weight
from statcoder.text.normalise import as_text, join_columns, truncate_texts

log = logging.getLogger(__name__)
OUT_OF_FOLD = "out-of-fold training data"


class NoTargetCalibrationWarning(UserWarning):
    """The promise refers to the training data's source, not to the records that will be coded."""


class RepeatedTextsWarning(UserWarning):
    """Many training records repeat another's text: the out-of-fold accuracy counts their twins as seen."""


#: share of training records repeating another record's text from which ``train`` warns
REPEATED_TEXTS_WARN = 0.05


def warn_repeated_texts(texts: Sequence[str], *, where: str = "training data") -> float:
    """Warn (``RepeatedTextsWarning``) when at least ``REPEATED_TEXTS_WARN`` of the records repeat
    an earlier record's text (case and surrounding blanks ignored); returns that share (0-1).

    Folds are drawn per record, so a record and its twin usually fall in different folds: the
    twin's out-of-fold score comes from a member that saw the same text. That is right when the
    texts to code repeat training texts at the same rate (common answers recur), and optimistic
    when they do not (a file concatenated twice, copies from another source)."""
    seen: set[str] = set()
    repeats = 0
    for text in texts:
        key = text.strip().lower()
        repeats += key in seen
        seen.add(key)
    share = repeats / len(texts) if len(texts) else 0.0
    if share >= REPEATED_TEXTS_WARN:
        warnings.warn(
            f"{repeats:,} of {len(texts):,} training records ({share:.0%}) repeat another record's text ({where}); "
            "the out-of-fold accuracy, and so the promise, counts them as seen: it holds for texts to code "
            "that repeat training texts as often. If they will not, remove the repeats (`statcoder quality` "
            "lists them) or run `statcoder calibrate` on a labelled sample of the texts to code",
            RepeatedTextsWarning, stacklevel=3)
    return share


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
    max_text_length: int | None = None,
    where: str = "training data",
) -> tuple[list[str], list[str], dict[str, int]]:
    """Return (texts, codes, counts) after checking the training table.

    Rows with empty text are dropped; codes not in the classification raise
    UnknownCodeError (``on_unknown_code="error"``) or are dropped (``"drop"``). Texts longer
    than ``max_text_length`` (default ``STATCODER_MAX_TEXT_LENGTH``) are cut to it, counted
    as ``counts["truncated"]`` and warned about.
    """
    if max_text_length is None:
        from statcoder.settings import get_settings

        max_text_length = get_settings().max_text_length
    if on_unknown_code not in ("error", "drop"):
        raise ConfigurationError(f"unknown-code handling must be 'error' or 'drop', not {on_unknown_code!r}",
                                 where="--on-unknown-code / on_unknown_code",
                                 hint="use error (stop) or drop (leave the rows out)")
    if code_column not in data.columns:
        raise InputError(f"code column {code_column!r} not found", where=where,
                         hint=f"the columns are: {', '.join(map(str, list(data.columns)[:30]))}")
    texts = join_columns(data, list(text_columns), where=where)
    codes = [as_text(c).strip() for c in data[code_column].tolist()]
    texts, cut = truncate_texts(texts, max_length=max_text_length)
    if cut:
        log.warning("%d training text(s) longer than %d characters were cut to that length (%s)",
                    len(cut), max_text_length, where)
    unknown_rows = unknown_code_rows(codes, classification)
    if unknown_rows and on_unknown_code == "error":
        raise unknown_code_error(codes, unknown_rows, classification=classification, column=code_column, where=where)
    keep = [i for i, (t, c) in enumerate(zip(texts, codes, strict=True)) if t.strip() and c and c in classification]
    dropped = {
        "empty_text": sum(1 for t in texts if not t.strip()),
        "empty_code": sum(1 for c in codes if not c),
        "unknown_code": len(unknown_rows),
        "truncated": len(set(cut) & set(keep)),
    }
    distinct = len({codes[i] for i in keep})
    if distinct < 2:
        left_out = ", ".join(f"{count_of(n, 'row')} {why}" for why, n in (
            ("with an empty text", dropped["empty_text"]), ("with an empty code", dropped["empty_code"]),
            ("with a code not in the classification", dropped["unknown_code"])) if n)
        raise InputError(
            f"training needs at least 2 different codes, but the usable rows ({len(keep):,}) carry "
            f"{distinct}" + (f"; left out: {left_out}" if left_out else ""),
            where=where, hint="check the text and code columns")
    return [texts[i] for i in keep], [codes[i] for i in keep], dropped


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
    max_text_length: int | None = None,
    model_params: dict[str, Any] | None = None,
    hierarchical: bool = True,
    deploy: str | None = None,
    select_model: bool = False,
    head_weight: float = 0.0,
    title_examples: bool = True,
    extra_examples: tuple[Sequence[str], Sequence[str]] | None = None,
    calibration_data: pd.DataFrame | None = None,
    calibration_source: str = "labelled sample of the target population",
    on_progress: ProgressFn | None = None,
    where: str = "training data",
) -> Coder:
    """Train a Coder on ``data`` and return it (unsaved; call ``.save(dir)``).

    ``cv_folds`` defaults to 5 below 20,000 records and 3 above. ``hierarchical`` (linear
    backend) uses one SVM over top-level groups and one per group; ``False`` a flat SVM.
    ``deploy`` is what is deployed (see ``HierarchicalCoder``; None = ``"mean"`` for the
    linear backend, one model with the members' mean weights, else ``"members"``).
    ``select_model`` (linear backend): choose among ``model_candidates`` (C grid, flat vs
    hierarchy-aware) by top-1 on the first cross-validation fold (recorded in the card's
    ``model_selection``). ``head_weight`` (linear backends, opt-in): weight of a feature block
    built from each text's head, its first line or field (``statcoder.text.head``); 0 = none
    (the default); recorded in the card. ``title_examples``: the classification's titles of the codes in the
    training data are added to every member's training data (never used for calibration);
    ``extra_examples`` = (texts, codes) likewise, e.g. a classification's notes
    (``note_examples``); their codes must be in the classification.
    ``calibration_data`` (same
    columns as ``data``) is a labelled sample of the records that will be coded: when given,
    calibration and thresholds are re-chosen on it (``Coder.recalibrate``); when not, a
    ``NoTargetCalibrationWarning`` says that the promise refers to the training data's source.
    """
    if backend not in BACKENDS:
        raise ConfigurationError(f"unknown backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}")
    if not 0.0 < target_accuracy < 1.0:
        raise ConfigurationError(f"target accuracy must be between 0 and 1, got {target_accuracy}", hint="e.g. 0.95")
    head_weight = check_head_weight((model_params or {}).get("head_weight", head_weight))
    if head_weight > 0 and backend not in HIERARCHY_AWARE:
        raise ConfigurationError(f"a head weight works with the linear backends only, not {backend!r}",
                                 where="head_weight", hint="use backend 'linear' or 'linear+fasttext', or head weight 0")
    if max_text_length is None:
        from statcoder.settings import get_settings

        max_text_length = get_settings().max_text_length
    started = time.perf_counter()
    texts, codes, dropped = prepare_training_data(
        data, text_columns=text_columns, code_column=code_column, classification=classification,
        on_unknown_code=on_unknown_code, max_text_length=max_text_length, where=where,
    )
    warn_repeated_texts(texts, where=where)
    if index is not None:
        index.validate(classification)
    params = dict(model_params or {})
    if head_weight > 0:
        params["head_weight"] = head_weight
    if backend in HIERARCHY_AWARE and hierarchical and "groups" not in params and classification.depth > 1:
        # hierarchy-aware model: one SVM over top-level groups, one per group over its codes
        params["groups"] = top_level_groups(classification, codes)
    folds = cv_folds or default_cv_folds(len(texts))
    if folds < 2:
        raise ConfigurationError(f"cv_folds must be at least 2, got {folds}", hint="e.g. cv_folds=5 (CLI: --cv-folds 5)")
    base = make_model(backend, seed=seed, **params)
    if deploy is None:
        deploy = "mean" if callable(getattr(base, "plan_fit", None)) else "members"
    candidates = model_candidates(base, hierarchical=bool(params.get("groups"))) if select_model else None
    extra = _extra_examples(classification, codes, title_examples, extra_examples)
    model = HierarchicalCoder(base, classification=classification, target_accuracy=target_accuracy, cv=folds,
                              deploy=deploy, seed=seed, candidates=candidates).fit(
        texts, codes, extra_examples=extra, on_progress=on_progress)
    chosen = clone(base).set_params(**model.best_params_)  # not ``base``: it is the estimator's parameter
    n_truncated = dropped.pop("truncated")
    card = ModelCard(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        backend=backend,
        model_params={k: (list(v) if isinstance(v, tuple) else v) for k, v in chosen.get_params().items()
                      if k != "groups"},
        hierarchical_model=bool(chosen.get_params().get("groups")),
        head_weight=head_weight,
        deploy=deploy,
        seed=seed,
        target_accuracy=target_accuracy,
        confidence_level=float(model.confidence_level),
        classification=ClassificationRef(name=classification.name, version=classification.version,
                                         fingerprint=classification.fingerprint, depth=classification.depth,
                                         n_codes=len(classification)),
        training_data=TrainingDataSummary(fingerprint=data_fingerprint(texts, codes), n_records=len(texts),
                                          n_codes=len(model.classes_), text_columns=tuple(text_columns),
                                          code_column=code_column, dropped=dropped, n_truncated=n_truncated),
        limits=TrainingLimits(max_text_length=int(max_text_length), text_columns=tuple(text_columns),
                              target_accuracy=target_accuracy),
        calibration_data=CalibrationDataRef(source=OUT_OF_FOLD, fingerprint=data_fingerprint(texts, codes),
                                            n=len(texts), target_population=False),
        heldout=heldout_figures(model, cv_folds=folds),
        thresholds=dict(model.thresholds_),
        train_seconds=round(time.perf_counter() - started, 3),
        library_versions=_versions(),
        index_entries=len(index) if index is not None else 0,
        model_selection=_selection(model, title_examples=title_examples, extra=extra, given=extra_examples),
    )
    from statcoder.coder.overlap import text_keys

    coder = Coder(model=model, classification=classification, thresholds=model.thresholds_, card=card, index=index,
                  training_text_keys=text_keys(texts))
    if calibration_data is not None:
        return coder.recalibrate(join_columns(calibration_data, list(text_columns), where="calibration data"),
                                 [as_text(c) for c in _column(calibration_data, code_column)],
                                 source=calibration_source)
    warnings.warn(
        "no calibration data from the target population was given: the accuracy promise refers to records "
        "like the training data; if the texts to code come from another source, run `statcoder calibrate` "
        "on a labelled sample of them", NoTargetCalibrationWarning, stacklevel=2)
    return coder


def default_cv_folds(n_records: int) -> int:
    """Return the cross-validation folds used when none are given: 5, or 3 from 20,000 records on
    (each fold then holds enough records, and training stays within its time budget)."""
    return 5 if n_records < 20_000 else 3


#: the C values ``select_model`` tries besides the base model's own (one first-fold member each)
C_GRID = (0.5, 2.0)


def model_candidates(base: Any, *, hierarchical: bool) -> list[dict[str, Any]] | None:
    """Parameter changes ``train(select_model=True)`` chooses among: the base model first (it wins
    ties), other C values, and the flat model when the base is hierarchy-aware. None for backends
    without a C (nothing to choose)."""
    if "C" not in base.get_params():
        return None
    own = float(base.get_params()["C"])
    out: list[dict[str, Any]] = [{}] + [{"C": c} for c in C_GRID if c != own]
    if hierarchical:
        out.append({"groups": None})
    return out


def title_pairs(classification: Classification, codes: Sequence[str]) -> tuple[list[str], list[str]]:
    """(title, code) of every distinct training code that has a title in ``classification``."""
    pairs = [(classification.title(c), c) for c in sorted(set(codes)) if classification.title(c).strip()]
    return [t for t, _ in pairs], [c for _, c in pairs]


def note_examples(path: Any, *, columns: Sequence[str] = ("includes",),
                  codes: set[str] | None = None) -> tuple[list[str], list[str]]:
    """(text, code) pairs from a classification CSV's note columns (default ``includes``: the
    examples of occupations classified here), one pair per non-empty line, ``* `` bullets
    stripped; only ``codes`` when given. For ``train(extra_examples=...)``.

    Raises InputError when the file lacks a ``code`` column or every one of ``columns``.
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    present = [c for c in columns if c in frame.columns]
    if "code" not in frame.columns or not present:
        what = "no column 'code'" if "code" not in frame.columns else \
            f"none of the note columns {', '.join(map(repr, columns))} is"
        raise InputError(f"{what} in the classification file", where=str(path),
                         hint=f"the columns are: {', '.join(map(str, frame.columns))}")
    texts, out_codes = [], []
    for row in frame.itertuples(index=False):
        code = str(row.code).strip()
        if codes is not None and code not in codes:
            continue
        for column in present:
            for line in str(getattr(row, column)).splitlines():
                text = line.strip().lstrip("*").strip()
                if text:
                    texts.append(text)
                    out_codes.append(code)
    return texts, out_codes


def _extra_examples(classification: Classification, codes: Sequence[str], titles: bool,
                    given: tuple[Sequence[str], Sequence[str]] | None) -> tuple[list[str], list[str]] | None:
    """The titles (when asked) followed by the given extra examples; None when there are none."""
    texts, out = title_pairs(classification, codes) if titles else ([], [])
    if given is not None:
        g_texts, g_codes = [as_text(t) for t in given[0]], [as_text(c).strip() for c in given[1]]
        if len(g_texts) != len(g_codes):
            raise InputError(f"{len(g_codes)} codes for {len(g_texts)} extra example texts",
                             where="train(extra_examples=...)", hint="pass (texts, codes) of equal length")
        unknown = sorted({c for c in g_codes if c not in classification})
        if unknown:
            raise InputError(f"{len(unknown)} extra example code(s) not in {classification.name}, e.g. {unknown[0]!r}",
                             where="train(extra_examples=...)", hint="pass codes of the training classification")
        keep = [i for i, t in enumerate(g_texts) if t.strip()]
        texts, out = texts + [g_texts[i] for i in keep], out + [g_codes[i] for i in keep]
    return (texts, out) if texts else None


def _selection(model: HierarchicalCoder, *, title_examples: bool, extra: Any, given: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if model.candidates:
        out = {"candidates": [dict(c) for c in model.candidates], **model.selection_,
               "criterion": "top-1 on the first cross-validation fold's held-out records"}
    n_extra = len(extra[0]) if extra else 0
    n_given = len([t for t in given[0] if as_text(t).strip()]) if given is not None else 0
    if title_examples:
        out["title_examples"] = n_extra - n_given
    if given is not None:
        out["extra_examples"] = n_given
    return out


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    if name not in frame.columns:
        raise InputError(f"code column {name!r} not found", where="calibration data",
                         hint=f"the columns are: {', '.join(map(str, list(frame.columns)[:30]))}")
    return frame[name].tolist()


def heldout_figures(model: HierarchicalCoder, *, cv_folds: int) -> HeldoutFigures:
    """The card's held-out figures from a fitted (or recalibrated) ``HierarchicalCoder``."""
    return HeldoutFigures(
        n=int(model.n_calibration_), cv_folds=cv_folds, accuracy=model.heldout_accuracy_, ece=model.ece_,
        ece_before_calibration=model.ece_raw_, temperature=model.temperature_, levels=model.level_figures_,
        decisions=model.decision_figures_, conformal=tuple(model.conformal_))


def calibration_card(card: ModelCard, model: HierarchicalCoder, *, source: str, fingerprint: str,
                     n: int) -> ModelCard:
    """``card`` after recalibration of ``model`` on ``n`` records of the target population."""
    return card.with_(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        calibration_data=CalibrationDataRef(source=source, fingerprint=fingerprint, n=n, target_population=True),
        heldout=heldout_figures(model, cv_folds=0), thresholds=dict(model.thresholds_),
        version="unsaved", content_hash="", files={},
    )


def _versions() -> dict[str, str]:
    import scipy
    import sklearn

    return {"statcoder": statcoder.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__, "pandas": pd.__version__}

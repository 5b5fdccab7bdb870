"""The model-decay monitor: ``Monitor(coder).fit(reference).calculate(periods)``.

``fit`` learns everything the signals compare against from the labelled reference set (the
model's held-out data): the vocabulary, text lengths, predicted-code mix, decision shares,
reference accuracy per level and of auto-coded records, the CBPE recalibration, the ATC
thresholds and the class priors. ``calculate`` scores each production period, computes every
signal, applies the alert policy and returns a :class:`MonitoringResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from statcoder.errors import ConfigurationError, InputError, NotFittedError
from statcoder.monitoring import signals as sig
from statcoder.monitoring.alerts import AlertPolicy
from statcoder.monitoring.input_drift import (
    _is_numeric,
    new_frequent_tokens,
    record_token_counts,
    vocabulary,
)
from statcoder.monitoring.performance import (
    Estimate,
    TopLabelCalibrator,
    bcts_transform,
    fit_atc,
    fit_bcts,
)
from statcoder.monitoring.records import ScoredRecords, score_frame, split_periods
from statcoder.monitoring.result import MonitoringResult

__all__ = ["ESTIMATORS", "Monitor"]

ESTIMATORS = ("average_confidence", "cbpe", "atc")  # plus "label_shift" with label_shift=True
Periods = pd.DataFrame | Mapping[str, pd.DataFrame | ScoredRecords] | Sequence[tuple[str, Any]]


class Monitor:
    """Compare production periods with the reference; NannyML-style fit / calculate.

    Parameters are stored untouched; ``fit`` validates them. ``coder`` is a
    :class:`statcoder.coder.Coder` (it may be None when only :class:`ScoredRecords` are passed).
    ``label_column`` names the true code in the reference (and, for back-testing, in periods);
    ``audit_column`` the code given blind by an auditor to sampled auto-coded records (empty
    elsewhere). ``columns`` are auxiliary columns whose drift is tested. Periods come from
    ``period_column`` or consecutive chunks of ``chunk_size`` records.
    """

    def __init__(
        self,
        coder: Any = None,
        *,
        text_columns: Sequence[str] = ("text",),
        label_column: str = "code",
        audit_column: str | None = None,
        columns: Sequence[str] = (),
        period_column: str | None = None,
        chunk_size: int | None = None,
        estimators: Sequence[str] = ESTIMATORS,
        label_shift: bool = False,
        label_shift_level: int = 1,
        policy: AlertPolicy | None = None,
        domain_classifier: bool = True,
        domain_permutations: int = 20,
        domain_max_records: int = 500,
        n_permutations: int = 200,
        smoothing: float = 0.5,
        cusum_simulations: int = 5000,
        new_tokens: int = 10,
        max_text_length: int | None = None,
        seed: int = 0,
    ) -> None:
        self.coder = coder
        self.max_text_length = max_text_length
        self.text_columns = text_columns
        self.label_column = label_column
        self.audit_column = audit_column
        self.columns = columns
        self.period_column = period_column
        self.chunk_size = chunk_size
        self.estimators = estimators
        self.label_shift = label_shift
        self.label_shift_level = label_shift_level
        self.policy = policy
        self.domain_classifier = domain_classifier
        self.domain_permutations = domain_permutations
        self.domain_max_records = domain_max_records
        self.n_permutations = n_permutations
        self.smoothing = smoothing
        self.cusum_simulations = cusum_simulations
        self.new_tokens = new_tokens
        self.seed = seed

    # ---- fit ---------------------------------------------------------------------------------
    def _score(self, data: pd.DataFrame | ScoredRecords, where: str, *, audit: bool,
               on_progress: Callable[..., None] | None = None) -> ScoredRecords:
        if isinstance(data, ScoredRecords):
            return data
        if self.coder is None:
            raise ConfigurationError("the monitor has no coder to score a data frame",
                                     hint="pass Monitor(coder, ...) or ScoredRecords")
        return score_frame(self.coder, data, text_columns=self.text_columns, label_column=self.label_column,
                           audit_column=self.audit_column if audit and self.audit_column in data.columns else None,
                           columns=self.columns, where=where, on_progress=on_progress,
                           max_text_length=self.max_text_length)

    def _validate(self) -> None:
        unknown = [e for e in self.estimators if e not in ESTIMATORS]
        if unknown or not self.estimators:
            raise ConfigurationError(f"unknown estimator(s) {unknown}", hint=f"choose from {', '.join(ESTIMATORS)}")
        self.policy_ = (self.policy or AlertPolicy()).validate()
        if self.policy_.estimator not in (*self.estimators, "label_shift"):
            raise ConfigurationError(f"alert estimator {self.policy_.estimator!r} is not computed",
                                     hint=f"add it to estimators={list(self.estimators)}")
        if self.policy_.estimator == "label_shift" and not self.label_shift:
            raise ConfigurationError("alert estimator 'label_shift' needs label_shift=True",
                                     hint="pass label_shift=True (--label-shift)")

    def fit(self, reference: pd.DataFrame | ScoredRecords, *, training_texts: Sequence[str] | None = None) -> Monitor:
        """Learn the reference state from labelled held-out records. Returns self.

        The unseen-token share needs the training vocabulary: pass ``training_texts`` (the texts
        the model was trained on). Without them the reference is split in two random halves,
        the vocabulary is taken from one half and both the reference share and every period's
        share are measured against it, which keeps them comparable.
        """
        self._validate()
        ref = self._score(reference, "reference", audit=False)
        if ref.labels is None or not np.any(ref.labels != ""):
            raise InputError(f"the reference has no labels in column {self.label_column!r}", where="reference",
                             hint="the reference must be labelled held-out data (pass label_column=...)")
        known = np.flatnonzero(ref.labels != "")
        ref = ref.subset(known) if len(known) < len(ref) else ref
        if len(ref) < 50:
            raise InputError(f"the reference has only {len(ref)} labelled records", where="reference",
                             hint="use at least a few hundred held-out records")
        self.reference_ = ref
        from statcoder.coder.overlap import training_overlap

        # the training data as reference: no unseen tokens, optimistic accuracy, then false alerts
        self.reference_overlap_ = training_overlap(self.coder, ref.texts, list(ref.labels), training_texts=training_texts)
        self.reference_overlap_.warn("the monitoring reference")
        rng = np.random.default_rng(self.seed)
        if training_texts is not None:
            self.vocabulary_ = vocabulary(training_texts)
            self.vocabulary_source_ = "training texts"
            self._token_reference_texts = ref.texts
        else:
            half = rng.permutation(len(ref))
            first, second = half[: len(ref) // 2], half[len(ref) // 2 :]
            self.vocabulary_ = vocabulary(ref.texts[i] for i in first)
            self.vocabulary_source_ = "half of the reference (no training texts given)"
            self._token_reference_texts = [ref.texts[i] for i in second]
        self.reference_token_counts_ = record_token_counts(self._token_reference_texts, self.vocabulary_)
        self.reference_lengths_ = np.array([len(t) for t in ref.texts], dtype=float)
        self.column_kinds_ = {c: ("numeric" if _is_numeric(ref.columns[c]) else "categorical") for c in self.columns}

        self.reference_correct_ = {level: ref.correct_at(level, ref.labels) for level in ref.levels}
        auto = ref.decision == "auto"
        self.reference_auto_correct_ = ref.auto_correct(ref.labels)[auto]
        # accuracy of auto-coded records (and the audit signals) need some in the reference
        self.has_auto_ = bool(auto.sum() >= 20)
        self.calibrators_: dict[int | None, TopLabelCalibrator] = {}
        self.atc_ = {}
        top = ref.levels[1].predicted  # predicted top-level group: CBPE calibrates per group
        for level, view in ref.levels.items():
            self.calibrators_[level] = TopLabelCalibrator().fit(view.confidence, self.reference_correct_[level], top)
            self.atc_[level] = fit_atc(view.confidence, self.reference_correct_[level], seed=self.seed)
        if self.has_auto_:
            self.calibrators_[None] = TopLabelCalibrator().fit(ref.confidence[auto], self.reference_auto_correct_,
                                                               top[auto])
            self.atc_[None] = fit_atc(ref.confidence[auto], self.reference_auto_correct_, seed=self.seed)
        if self.label_shift:
            if self.label_shift_level not in ref.levels:
                raise ConfigurationError(f"label_shift_level {self.label_shift_level} is not a level",
                                         hint=f"use 1..{max(ref.levels)}")
            view = ref.levels[self.label_shift_level]
            position = {c: i for i, c in enumerate(view.codes)}
            truth = [ref.classification.truncate(t, self.label_shift_level) if t in ref.classification else ""
                     for t in ref.labels]
            self.reference_group_ = np.array([position.get(t, -1) for t in truth], dtype=int)
            known = self.reference_group_ >= 0
            self.bcts_ = fit_bcts(view.proba[known], self.reference_group_[known])
            self.reference_prior_ = bcts_transform(view.proba, *self.bcts_).mean(axis=0)
            # records whose true group the model cannot predict keep weight 1 (index k, see signals)
            self.reference_group_[~known] = len(view.codes)
        found = sig.estimates(self, ref)
        self.reference_estimates_: dict[tuple[str, int | None], Estimate] = {}
        for (name, level), est in found.items():
            if name == "atc":  # ATC reproduces the reference accuracy by construction
                correct = self.reference_correct_[level] if level is not None else self.reference_auto_correct_
                acc = float(correct.mean())
                se = float(np.sqrt(acc * (1 - acc) / len(correct)))
                est = Estimate(acc, acc, acc, se, se, len(correct))
            self.reference_estimates_[name, level] = est
        return self

    # ---- calculate ---------------------------------------------------------------------------
    def _periods(self, current: Periods) -> list[tuple[str, Any]]:
        if isinstance(current, pd.DataFrame):
            return split_periods(current, period_column=self.period_column, chunk_size=self.chunk_size,
                                 where="current")
        if isinstance(current, Mapping):
            return [(str(k), v) for k, v in current.items()]
        return [(str(k), v) for k, v in current]

    def calculate(self, current: Periods, *, on_progress: Callable[..., None] | None = None) -> MonitoringResult:
        """Compute every signal for each period (in time order) and the alerts.

        ``current`` is a data frame split by ``period_column`` / ``chunk_size``, or a mapping
        (or list of pairs) from period name to a data frame or :class:`ScoredRecords`.
        ``on_progress(done, total, description)`` is called after each period.
        """
        if not hasattr(self, "reference_"):
            raise NotFittedError("the monitor is not fitted", hint="call fit(reference) first")
        parts = self._periods(current)
        if not parts:
            raise InputError("no periods to monitor", where="current", hint="the current data is empty")
        names, rows, errors, tokens, sizes = [], [], [], {}, {}
        has_audit = False
        for i, (name, data) in enumerate(parts):
            batch = self._score(data, f"period {name}", audit=True)
            if len(batch) == 0:
                continue
            names.append(name)
            sizes[name] = len(batch)
            rows += sig.input_signals(self, name, batch)
            rows += sig.output_signals(self, name, batch)
            found = sig.estimates(self, batch)
            rows += sig.performance_signals(self, name, batch, found)
            if batch.audit is not None and self.has_auto_:
                has_audit = True
                rows += sig.audit_signals(self, name, batch, found)
            errors.append(sig.audited_errors(batch))
            tokens[name] = new_frequent_tokens(self._token_reference_texts, batch.texts, vocab=self.vocabulary_,
                                               top=self.new_tokens).to_dict(orient="records")
            if on_progress:
                on_progress(i + 1, len(parts), "monitoring periods")
        if has_audit:
            rows += sig.cusum_rows(self, names, errors)
        frame = pd.DataFrame(rows, columns=list(sig.ROW_KEYS))
        frame["level"] = frame["level"].astype("Int64")
        return MonitoringResult.build(frame, periods=names, sizes=sizes, tokens=tokens, policy=self.policy_,
                                      reference=self._reference_summary(), settings=self._settings())

    def _reference_summary(self) -> dict[str, Any]:
        ref = self.reference_
        card = self.coder.card if hasattr(self.coder, "card") else None
        return {
            "n_records": len(ref),
            "model_version": getattr(self.coder, "version", ""),
            "classification": getattr(ref.classification, "name", ""),
            "accuracy": {str(level): float(c.mean()) for level, c in self.reference_correct_.items()},
            "auto_accuracy": float(self.reference_auto_correct_.mean()) if self.has_auto_ else None,
            "n_auto": len(self.reference_auto_correct_),
            "decision_shares": {d: float(np.mean(ref.decision == d)) for d in sig.DECISIONS},
            "vocabulary_source": self.vocabulary_source_,
            "model_created": card.created if card is not None else "",
            "training_overlap": {**self.reference_overlap_.to_dict(),
                                 "warning": self.reference_overlap_.warning("the monitoring reference")},
        }

    def _settings(self) -> dict[str, Any]:
        return {
            "estimators": list(self.estimators), "label_shift": self.label_shift,
            "label_shift_level": self.label_shift_level, "n_permutations": self.n_permutations,
            "domain_permutations": self.domain_permutations, "smoothing": self.smoothing,
            "seed": self.seed, "audit_column": self.audit_column, "columns": list(self.columns),
        }

"""The per-period signal rows: one function per group of signals (input, output, performance, audit).

Each function returns a list of row dicts with the keys of :data:`ROW_KEYS`. ``size`` is
oriented so that a positive value is a deterioration (accuracy drops, PSI beyond noise, KS D,
rise of unseen tokens); decision shares carry their signed change. ``lower``/``upper`` are the
interval of ``value`` for estimates and audit accuracy, and the limits under "no change" for
control-chart signals (decision shares, domain AUC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from statcoder.monitoring.audit import (
    audit_accuracy,
    bernoulli_cusum,
    cusum_null_maxima,
    cusum_p_value,
)
from statcoder.monitoring.input_drift import (
    column_drift,
    domain_classifier_auc,
    oov_test,
    record_token_counts,
)
from statcoder.monitoring.performance import (
    Estimate,
    atc_estimate,
    average_confidence,
    bcts_transform,
    em_label_shift,
    reweighted_accuracy,
)
from statcoder.monitoring.stats import (
    aligned_counts,
    category_shift_test,
    ks_test,
    two_proportion_test,
)

if TYPE_CHECKING:
    from statcoder.monitoring.monitor import Monitor
    from statcoder.monitoring.records import ScoredRecords

ROW_KEYS = ("period", "signal", "level", "value", "reference", "size", "lower", "upper",
            "p_value", "testable", "n", "change_start")
from statcoder.contract import DECISIONS

NAN = float("nan")


def row(period: str, signal: str, level: int | None, value: float, reference: float, size: float,
        p_value: float, *, lower: float = NAN, upper: float = NAN, testable: bool = True,
        n: int = 0, change_start: str = "") -> dict[str, Any]:
    """One signal row (see the module docstring for the meaning of each key)."""
    return {"period": period, "signal": signal, "level": level, "value": float(value),
            "reference": float(reference), "size": float(size), "lower": float(lower),
            "upper": float(upper), "p_value": float(p_value), "testable": testable, "n": int(n),
            "change_start": change_start}


def _drop_p(value: float, se: float, ref_value: float, ref_se: float) -> float:
    se_total = float(np.hypot(se, ref_se))
    if not np.isfinite(se_total) or np.isnan(value):
        return NAN
    if se_total == 0:
        return 0.0 if ref_value > value else 1.0
    return float(stats.norm.sf((ref_value - value) / se_total))


def input_signals(m: Monitor, period: str, batch: ScoredRecords) -> list[dict[str, Any]]:
    """Text length, unseen-token share, domain-classifier AUC and auxiliary-column drift."""
    rows = []
    lengths = np.array([len(t) for t in batch.texts], dtype=float)
    d, p = ks_test(m.reference_lengths_, lengths)
    rows.append(row(period, "text_length", None, lengths.mean() if len(lengths) else NAN,
                    m.reference_lengths_.mean(), d, p, n=len(batch)))
    counts = record_token_counts(batch.texts, m.vocabulary_)
    ref_share, share, p = oov_test(m.reference_token_counts_, counts)
    rows.append(row(period, "oov_share", None, share, ref_share, share - ref_share, p, n=len(batch)))
    if m.domain_classifier:
        dc = domain_classifier_auc(m.reference_.texts, batch.texts, n_permutations=m.domain_permutations,
                                   max_per_side=m.domain_max_records, seed=m.seed)
        low = dc.null_mean - (dc.threshold - dc.null_mean)
        rows.append(row(period, "domain_auc", None, dc.auc, dc.null_mean, dc.auc - 0.5, dc.p_value,
                        lower=low, upper=dc.threshold, n=dc.n_per_side))
    for name in m.columns:
        cd = column_drift(m.reference_.columns[name], batch.columns[name], kind=m.column_kinds_.get(name))
        rows.append(row(period, f"column:{name}", None, cd.psi, 0.0, cd.psi, cd.p_value, n=len(batch)))
    return rows


def output_signals(m: Monitor, period: str, batch: ScoredRecords) -> list[dict[str, Any]]:
    """Predicted-code PSI / JS per level, confidence KS and decision shares (control chart)."""
    rows = []
    ref = m.reference_
    for level, view in batch.levels.items():
        rc, cc, _ = aligned_counts(ref.levels[level].predicted, view.predicted)
        shift = category_shift_test(rc, cc, alpha=m.smoothing, n_permutations=m.n_permutations,
                                    seed=m.seed + level)
        rows.append(row(period, "code_psi", level, shift.psi, shift.psi_null_mean, shift.excess_psi,
                        shift.p_value, n=len(batch)))
        rows.append(row(period, "code_js", level, shift.js, 0.0, shift.js, shift.p_value,
                        testable=False, n=len(batch)))
    d, p = ks_test(ref.confidence, batch.confidence)
    rows.append(row(period, "confidence_ks", None, float(np.mean(batch.confidence)) if len(batch) else NAN,
                    float(np.mean(ref.confidence)), d, p, n=len(batch)))
    n, n0 = len(batch), len(ref)
    for decision in DECISIONS:
        k, k0 = float(np.sum(batch.decision == decision)), float(np.sum(ref.decision == decision))
        diff, p = two_proportion_test(k, n, k0, n0)
        p0 = k0 / n0
        half = 3 * np.sqrt(p0 * (1 - p0) / n) if n else NAN
        rows.append(row(period, f"share_{decision}", None, k / n if n else NAN, p0, diff, p,
                        lower=max(0.0, p0 - half), upper=min(1.0, p0 + half), n=n))
    return rows


def estimates(m: Monitor, batch: ScoredRecords) -> dict[tuple[str, int | None], Estimate]:
    """Every label-free estimate of one batch: keys (estimator, level), level None = auto records."""
    out: dict[tuple[str, int | None], Estimate] = {}
    auto = batch.decision == "auto"
    weights = label_shift_weights(m, batch) if m.label_shift else None
    top = batch.levels[1].predicted
    for level, view in batch.levels.items():
        conf = view.confidence
        for name in m.estimators:
            if name == "average_confidence":
                out[name, level] = average_confidence(conf)
            elif name == "cbpe":
                out[name, level] = average_confidence(m.calibrators_[level].transform(conf, top))
            elif name == "atc":
                out[name, level] = atc_estimate(conf, m.atc_[level])
        if weights is not None:
            out["label_shift", level] = reweighted_accuracy(m.reference_correct_[level], weights, n_target=len(batch))
    if not m.has_auto_:
        return out
    conf = batch.confidence[auto]
    for name in m.estimators:
        if name == "average_confidence":
            out[name, None] = average_confidence(conf)
        elif name == "cbpe":
            out[name, None] = average_confidence(m.calibrators_[None].transform(conf, top[auto]))
        elif name == "atc":
            out[name, None] = atc_estimate(conf, m.atc_[None])
    if weights is not None:
        ref_auto = m.reference_.decision == "auto"
        out["label_shift", None] = reweighted_accuracy(m.reference_auto_correct_, weights[ref_auto],
                                                       n_target=int(auto.sum()))
    return out


def label_shift_weights(m: Monitor, batch: ScoredRecords) -> np.ndarray:
    """Weight of each reference record under the batch's EM-estimated priors (Saerens et al. 2002).

    The priors are those of the codes at ``m.label_shift_level``, estimated from probabilities
    recalibrated on the reference (bias-corrected temperature scaling); a reference record's
    weight is ``pi'(g) / pi(g)`` for its true group g.
    """
    proba = bcts_transform(batch.levels[m.label_shift_level].proba, *m.bcts_)
    prior, _, _ = em_label_shift(proba, m.reference_prior_)
    ratio = np.append(prior / np.clip(m.reference_prior_, 1e-12, None), 1.0)
    return ratio[m.reference_group_]


def performance_signals(m: Monitor, period: str, batch: ScoredRecords,
                        found: dict[tuple[str, int | None], Estimate]) -> list[dict[str, Any]]:
    """Estimated accuracy rows per estimator and level (and auto records), plus realised accuracy."""
    rows = []
    for (name, level), est in found.items():
        ref = m.reference_estimates_[name, level]
        signal = f"accuracy_{name}" if level is not None else f"auto_accuracy_{name}"
        rows.append(row(period, signal, level, est.value, ref.value, ref.value - est.value,
                        _drop_p(est.value, est.se_mean, ref.value, ref.se_mean),
                        lower=est.lower, upper=est.upper, n=est.n))
    if batch.labels is not None and np.any(batch.labels != ""):
        known = batch.labels != ""
        for level in batch.levels:
            correct = batch.subset(np.flatnonzero(known)).correct_at(level, batch.labels[known])
            ref_acc = float(m.reference_correct_[level].mean())
            rows.append(row(period, "accuracy_realised", level, correct.mean(), ref_acc,
                            ref_acc - correct.mean(), NAN, testable=False, n=len(correct)))
        auto = known & (batch.decision == "auto")
        if auto.any() and m.has_auto_:
            correct = batch.auto_correct(batch.labels)[auto]
            ref_acc = float(m.reference_auto_correct_.mean())
            rows.append(row(period, "auto_accuracy_realised", None, correct.mean(), ref_acc,
                            ref_acc - correct.mean(), NAN, testable=False, n=int(auto.sum())))
    return rows


def audited_errors(batch: ScoredRecords) -> np.ndarray:
    """0/1 error per audited auto record of the batch (1 = the audit code disagrees)."""
    if batch.audit is None:
        return np.zeros(0)
    audited = (batch.audit != "") & (batch.decision == "auto")
    return 1.0 - batch.auto_correct(batch.audit)[audited]


def audit_signals(m: Monitor, period: str, batch: ScoredRecords,
                  found: dict[tuple[str, int | None], Estimate]) -> list[dict[str, Any]]:
    """Audit accuracy of auto records and the gap between each estimator and the audit."""
    errors = audited_errors(batch)
    ref_correct = m.reference_auto_correct_
    result = audit_accuracy(1.0 - errors, reference_correct=int(ref_correct.sum()), reference_n=len(ref_correct))
    rows = [row(period, "audit_accuracy", None, result.accuracy, float(ref_correct.mean()), result.drop,
                result.p_value, lower=result.lower, upper=result.upper, n=result.n)]
    ref_accuracy = float(ref_correct.mean())
    for name in m.estimators:
        est = found.get((name, None))
        if est is None or result.n == 0:
            continue
        # the estimator's own bias on the reference is not drift: compare gaps, not raw estimates
        ref_gap = m.reference_estimates_[name, None].value - ref_accuracy
        gap = est.value - result.accuracy
        se = float(np.hypot(est.se_mean, np.sqrt(result.accuracy * (1 - result.accuracy) / result.n)))
        change = gap - ref_gap
        p = float(stats.norm.sf(change / se)) if se > 0 else (0.0 if change > 0 else 1.0)
        z = stats.norm.ppf(0.975)
        rows.append(row(period, f"gap_{name}", None, gap, ref_gap, change, p, lower=gap - z * se,
                        upper=gap + z * se, n=result.n))
    return rows


def cusum_rows(m: Monitor, periods: list[str], errors: list[np.ndarray]) -> list[dict[str, Any]]:
    """Bernoulli CUSUM of audit errors across periods (in order), one row per period."""
    ref_error = 1.0 - float(m.reference_auto_correct_.mean())
    p0 = float(np.clip(ref_error, 0.005, 0.5))
    p1 = min(p0 + m.policy_.tolerance("audit_cusum"), 0.99)
    sizes = np.array([len(e) for e in errors], dtype=int)
    checkpoints = np.cumsum(sizes)
    all_errors = np.concatenate(errors) if len(errors) else np.zeros(0)
    path = bernoulli_cusum(all_errors, p0=p0, p1=p1)
    null = cusum_null_maxima(checkpoints, p0=p0, p1=p1, n_simulations=m.cusum_simulations, seed=m.seed)
    record_period = np.repeat(np.arange(len(periods)), sizes)
    rows = []
    for j, period in enumerate(periods):
        if sizes[j] == 0 or checkpoints[j] == 0:
            rows.append(row(period, "audit_cusum", None, NAN, 0.0, NAN, NAN, n=0))
            continue
        end = checkpoints[j] - 1
        s = float(path[end])
        zeros = np.flatnonzero(path[: end + 1] == 0)
        start = int(zeros[-1]) + 1 if len(zeros) else 0
        if s > 0 and start <= end:
            size = float(all_errors[start : end + 1].mean()) - p0
            since = periods[record_period[start]]
        else:
            size, since = 0.0, ""
        rows.append(row(period, "audit_cusum", None, s, 0.0, size, cusum_p_value(s, null[:, j]),
                        n=int(sizes[j]), change_start=since))
    return rows

"""Code shares and totals corrected for coding error with an audit sample.

Every record carries a machine code; a random audit subsample also carries a human (true) code.
The naive share of code ``c`` counts machine codes only and is biased by whatever errors the
coder makes. The corrected estimator adds the audit's average correction (the difference
estimator of survey sampling; "prediction-powered inference", Angelopoulos et al. 2023):

    share_c = mean_all(1[machine = c]) + mean_audit(1[human = c] - 1[machine = c])

Two settings:

* **the coded records are the population** (a register or census, ``weights=None``): the only
  randomness is the audit. The audit is a simple random sample without replacement, optionally
  stratified (``audit_strata``, e.g. by decision ``auto``/``review``); the variance is the
  stratified SRS variance of the correction, with finite population correction.
  ``method="ppi"`` instead treats records and audit as i.i.d. draws from a superpopulation
  (variance ``var(f)/N + var(y - f)/n``); ``"ppi++"`` adds the power-tuning factor ``lambda``
  of Angelopoulos, Duchi & Zrnic (2023), which never does worse than the audit alone.
* **the coded records are a survey sample** (``weights`` given, optionally ``strata``/``psu``):
  each record gets ``z = f + a/pi (y - f)`` (``a`` = audited, ``pi`` its audit probability) and
  the share is the weighted mean of ``z``, with Taylor-linearisation variance over the survey
  design. The audit is treated as one more sampling stage within PSUs (ultimate-cluster,
  with-replacement variance), which is valid for an audit drawn independently within PSUs.

Pure functions: arrays in, a tidy frame out (one row per code; shares are fractions 0-1,
totals are in population units). They do not need the coder itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError, InputError
from statcoder.estimation.columns import canonical_choice, file_rows, require_column
from statcoder.estimation.results import interval, quality_flags
from statcoder.estimation.variance import Stages, design_variance

METHODS = ("difference", "ppi", "ppi++")
QUANTITIES = ("share", "total")
SMALL_SAMPLE = ("pseudo", "none")


def corrected_shares(
    predicted: Sequence[str],
    audit_index: Sequence[int],
    audit_codes: Sequence[str],
    *,
    weights: Sequence[float] | None = None,
    strata: Sequence[Any] | None = None,
    psu: Sequence[Any] | None = None,
    audit_strata: Sequence[Any] | None = None,
    codes: Sequence[str] | None = None,
    quantity: str = "share",
    method: str = "difference",
    confidence: float = 0.95,
    lonely_psu: str = "fail",
    small_sample: str = "pseudo",
) -> pd.DataFrame:
    """Return naive and coding-error-corrected shares (or totals) of every code.

    ``predicted``: machine code of each of the N records. ``audit_index``: positions (0-based)
    of the audited records in ``predicted``; ``audit_codes``: their human codes. ``weights``,
    ``strata``, ``psu``: the survey design of the records, if they are a sample.
    ``audit_strata``: per record (length N), the stratum the audit was drawn in.
    ``lonely_psu``: single-PSU strata handling of the survey design (see ``SurveyDesign``).
    ``small_sample``: ``"pseudo"`` (default) or ``"none"``, the variance of the difference
    estimator for codes with few audited disagreements (see ``_correction_variance``).

    Columns: ``code, naive, naive_se, naive_ci_low, naive_ci_high, estimate, se, ci_low,
    ci_high, cv, flag, n_machine, n_audit_machine, n_audit_human``.
    """
    f_codes = np.asarray([str(c) for c in predicted], dtype=object)
    n = len(f_codes)
    idx = np.asarray(audit_index, dtype=int)
    y_codes = np.asarray([str(c) for c in audit_codes], dtype=object)
    method = canonical_method(method)
    _check(n, idx, y_codes, method, quantity, weights)
    if small_sample not in SMALL_SAMPLE:
        raise EstimationError(
            f"unknown small_sample option {small_sample!r}",
            where="small_sample",
            hint=f"use one of {SMALL_SAMPLE}",
        )
    audited = np.zeros(n, dtype=bool)
    audited[idx] = True
    truth = np.full(n, None, dtype=object)
    truth[idx] = y_codes
    all_codes = (
        sorted(set(f_codes.tolist()) | set(y_codes.tolist())) if codes is None else list(codes)
    )
    f = _indicators(f_codes, all_codes)
    y = np.zeros_like(f)
    y[idx] = _indicators(y_codes, all_codes)
    h = (
        np.zeros(n, dtype=int)
        if audit_strata is None
        else np.unique(np.asarray([str(s) for s in audit_strata]), return_inverse=True)[1]
    )
    if len(h) != n:
        raise InputError(
            "audit_strata needs one value per record",
            where=f"{len(h)} values for {n} records",
            hint="pass the audit stratum (e.g. the decision) of every record",
        )
    if weights is None:
        naive, naive_se, est, se = _population(f, y, audited, h, method, small_sample)
        scale = 1.0 if quantity == "share" else float(n)
    else:
        naive, naive_se, est, se, _total_w = _sample(
            f, y, audited, h, weights, strata, psu, quantity, lonely_psu
        )
        scale = 1.0
    naive, naive_se, est, se = naive * scale, naive_se * scale, est * scale, se * scale
    n_low, n_high = interval(naive, naive_se, confidence=confidence)
    low, high = interval(est, se, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(est != 0, se / np.abs(est), np.nan)
    return pd.DataFrame(
        {
            "code": all_codes,
            "naive": naive,
            "naive_se": naive_se,
            "naive_ci_low": n_low,
            "naive_ci_high": n_high,
            "estimate": est,
            "se": se,
            "ci_low": low,
            "ci_high": high,
            "cv": cv,
            "flag": quality_flags(cv),
            "n_machine": f.sum(axis=0).astype(int),
            "n_audit_machine": f[idx].sum(axis=0).astype(int),
            "n_audit_human": y[idx].sum(axis=0).astype(int),
        }
    )


def _indicators(values: np.ndarray, codes: list[str]) -> np.ndarray:
    """(n, k) 0/1 matrix of ``values == codes[j]`` (values outside ``codes`` are all-zero rows)."""
    lookup = {code: j for j, code in enumerate(codes)}
    column = np.fromiter((lookup.get(v, -1) for v in values), dtype=int, count=len(values))
    out = np.zeros((len(values), len(codes)))
    hit = column >= 0
    out[np.flatnonzero(hit), column[hit]] = 1.0
    return out


def canonical_method(method: str) -> str:
    """The method name as in ``METHODS`` (any case accepted: ``"PPI"`` -> ``"ppi"``)."""
    return canonical_choice(
        method, METHODS, what="coding-correction method", parameter="method", option="--method"
    )


def _check(
    n: int, idx: np.ndarray, y_codes: np.ndarray, method: str, quantity: str, weights
) -> None:
    if quantity not in QUANTITIES:
        raise EstimationError(
            f"unknown quantity {quantity!r}", where="quantity", hint="use 'share' or 'total'"
        )
    if len(idx) != len(y_codes):
        raise InputError(
            "audit_index and audit_codes differ in length",
            where=f"{len(idx)} positions, {len(y_codes)} codes",
            hint="one human code per audited record",
        )
    if len(idx) < 2:
        raise EstimationError(
            "the audit sample has fewer than 2 records",
            where="audit",
            hint="audit a random sample of at least a few hundred records",
        )
    if idx.min() < 0 or idx.max() >= n or len(np.unique(idx)) != len(idx):
        raise InputError(
            "audit positions are out of range or repeated",
            where="audit_index",
            hint=f"give distinct 0-based positions below {n}",
        )
    if weights is not None and method != "difference":
        raise EstimationError(
            f"method {method!r} is for unweighted records",
            where="method",
            hint="with survey weights use method='difference'",
        )


def _correction_variance(d: np.ndarray, small_sample: str) -> np.ndarray:
    """Per-code variance of the audit corrections ``d`` (values -1, 0, 1).

    ``"pseudo"`` adds one pseudo-record with correction +1 and one with -1 (in the spirit of
    Agresti & Caffo 2000): the point estimate is untouched, but a code without any audited
    disagreement no longer gets a zero-width interval. ``"none"`` is the plain sample variance.
    """
    m = len(d)
    if small_sample == "pseudo":
        total, squares = d.sum(axis=0), (d**2).sum(axis=0) + 2.0
        return (squares - total**2 / (m + 2)) / (m + 1)
    return d.var(axis=0, ddof=1) if m > 1 else np.zeros(d.shape[1])


def _population(
    f: np.ndarray,
    y: np.ndarray,
    audited: np.ndarray,
    h: np.ndarray,
    method: str,
    small_sample: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Naive share, its SE (0), corrected share and SE when the records are the population."""
    n = len(f)
    naive = f.mean(axis=0)
    d = y - f
    if method == "difference":
        est = naive.copy()
        var = np.zeros(f.shape[1])
        for stratum in np.unique(h):
            in_h = h == stratum
            a = in_h & audited
            n_h, m_h = in_h.sum(), a.sum()
            if m_h == 0:
                raise EstimationError(
                    "an audit stratum has no audited record",
                    where=f"audit stratum {stratum}",
                    hint="audit at least 2 records in every stratum, or do not stratify",
                )
            est += n_h / n * d[a].mean(axis=0)
            var += (n_h / n) ** 2 * (1 - m_h / n_h) * _correction_variance(d[a], small_sample) / m_h
        return naive, np.zeros_like(naive), est, np.sqrt(var)
    a = audited
    m = a.sum()
    lam = np.ones(f.shape[1])
    if method == "ppi++":
        fa, ya = f[a], y[a]
        cov = ((fa - fa.mean(0)) * (ya - ya.mean(0))).sum(0) / (m - 1)
        var_f = f.var(axis=0, ddof=1)
        lam = np.clip(
            np.divide(cov, (1 + m / n) * var_f, out=np.zeros_like(cov), where=var_f > 0), 0, 1
        )
    est = lam * f.mean(axis=0) + (y[a] - lam * f[a]).mean(axis=0)
    var = lam**2 * f.var(axis=0, ddof=1) / n + (y[a] - lam * f[a]).var(axis=0, ddof=1) / m
    return naive, np.zeros_like(naive), est, np.sqrt(var)


def _sample(f, y, audited, h, weights, strata, psu, quantity, lonely_psu):
    n = len(f)
    w = np.asarray(weights, dtype=float)
    if len(w) != n or np.isnan(w).any() or (w <= 0).any():
        raise EstimationError(
            "weights must be positive, one per record",
            where="weights",
            hint="every coded record of the survey needs its design weight",
        )
    pi = np.zeros(n)
    for stratum in np.unique(h):
        in_h = h == stratum
        m_h = (in_h & audited).sum()
        if m_h == 0:
            raise EstimationError(
                "an audit stratum has no audited record",
                where=f"audit stratum {stratum}",
                hint="audit at least 2 records in every stratum, or do not stratify",
            )
        pi[in_h] = m_h / in_h.sum()
    z = f + np.where(audited, 1 / pi, 0.0)[:, None] * (y - f)
    stages = _stages(n, strata, psu)
    total_w = w.sum()
    results = []
    for values in (f, z):
        tot = w @ values
        if quantity == "share":
            est = tot / total_w
            scores = w[:, None] * (values - est) / total_w
        else:
            est, scores = tot, w[:, None] * values
        var = np.diag(design_variance(scores, stages, lonely_psu=lonely_psu))
        results.extend([est, np.sqrt(np.clip(var, 0, None))])
    return results[0], results[1], results[2], results[3], total_w


def _stages(n: int, strata, psu) -> Stages:
    s = (
        np.zeros(n, dtype=int)
        if strata is None
        else np.unique(np.asarray([str(v) for v in strata]), return_inverse=True)[1]
    )
    c = (
        np.arange(n)
        if psu is None
        else np.unique(np.asarray([str(v) for v in psu]), return_inverse=True)[1]
    )
    _, cl = np.unique(np.column_stack([s, c]), axis=0, return_inverse=True)
    pairs = np.unique(np.column_stack([s, cl]), axis=0)
    counts = np.bincount(pairs[:, 0])
    return Stages(s[:, None], cl.reshape(-1, 1), counts[s][:, None].astype(float), None)


def corrected_shares_by_level(
    predicted: Sequence[str],
    audit_index: Sequence[int],
    audit_codes: Sequence[str],
    *,
    classification: Any,
    levels: Sequence[int] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """``corrected_shares`` at each level of a classification (1 = top), stacked with a
    ``level`` column. Codes are cut with ``classification.truncate(code, level)``; a record
    coded only to a shallower level keeps its shallower code."""
    depth = int(getattr(classification, "depth", 0)) or max(
        classification.level(c) for c in predicted
    )
    deeper = [lv for lv in levels or [] if not 1 <= int(lv) <= depth]
    if deeper:
        name = getattr(classification, "name", "") or "the classification"
        raise InputError(
            f"level {deeper[0]} does not exist: {name} has {depth} level(s) (1 = top)",
            where="levels (CLI: --level)",
            hint=f"pass levels between 1 and {depth} (CLI: --level 1 ... --level {depth}), "
            "or leave them out for every level",
        )
    frames = []
    for level in levels or range(1, depth + 1):
        cut = [classification.truncate(str(c), level) for c in predicted]
        human = [classification.truncate(str(c), level) for c in audit_codes]
        frame = corrected_shares(cut, audit_index, human, **options)
        frame.insert(0, "level", level)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def corrected_shares_from_frame(
    data: pd.DataFrame,
    *,
    predicted: str = "predicted_code",
    audit: str = "audit_code",
    weights: str | None = None,
    strata: str | None = None,
    psu: str | None = None,
    audit_strata: str | None = None,
    classification: Any = None,
    levels: Sequence[int] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """``corrected_shares`` (or ``corrected_shares_by_level`` when ``classification`` is given)
    from a coded file: the ``audit`` column holds the human code of audited records and is
    empty elsewhere."""
    for column, option in (
        (predicted, "--predicted"),
        (audit, "--audit"),
        (weights, "--weights"),
        (strata, "--strata"),
        (psu, "--psu"),
        (audit_strata, "--audit-strata"),
    ):
        if column:
            require_column(data, column, option=option)
    human = data[audit].astype("string").fillna("").str.strip()
    idx = np.flatnonzero((human != "").to_numpy())
    if weights:
        weight_text = data[weights].astype("string").str.strip()
        w = pd.to_numeric(weight_text, errors="coerce").to_numpy(float)
        if np.isnan(w).any():
            raise EstimationError(
                f"{int(np.isnan(w).sum())} record(s) have no (numeric) weight",
                where=f"column {weights!r}, {file_rows(np.flatnonzero(np.isnan(w)))}",
                hint="every coded record of the survey needs its design weight",
            )
        options["weights"] = w

    def col(name):
        return None if not name else data[name].astype("string").fillna("").to_numpy(dtype=object)

    machine = data[predicted].astype("string").fillna("").to_numpy(dtype=object)
    arguments = dict(strata=col(strata), psu=col(psu), audit_strata=col(audit_strata), **options)
    if classification is not None:
        from statcoder.classifications.unknown import unknown_code_error, unknown_code_rows

        for name, values in ((predicted, machine), (audit, human.to_numpy(dtype=object))):
            bad = unknown_code_rows(values, classification)
            if bad:
                raise unknown_code_error(values, bad, classification=classification, column=name, where="data",
                                         hint="fix the codes, or leave out the classification to estimate at "
                                         "the codes' own level")
        return corrected_shares_by_level(
            machine,
            idx,
            human.to_numpy(dtype=object)[idx],
            classification=classification,
            levels=levels,
            **arguments,
        )
    return corrected_shares(machine, idx, human.to_numpy(dtype=object)[idx], **arguments)

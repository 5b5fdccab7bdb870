"""Small-area estimates of coded shares: coding-error-corrected direct shares per area feed a
Fay-Herriot model.

Setting: records (e.g. census or register answers, or every record of a survey) are coded by
machine; in each area a random audit subsample is re-coded by humans. Per area ``d`` and code
``c``:

1. the **corrected direct share** ``naive_dc + mean_audit_d(1[human = c] - 1[machine = c])``
   and its variance (``coding_error.corrected_shares`` within the area: stratified-SRS variance
   of the audit correction with fpc, with the pseudo-record rule for codes without audited
   disagreements) — unbiased, but noisy where the area's audit is small;
2. a **Fay-Herriot model** per code across areas, ``direct_dc = b0 + b1 naive_dc + x_d'b +
   u_dc + w_dc + e_dc`` with the corrected direct's variance as the known sampling variance of
   ``e_dc``: the machine share ``naive_dc`` (known without sampling error for every area) is the
   natural covariate — the regression learns the coder's systematic error from all areas and
   the EBLUP borrows strength across areas. ``w_dc`` is the coding noise of a finite area: the
   true share differs from what the machine share predicts by the mean of ``N_d`` record-level
   corrections, variance ``tau_dc = s_c^2 / N_d`` (``s_c^2``: variance of the audited
   corrections, pooled over areas), so small areas get a larger random-effect variance
   ``A_c + tau_dc``. ``A_c`` and ``b`` are fitted by REML/ML on the variances
   ``A + tau + psi``; the EBLUP is ``x'b + g (direct - x'b)`` with
   ``g = (A + tau) / (A + tau + psi)`` and MSE ``g1 + g2 + 2 g3`` in the Prasad-Rao form
   (non-sampled areas: ``A + tau + x'Var(b)x``). Extra area covariates can be added
   (``area_table``).

Areas with fewer than two audited records get the synthetic estimate; an area audited in full
keeps its exact direct share (MSE 0). Covariates the audited areas cannot identify (the machine
share of a rare code that is 0 in every audited area, a covariate repeating another) are left
out of that code's model; a code whose model still cannot be fitted (fewer audited areas than
coefficients, no convergence) keeps its corrected direct shares (``kind`` ``direct``) and gets
no estimate in areas without an audit (``kind`` ``none``). ``note`` says so on every such row.
When no area has two audited records at all, ``InputError`` is raised. Shares and interval limits are clipped to [0, 1].
``audit_flag`` marks areas whose audit is smaller than ``min_audit`` records: their direct
share is unreliable and the EBLUP leans on the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError, InputError
from statcoder.estimation.coding_error import corrected_shares
from statcoder.estimation.columns import file_rows, require_column, text_column
from statcoder.estimation.fay_herriot import FayHerriot, fay_herriot_method, independent_columns
from statcoder.estimation.results import DEFAULT_CV_THRESHOLDS, interval, quality_flags

COLUMNS = (
    "area", "code", "n_records", "n_audit", "naive", "direct", "direct_se", "estimate", "mse",
    "rmse", "ci_low", "ci_high", "cv", "gamma", "kind", "flag", "audit_flag", "note",
)  # fmt: skip


def coded_share_areas(
    data: pd.DataFrame,
    *,
    predicted: str,
    audit: str,
    area: str,
    codes: Sequence[str] | None = None,
    area_table: pd.DataFrame | None = None,
    covariates: Sequence[str] = (),
    method: str = "REML",
    min_audit: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Return one row per area x code (columns ``COLUMNS``; shares are fractions 0-1, ``mse``
    in squared share units). ``audit`` holds the human code of audited records, empty elsewhere.

    ``area_table`` (one row per area, the area column under the name ``area``) supplies extra
    ``covariates``; the machine share of the code is always a covariate.
    """
    for column in (predicted, audit, area):
        require_column(data, column)
    method = fay_herriot_method(method)
    if min_audit < 2:
        raise EstimationError(
            f"min_audit={min_audit}", where="min_audit", hint="use at least 2 (e.g. 30)"
        )
    machine = data[predicted].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    human = data[audit].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    areas = text_column(data, area)
    if (machine == "").any():
        raise EstimationError(
            f"{int((machine == '').sum())} record(s) have no machine code",
            where=f"column {predicted!r}, {file_rows(np.flatnonzero(machine == ''))}",
            hint="code every record (statcoder code), or drop the uncoded ones",
        )
    audited = human != ""
    all_codes = sorted(set(machine.tolist()) | set(human[audited].tolist()))
    if codes is not None:
        all_codes = [str(c) for c in codes]
    labels = sorted(set(areas.tolist()), key=_natural)
    direct = _direct_by_area(machine, human, audited, areas, labels, all_codes)
    if not (direct.drop_duplicates("area")["n_audit"] >= 2).any():
        raise InputError(
            f"no area has 2 or more audited records: none of the {len(labels)} area(s) can get a "
            "corrected share, so nothing can be estimated",
            where=f"column {audit!r}, {int(audited.sum())} audited record(s)",
            hint=f"fill {audit!r} with the human code of a random sample in each area (at least "
            f"2 per area, ideally min_audit={min_audit}), or check that the audit column is the "
            "right one (CLI: --audit)",
        )
    extra = _area_covariates(area_table, area, covariates, labels)
    frames = []
    for code in all_codes:
        table = direct[direct["code"] == code].reset_index(drop=True)
        corrections = (human[audited] == code).astype(float) - (machine[audited] == code)
        coding_var = float(np.var(corrections, ddof=1)) if audited.sum() > 1 else 0.0
        frames.append(_fit_code(table, extra, list(covariates), method, confidence, coding_var))
    out = pd.concat(frames, ignore_index=True)
    out["audit_flag"] = np.where(
        out["n_audit"] < min_audit, f"audit too small (< {min_audit})", "ok"
    )
    return out[list(COLUMNS)]


def _natural(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _direct_by_area(machine, human, audited, areas, labels, codes) -> pd.DataFrame:
    rows = []
    for label in labels:
        in_area = areas == label
        f = machine[in_area]
        positions = np.flatnonzero(audited[in_area])
        n_audit = len(positions)
        naive = np.array([np.mean(f == c) for c in codes])
        if n_audit >= 2:
            shares = corrected_shares(f, positions, human[in_area][positions], codes=codes)
            est, se = shares["estimate"].to_numpy(), shares["se"].to_numpy()
        else:
            est, se = np.full(len(codes), np.nan), np.full(len(codes), np.nan)
        for j, code in enumerate(codes):
            rows.append(
                {
                    "area": label,
                    "code": code,
                    "n_records": int(in_area.sum()),
                    "n_audit": n_audit,
                    "naive": naive[j],
                    "direct": est[j],
                    "direct_se": se[j],
                }
            )
    return pd.DataFrame(rows)


def _area_covariates(
    area_table: pd.DataFrame | None, area: str, covariates: Sequence[str], labels: list[str]
) -> pd.DataFrame | None:
    if area_table is None:
        if covariates:
            raise EstimationError(
                "area covariates given without an area table",
                where=f"covariates {list(covariates)}",
                hint="pass area_table (CLI: --area-table) with one row per area",
            )
        return None
    for column in [area, *covariates]:
        require_column(area_table, column, option="area table")
    keys = text_column(area_table, area)
    missing = sorted(set(labels) - set(keys.tolist()))
    if missing:
        raise EstimationError(
            f"{len(missing)} area(s) of the records are not in the area table",
            where=f"area table, column {area!r}, areas {missing[:5]}",
            hint="add a row for every area (area codes spelt the same way)",
        )
    table = area_table.copy()
    table.index = keys
    return table.loc[labels, list(covariates)].reset_index(drop=True)


def _fit_code(table, extra, covariates, method, confidence, coding_var) -> pd.DataFrame:
    """Fay-Herriot with a known extra area variance ``tau_d = s^2 / N_d`` (coding noise)."""
    work = table.copy()
    if extra is not None:
        for column in covariates:
            work[column] = extra[column].to_numpy()
    names = ["naive", *covariates]
    x = np.column_stack([np.ones(len(work))] + [work[c].to_numpy(float) for c in names])
    y = work["direct"].to_numpy(dtype=float)
    psi = work["direct_se"].to_numpy(dtype=float) ** 2
    tau = coding_var / work["n_records"].to_numpy(dtype=float)
    exact = psi == 0  # the whole area was audited: the corrected share is exact
    sampled = ~np.isnan(y) & ~exact
    est, mse = y.copy(), np.zeros(len(work))
    gamma = np.ones(len(work))
    kind = np.full(len(work), "exact", dtype=object)
    note = np.full(len(work), "", dtype=object)
    missing = np.isnan(x).any(axis=1)
    if missing.any():
        raise EstimationError(
            "area covariates are missing for some areas",
            where=f"area table, areas {list(work.loc[missing, 'area'][:5])}",
            hint="give every covariate for every area",
        )
    # a rare code is often never machine-coded in the audited areas (naive constant 0), or a
    # covariate repeats another: keep the covariates the sampled areas can identify
    kept = independent_columns(x[sampled]) if sampled.any() else [0]
    dropped = [names[j - 1] for j in range(1, x.shape[1]) if j not in kept]
    x = x[:, kept or [0]]
    model_note = (
        f"{', '.join(dropped)} left out of the model (constant or collinear over the audited areas)"
        if dropped
        else ""
    )
    try:
        model = FayHerriot(method).fit(x[sampled], y[sampled], psi[sampled] + tau[sampled])
    except EstimationError as exc:
        # too few audited areas (or a degenerate code) to fit the model: keep direct shares
        est[sampled], mse[sampled] = y[sampled], psi[sampled]
        kind[sampled] = "direct"
        kind[np.isnan(y)] = "none"
        mse[np.isnan(y)] = np.nan
        reason = f"Fay-Herriot model not fitted ({exc.message})"
        note[sampled] = f"{reason}: corrected direct share"
        note[np.isnan(y)] = f"{reason}: no estimate (fewer than 2 audited records)"
    else:
        a, q = model.variance_, model.coef_cov_
        total = a + tau + psi
        g = np.where(sampled, (a + tau) / np.where(sampled, total, 1.0), 0.0)
        synthetic = x @ model.coef_
        rest = ~exact
        est[rest] = synthetic[rest] + g[rest] * np.nan_to_num(y[rest] - synthetic[rest])
        var_a = 2.0 / np.sum(1.0 / (a + tau[sampled] + psi[sampled]) ** 2)
        g1 = np.where(sampled, g * psi, a + tau)
        g2 = (1 - g) ** 2 * np.einsum("ij,jk,ik->i", x, q, x)
        g3 = np.where(sampled, psi**2 / np.where(sampled, total, 1.0) ** 3 * var_a, 0.0)
        mse[rest] = (g1 + g2 + 2 * g3)[rest]
        gamma[rest] = g[rest]
        kind[rest] = np.where(sampled[rest], "eblup", "synthetic")
        note[rest] = model_note
    est = np.clip(est, 0.0, 1.0)
    rmse = np.sqrt(mse)
    low, high = interval(est, rmse, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(est > 0, rmse / est, np.nan)
    work["estimate"], work["mse"], work["rmse"] = est, mse, rmse
    work["ci_low"], work["ci_high"] = np.clip(low, 0, 1), np.clip(high, 0, 1)
    work["cv"], work["gamma"], work["kind"] = cv, gamma, kind
    work["flag"] = quality_flags(np.where(mse == 0, 0.0, cv), thresholds=DEFAULT_CV_THRESHOLDS)
    work["note"] = note
    return work

"""Design-based variance of linearised scores (Taylor linearisation), stage by stage.

The maths follows R ``survey``'s ``svyrecvar``/``multistage``/``onestage``/``onestrat``
(T. Lumley), so that numbers agree with R to floating-point precision:

* per stratum, PSU totals of the scores are centred on their stratum mean and summed as
  ``f * n/(n-1) * sum((t_i - tbar)^2)`` with ``f = (N-n)/N`` (``f = 1`` without an fpc);
* with an fpc at stage 1 and more than one stage, each PSU adds the variance of its own
  sub-sample (the next stage, recursively) multiplied by the stage-1 sampling fraction ``n/N``;
* strata with a single PSU follow ``lonely_psu`` like R's ``options(survey.lonely.psu=)``;
  ``"adjust"`` follows R survey >= 4.4 (``tests/lonely.psu.R``): the lonely PSU's total is
  centred on the grand mean of all PSU totals at that stage (sum of the scores over the
  number of PSUs), so a total's variance gets ``(t_lonely - grand mean)^2``.

Scores are on the scale of the estimate: for a total, ``z_i = w_i * y_i``; for a mean,
``z_i = w_i * (y_i - mean) / sum(w)``. The variance of the estimate is ``Var(sum z_i)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statcoder.errors import EstimationError

#: accepted values of ``lonely_psu``: R's names; "centre" is an alias of "adjust" (R >= 4.4:
#: a lonely PSU's total is centred on the grand mean of all PSU totals of its stage);
#: "adjust-zero" is the rule of earlier R versions (centred on zero). The two agree for means.
LONELY_PSU = ("fail", "certainty", "remove", "adjust", "centre", "adjust-zero", "average")


@dataclass(frozen=True)
class Stages:
    """Sampling structure per record: one column per stage (0 = PSU stage).

    ``strata[:, s]`` and ``clusters[:, s]`` are integer codes; stage ``s > 0`` strata are
    nested in the stage ``s-1`` clusters. ``popsize[:, s]`` is the number of units of stage
    ``s`` in the population of the record's stratum (``inf`` = sampled with replacement),
    or ``None`` for a with-replacement design. ``sampsize[:, s]`` is the number sampled.
    ``labels`` maps stage-1 stratum codes to the user's values, for messages.
    """

    strata: np.ndarray
    clusters: np.ndarray
    sampsize: np.ndarray
    popsize: np.ndarray | None
    labels: tuple[str, ...] = ()
    strata_column: str = ""


def design_variance(scores: np.ndarray, stages: Stages, *, lonely_psu: str = "fail") -> np.ndarray:
    """Return the ``(k, k)`` design covariance matrix of ``scores.sum(axis=0)``.

    ``scores`` is ``(n,)`` or ``(n, k)``; units are the squared units of the scores.
    """
    if lonely_psu not in LONELY_PSU:
        raise EstimationError(
            f"unknown lonely_psu option {lonely_psu!r}",
            where="lonely_psu",
            hint=f"use one of {', '.join(LONELY_PSU)}",
        )
    z = np.asarray(scores, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    mode = "adjust" if lonely_psu == "centre" else lonely_psu
    return _multistage(z, stages, np.arange(len(z)), 0, mode)


def _multistage(
    z: np.ndarray, stages: Stages, rows: np.ndarray, stage: int, mode: str
) -> np.ndarray:
    pop = None if stages.popsize is None else stages.popsize[rows, stage]
    v = _onestage(
        z[rows],
        stages.strata[rows, stage],
        stages.clusters[rows, stage],
        stages.sampsize[rows, stage],
        pop,
        mode,
        stages,
        stage,
    )
    n_stages = stages.clusters.shape[1]
    if stages.popsize is not None and stage + 1 < n_stages:
        psu_codes, inverse = np.unique(stages.clusters[rows, stage], return_inverse=True)
        for j in range(len(psu_codes)):
            sub = rows[inverse == j]
            fraction = stages.sampsize[sub[0], stage] / stages.popsize[sub[0], stage]
            v = v + _multistage(z, stages, sub, stage + 1, mode) * fraction
    return v


def _onestage(
    z: np.ndarray,
    strata: np.ndarray,
    clusters: np.ndarray,
    n_psu: np.ndarray,
    popsize: np.ndarray | None,
    mode: str,
    stages: Stages,
    stage: int,
) -> np.ndarray:
    k = z.shape[1]
    total = np.zeros((k, k))
    codes, inverse = np.unique(strata, return_inverse=True)
    first = np.array([np.flatnonzero(inverse == h)[0] for h in range(len(codes))])
    # grand mean of the PSU totals of this stage (PSUs outside a subset count with zero totals)
    grand = z.sum(axis=0) / n_psu[first].sum() if mode == "adjust" else np.zeros(k)
    n_ok = 0
    for h in range(len(codes)):
        idx = np.flatnonzero(inverse == h)
        part = _onestrat(
            z[idx],
            clusters[idx],
            int(n_psu[idx[0]]),
            None if popsize is None else float(popsize[idx[0]]),
            mode,
            _stratum_label(stages, stage, int(codes[h])),
            stages,
            stage,
            grand,
        )
        if part is not None:
            total += part
            n_ok += 1
    if n_ok == 0:
        return np.full((k, k), np.nan)
    return total * len(codes) / n_ok


def _stratum_label(stages: Stages, stage: int, code: int) -> str:
    if stage == 0 and stages.labels and code < len(stages.labels):
        return stages.labels[code]
    return f"{code} (stage {stage + 1})"


def _onestrat(
    z: np.ndarray,
    clusters: np.ndarray,
    n_psu: int,
    popsize: float | None,
    mode: str,
    label: str,
    stages: Stages,
    stage: int,
    grand: np.ndarray,
) -> np.ndarray | None:
    """Variance contribution of one stratum; ``None`` means "average over the other strata"."""
    if popsize is None or not np.isfinite(popsize):
        f = 1.0
    else:
        f = (popsize - n_psu) / popsize
    if f < 1e-7:  # self-representing stratum: no sampling variance at this stage
        return np.zeros((z.shape[1], z.shape[1]))
    scale = f * n_psu / (n_psu - 1) if n_psu > 1 else f
    _, inverse = np.unique(clusters, return_inverse=True)
    n_groups = int(inverse.max()) + 1
    if n_groups == len(z):  # one record per PSU (the common unclustered case)
        totals = np.zeros_like(z)
        totals[inverse] = z
    else:
        totals = np.column_stack(
            [np.bincount(inverse, weights=z[:, j], minlength=n_groups) for j in range(z.shape[1])]
        )
    n_sub = totals.shape[0]
    if n_sub < n_psu:  # PSUs outside a subset contribute zero totals
        totals = np.vstack([totals, np.zeros((n_psu - n_sub, z.shape[1]))])
    if n_psu > 1:
        totals = totals - totals.mean(axis=0)
    elif mode == "adjust":
        totals = totals - grand
    elif mode != "adjust-zero":
        totals = totals - totals.mean(axis=0)
    if n_psu > 1 or mode in ("certainty", "remove", "adjust", "adjust-zero"):
        return scale * totals.T @ totals
    if mode == "average":
        return None
    where = f"stratum {label}"
    if stages.strata_column and stage == 0:
        where = f"column {stages.strata_column!r}, stratum {label}"
    raise EstimationError(
        f"a stratum has only one PSU at stage {stage + 1}, so its variance cannot be estimated",
        where=where,
        hint="collapse it with a similar stratum, or pass lonely_psu='certainty' (no contribution), "
        "'adjust' (centre on the grand mean of the PSU totals, R >= 4.4) or 'average' "
        "(mean of the other strata)",
    )


def calibration_residuals(
    scores: np.ndarray, weights: np.ndarray, base_weights: np.ndarray, matrix: np.ndarray
) -> np.ndarray:
    """Project calibration variables out of ``scores`` (GREG residuals, R's ``qr.resid`` step).

    For scores ``z_i = w_i u_i`` this returns ``w_i (u_i - m_i' b)`` where ``b`` is the
    regression of ``u`` on the calibration variables ``m`` with the pre-calibration weights.
    Post-stratification is the special case of group dummies.
    """
    z = np.asarray(scores, dtype=float)
    flat = z.ndim == 1
    if flat:
        z = z[:, None]
    w = np.asarray(weights, dtype=float)
    d = np.asarray(base_weights, dtype=float)
    u = np.divide(z, w[:, None], out=np.zeros_like(z), where=w[:, None] != 0)
    gram = matrix.T @ (matrix * d[:, None])
    rhs = matrix.T @ (u * d[:, None])
    coef = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    out = z - w[:, None] * (matrix @ coef)
    return out[:, 0] if flat else out

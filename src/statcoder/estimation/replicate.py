"""Replicate-weight variance: delete-one-PSU jackknife (JK1, JKn) and the rescaled bootstrap.

Replicate weights are built as R ``survey::as.svrepdesign`` builds them (defaults included):

* ``JK1`` (unstratified): replicate ``r`` drops PSU ``r`` and multiplies the others by
  ``n/(n-1)``; ``scale = (1 - n/N) (n-1)/n`` with a stage-1 fpc, ``(n-1)/n`` without;
* ``JKn`` (stratified): one replicate per PSU, reweighting only its stratum by
  ``n_h/(n_h-1)``; ``rscale_r = (1 - f_h)(n_h-1)/n_h``;
* ``bootstrap``: within each stratum draw ``n_h - 1`` PSUs with replacement (Rao & Wu 1988),
  multiplier ``n_h/(n_h-1) * count``, shrunk towards 1 by ``sqrt(1 - f_h)`` with an fpc;
  50 replicates by default, ``scale = 1/(R-1)``.

The variance is ``scale * sum_r rscale_r (theta_r - centre)^2`` with ``centre`` the mean of the
replicates (R's default ``survey.replicates.mse=FALSE``) or the full-sample estimate (``mse=True``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError
from statcoder.estimation.statistics import EstimatingDesign

if TYPE_CHECKING:
    from statcoder.estimation.design import CalibrationStep, SurveyDesign

METHODS = ("auto", "JK1", "JKn", "bootstrap")


class ReplicateDesign(EstimatingDesign):
    """Full-sample weights plus an ``(n, R)`` matrix of replicate weights.

    Build one from a ``SurveyDesign`` with ``design.replicate(...)`` or from replicate weights
    published with a survey file (``ReplicateDesign(data, weights=..., replicate_weights=...)``).
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        weights: np.ndarray,
        replicate_weights: np.ndarray,
        scale: float,
        rscales: np.ndarray | None = None,
        method: str = "other",
        mse: bool = False,
    ) -> None:
        self.data = data.reset_index(drop=True)
        self.weights = np.asarray(weights, dtype=float)
        self.replicate_weights = np.asarray(replicate_weights, dtype=float)
        if self.replicate_weights.shape[0] != len(self.weights) or self.replicate_weights.ndim != 2:
            raise EstimationError(
                "replicate weights must have one row per record",
                where=f"shape {self.replicate_weights.shape} for {len(self.weights)} records",
                hint="pass an (n_records, n_replicates) matrix",
            )
        r = self.replicate_weights.shape[1]
        self.scale = float(scale)
        self.rscales = np.ones(r) if rscales is None else np.asarray(rscales, dtype=float)
        self.method = method
        self.mse = mse
        self.calibrations: tuple[CalibrationStep, ...] = ()

    @classmethod
    def from_design(
        cls,
        design: SurveyDesign,
        *,
        method: str = "auto",
        replicates: int = 50,
        seed: int | None = 0,
        mse: bool = False,
    ) -> ReplicateDesign:
        """Build replicate weights from a ``SurveyDesign`` (stage-1 strata, PSUs and fpc)."""
        if method not in METHODS:
            raise EstimationError(
                f"unknown replicate method {method!r}", where="method", hint=f"use one of {METHODS}"
            )
        stages = design.stages
        strata, psu = stages.strata[:, 0], stages.clusters[:, 0]
        has_strata = bool(design.strata_column)
        if method == "auto":
            method = "JKn" if has_strata else "JK1"
        if method == "JK1" and has_strata:
            raise EstimationError(
                "JK1 ignores strata",
                where="method='JK1'",
                hint="use method='JKn' for a stratified design",
            )
        popsize = None if stages.popsize is None else stages.popsize[:, 0]
        if method == "bootstrap":
            mult, scale, rscales = _bootstrap(
                strata, psu, stages.sampsize[:, 0], popsize, replicates, seed
            )
        else:
            mult, scale, rscales = _jackknife(
                strata, psu, stages.sampsize[:, 0], popsize, design.lonely_psu, design.stages.labels
            )
        base = design.base_weights
        rep = base[:, None] * mult
        for step in design.calibrations:
            rep = np.column_stack([step.apply(rep[:, j]) for j in range(rep.shape[1])])
        out = cls(
            design.data,
            weights=design.weights,
            replicate_weights=rep,
            scale=scale,
            rscales=rscales,
            method=method,
            mse=mse,
        )
        out.calibrations = design.calibrations
        out.domain_mask = design.domain_mask
        return out

    def _covariance(
        self, scores: np.ndarray, estimator: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        full = np.atleast_1d(estimator(self.weights))
        thetas = np.vstack(
            [
                np.atleast_1d(estimator(self.replicate_weights[:, r]))
                for r in range(self.replicate_weights.shape[1])
            ]
        )
        centre = full if self.mse else thetas.mean(axis=0)
        dev = (thetas - centre) * np.sqrt(self.rscales)[:, None]
        return self.scale * dev.T @ dev

    def degrees_of_freedom(self) -> float:
        """Rank of the replicate weights minus one (R ``degf`` for replicate designs)."""
        return float(np.linalg.matrix_rank(self.replicate_weights) - 1)

    def _recalibrated(self, design_step: CalibrationStep) -> ReplicateDesign:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.weights = design_step.apply(self.weights)
        new.replicate_weights = np.column_stack(
            [
                design_step.apply(self.replicate_weights[:, r])
                for r in range(self.replicate_weights.shape[1])
            ]
        )
        new.calibrations = self.calibrations + (design_step,)
        return new

    def calibrate(
        self,
        totals: Mapping[str, float | Mapping[str, float]],
        *,
        population_size: float | None = None,
        method: str = "linear",
        bounds: tuple[float, float] | None = None,
    ) -> ReplicateDesign:
        """Calibrate the full-sample and every replicate weight (see ``SurveyDesign.calibrate``)."""
        from statcoder.estimation.design import (
            CalibrationStep,
            calibration_matrix,
            refuse_calibrating_subset,
        )

        refuse_calibrating_subset(self)
        matrix, tots, _ = calibration_matrix(self.data, totals, population_size)
        step = CalibrationStep(matrix, tots, method, bounds, self.weights, self.weights)
        return self._recalibrated(step)


def _jackknife(
    strata: np.ndarray,
    psu: np.ndarray,
    n_psu: np.ndarray,
    popsize: np.ndarray | None,
    lonely_psu: str,
    labels: tuple[str, ...],
) -> tuple[np.ndarray, float, np.ndarray]:
    """Delete-one-PSU multipliers ``(n, R)``, ``scale`` and ``rscales`` (R ``jknweights``)."""
    columns, rscales = [], []
    n = len(psu)
    strata_codes = np.unique(strata)
    for h in strata_codes:
        rows = strata == h
        units = np.unique(psu[rows])
        nh = len(units)
        f = 1.0 if popsize is None else (popsize[rows][0] - nh) / popsize[rows][0]
        if f < 1e-7:
            continue  # exhaustively sampled stratum: no replicates needed
        if nh == 1:
            if lonely_psu == "fail":
                label = labels[h] if labels and h < len(labels) else str(h)
                raise EstimationError(
                    "a stratum has only one PSU, so no jackknife replicate can be formed",
                    where=f"stratum {label}",
                    hint="pass lonely_psu='certainty', 'centre' or 'average', or collapse strata",
                )
            if lonely_psu in ("adjust", "centre"):
                k = len(strata_codes)
                col = np.where(rows, 0.0, k / (k - 1))
                columns.append(col)
                rscales.append((k - 1) / k)
            continue
        for unit in units:
            col = np.ones(n)
            col[rows] = nh / (nh - 1)
            col[rows & (psu == unit)] = 0.0
            columns.append(col)
            rscales.append(f * (nh - 1) / nh)
    if not columns:
        raise EstimationError(
            "every stratum was sampled exhaustively: there is no sampling variance",
            where="fpc",
            hint="check the fpc columns",
        )
    mult = np.column_stack(columns)
    rs = np.asarray(rscales)
    scale = 1.0
    if lonely_psu == "average":
        total_psu = sum(len(np.unique(psu[strata == h])) for h in strata_codes)
        scale = total_psu / mult.shape[1] if mult.shape[1] < total_psu else 1.0
    if len(strata_codes) == 1:  # JK1: R keeps rscales = 1 and puts the factor in scale
        return mult, float(rs[0]), np.ones(len(rs))
    return mult, scale, rs


def _bootstrap(
    strata: np.ndarray,
    psu: np.ndarray,
    n_psu: np.ndarray,
    popsize: np.ndarray | None,
    replicates: int,
    seed: int | None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Rao-Wu rescaled-bootstrap multipliers ``(n, R)``, ``scale`` and ``rscales``."""
    if replicates < 2:
        raise EstimationError(
            "the bootstrap needs at least 2 replicates",
            where=f"replicates={replicates}",
            hint="R's default is 50; 200-500 give steadier SEs",
        )
    rng = np.random.default_rng(seed)
    n = len(psu)
    mult = np.ones((n, replicates))
    for h in np.unique(strata):
        rows = np.flatnonzero(strata == h)
        units, inverse = np.unique(psu[rows], return_inverse=True)
        nh = len(units)
        if nh < 2:
            raise EstimationError(
                "the bootstrap needs at least 2 PSUs in every stratum",
                where=f"stratum code {h}",
                hint="collapse strata with a single PSU first",
            )
        f = 0.0 if popsize is None else nh / popsize[rows][0]
        draws = rng.integers(0, nh, size=(replicates, nh - 1))
        counts = np.stack([np.bincount(d, minlength=nh) for d in draws], axis=1)  # (nh, R)
        factor = counts * nh / (nh - 1)
        factor = 1 - np.sqrt(1 - f) + np.sqrt(1 - f) * factor
        mult[rows] = factor[inverse]
    return mult, 1.0 / (replicates - 1), np.ones(replicates)

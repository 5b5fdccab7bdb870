"""``SurveyDesign``: weights, strata, one- or multi-stage clusters and fpc, with calibration.

Mirrors R ``survey::svydesign(id=~psu+ssu, strata=~s, weights=~w, fpc=~f1+f2)``::

    design = SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    design.mean("api00").value            # 662.287..., SE 9.4089 (R: svymean(~api00, dstrat))
    calibrated = design.calibrate({"api99": 3914069}, population_size=6194)
    jk = design.replicate("auto")          # R: as.svrepdesign(design)

Variances are by Taylor linearisation (``variance.design_variance``); calibrated designs project
the calibration variables out of the scores first (GREG residuals).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError
from statcoder.estimation.calibration import calibration_factors, dummies
from statcoder.estimation.columns import as_list, file_rows, numeric_column, text_column
from statcoder.estimation.statistics import EstimatingDesign
from statcoder.estimation.variance import LONELY_PSU, Stages, calibration_residuals, design_variance

if TYPE_CHECKING:
    from statcoder.estimation.replicate import ReplicateDesign


@dataclass(frozen=True)
class CalibrationStep:
    """One calibration applied to a design: variables matrix, their totals, method, bounds."""

    matrix: np.ndarray
    totals: np.ndarray
    method: str
    bounds: tuple[float, float] | None
    base_weights: np.ndarray
    weights: np.ndarray

    def apply(self, weights: np.ndarray) -> np.ndarray:
        """Recalibrate another weight vector (e.g. a replicate) with the same recipe."""
        g = calibration_factors(
            weights, self.matrix, self.totals, method=self.method, bounds=self.bounds
        )
        return weights * g


def calibration_matrix(
    data: pd.DataFrame,
    totals: Mapping[str, float | Mapping[str, float]],
    population_size: float | None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Build the calibration variables: intercept (if ``population_size``), numeric columns,
    and one dummy per category for mapping totals. Returns (matrix, totals, names)."""
    cols, tots, names = [], [], []
    if population_size is not None:
        cols.append(np.ones(len(data)))
        tots.append(float(population_size))
        names.append("(Intercept)")
    for column, total in totals.items():
        if isinstance(total, Mapping):
            levels = [str(k) for k in total]
            values = text_column(data, column)
            unknown = sorted(set(values.tolist()) - set(levels))
            if unknown:
                raise EstimationError(
                    f"sample categories {unknown[:5]} of {column!r} have no population total",
                    where=f"column {column!r}",
                    hint="give a population count for every category in the sample",
                )
            cols.extend(dummies(values, levels).T)
            tots.extend(float(v) for v in total.values())
            names.extend(f"{column}={lv}" for lv in levels)
        else:
            x = numeric_column(data, column)
            if np.isnan(x).any():
                raise EstimationError(
                    f"calibration variable {column!r} is missing for some records",
                    where=f"column {column!r}",
                    hint="impute it, or calibrate on another variable",
                )
            cols.append(x)
            tots.append(float(total))
            names.append(column)
    if not cols:
        raise EstimationError(
            "no calibration totals given",
            where="calibrate",
            hint="give population totals, e.g. {'api99': 3914069}, and/or population_size",
        )
    return np.column_stack(cols), np.asarray(tots), names


def refuse_calibrating_subset(design: EstimatingDesign) -> None:
    """Calibration uses population totals of the whole population: refuse it on a subset."""
    if design.domain_mask is not None:
        raise EstimationError(
            "cannot calibrate a subset of the design",
            where="calibrate() after subset()",
            hint="calibrate the full design first, then take the subset",
        )


def _check_fpc_constant(
    fpc: np.ndarray,
    strata: np.ndarray,
    columns: list[str],
    labels: tuple[str, ...],
    strata_column: str | None,
) -> None:
    """Refuse an fpc that varies within a stratum (stage 1) or a cluster (later stages)."""
    for stage in range(fpc.shape[1]):
        codes = strata[:, stage]
        order = np.lexsort((fpc[:, stage], codes))
        c, v = codes[order], fpc[order, stage]
        first_of = np.r_[True, c[1:] != c[:-1]]
        last_of = np.r_[c[1:] != c[:-1], True]
        lows, highs = v[first_of], v[last_of]
        varying = np.flatnonzero(~np.isclose(lows, highs, rtol=1e-9, atol=0))
        if not len(varying):
            continue
        code = int(c[first_of][varying[0]])
        rows = np.flatnonzero(codes == code)
        values = sorted(set(fpc[rows, stage].tolist()))
        if stage == 0:
            unit = f"stratum {labels[code]!r} of {strata_column!r}" if labels else "the sample"
        else:
            unit = f"stage-{stage} cluster {code}"
        raise EstimationError(
            f"the fpc varies within {unit}: values {values[:5]}",
            where=f"column {columns[stage]!r}, {file_rows(rows, limit=8)}",
            hint="the fpc is the population size (or sampling fraction) of the stratum and must "
            "be the same for all its records; fix the values, or split the stratum",
        )


class SurveyDesign(EstimatingDesign):
    """A probability sample: weights, strata, PSUs (and later-stage units), fpc.

    ``psu`` and ``fpc`` take one column per stage (``["dnum", "snum"]``, ``["fpc1", "fpc2"]``).
    ``fpc`` holds population sizes (all values >= 1) or sampling fractions (all < 1), as in R.
    Without ``weights`` they are derived from the fpc (population / sample size per stage).
    ``lonely_psu``: what to do with a stratum holding a single PSU — ``"fail"`` (default, an
    error), ``"certainty"``/``"remove"`` (no contribution), ``"adjust"`` (alias ``"centre"``;
    R >= 4.4: the PSU total is centred on the grand mean of the PSU totals), ``"adjust-zero"``
    (R < 4.4: centred on zero; same as ``"adjust"`` for means) or ``"average"`` (mean
    variance of the other strata). An fpc must be constant within each stratum (R only warns
    and uses the first value; statcoder refuses, naming the stratum and rows).
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        weights: str | None = None,
        strata: str | None = None,
        psu: str | Sequence[str] | None = None,
        fpc: str | Sequence[str] | None = None,
        lonely_psu: str = "fail",
        allow_zero_weights: bool = False,
    ) -> None:
        if not isinstance(data, pd.DataFrame) or len(data) == 0:
            raise EstimationError(
                "the survey data are empty", where="data", hint="pass a non-empty data frame"
            )
        if lonely_psu not in LONELY_PSU:
            raise EstimationError(
                f"unknown lonely_psu option {lonely_psu!r}",
                where="lonely_psu",
                hint=f"use one of {', '.join(LONELY_PSU)}",
            )
        self.data = data.reset_index(drop=True)
        self.weights_column = weights
        self.strata_column = strata
        self.psu_columns = as_list(psu)
        self.fpc_columns = as_list(fpc)
        self.lonely_psu = lonely_psu
        self.stages = self._build_stages()
        self.base_weights = self._build_weights(allow_zero_weights)
        self.weights = self.base_weights.copy()
        self.calibrations: tuple[CalibrationStep, ...] = ()

    # --- construction -----------------------------------------------------------------
    def _build_stages(self) -> Stages:
        n = len(self.data)
        n_stages = max(len(self.psu_columns), len(self.fpc_columns), 1)
        if self.fpc_columns and len(self.fpc_columns) != max(len(self.psu_columns), 1):
            raise EstimationError(
                f"{len(self.fpc_columns)} fpc column(s) for {max(len(self.psu_columns), 1)} stage(s)",
                where=f"fpc={self.fpc_columns}, psu={self.psu_columns}",
                hint="give one fpc column per sampling stage (e.g. --fpc fpc1 --fpc fpc2)",
            )
        labels: tuple[str, ...] = ()
        if self.strata_column:
            values = text_column(self.data, self.strata_column)
            uniq, s0 = np.unique(values, return_inverse=True)
            labels = tuple(str(u) for u in uniq)
        else:
            s0 = np.zeros(n, dtype=int)
        strata = np.zeros((n, n_stages), dtype=np.int64)
        clusters = np.zeros((n, n_stages), dtype=np.int64)
        parent = s0
        for stage in range(n_stages):
            if stage < len(self.psu_columns):
                ids = text_column(self.data, self.psu_columns[stage])
                _, cl = np.unique(ids, return_inverse=True)
            else:
                cl = np.arange(n)
            # clusters are nested in strata, strata of stage s in the clusters of stage s-1
            strata[:, stage] = parent
            _, clusters[:, stage] = np.unique(
                np.column_stack([parent, cl]), axis=0, return_inverse=True
            )
            parent = clusters[:, stage]
        sampsize = np.zeros((n, n_stages))
        for stage in range(n_stages):
            pairs = np.unique(np.column_stack([strata[:, stage], clusters[:, stage]]), axis=0)
            counts = np.bincount(pairs[:, 0], minlength=strata[:, stage].max() + 1)
            sampsize[:, stage] = counts[strata[:, stage]]
        popsize = None
        if self.fpc_columns:
            fpc = np.column_stack([numeric_column(self.data, c) for c in self.fpc_columns])
            if np.isnan(fpc).any():
                row = int(np.flatnonzero(np.isnan(fpc).any(axis=1))[0]) + 1
                raise EstimationError(
                    "the finite population correction is missing for some records",
                    where=f"columns {self.fpc_columns}, data row {row}",
                    hint="give the population size (or sampling fraction) for every record",
                )
            if (fpc > 1).any() and not (fpc >= 1).all() or (fpc <= 0).any():
                raise EstimationError(
                    "fpc values mix population sizes (>= 1) and sampling fractions (< 1), or are <= 0",
                    where=f"columns {self.fpc_columns}",
                    hint="use population sizes throughout, or sampling fractions in (0, 1] throughout",
                )
            _check_fpc_constant(fpc, strata, self.fpc_columns, labels, self.strata_column)
            popsize = fpc if (fpc > 1).any() else sampsize / fpc
            if (popsize < sampsize - 1e-9).any():
                row = int(np.flatnonzero((popsize < sampsize - 1e-9).any(axis=1))[0]) + 1
                raise EstimationError(
                    "the fpc implies more than 100 % sampling in a stratum",
                    where=f"columns {self.fpc_columns}, data row {row}",
                    hint="the fpc is the number of units in the stratum population, not the weight",
                )
        return Stages(strata, clusters, sampsize, popsize, labels, self.strata_column or "")

    def _build_weights(self, allow_zero: bool) -> np.ndarray:
        if self.weights_column is None:
            if self.stages.popsize is None:
                raise EstimationError(
                    "the design has no weights and no fpc to derive them from",
                    where="weights",
                    hint="pass weights=<column> (CLI: --weights), or fpc columns with population sizes",
                )
            return np.prod(self.stages.popsize / self.stages.sampsize, axis=1)
        w = numeric_column(self.data, self.weights_column)
        where = f"column {self.weights_column!r}"
        if np.isnan(w).any():
            raise EstimationError(
                f"{int(np.isnan(w).sum())} record(s) have no weight",
                where=f"{where}, {file_rows(np.flatnonzero(np.isnan(w)))}",
                hint="every sampled record needs a weight; impute or remove those records first",
            )
        bad = w < 0 if allow_zero else w <= 0
        if bad.any():
            raise EstimationError(
                f"{int(bad.sum())} record(s) have a {'negative' if allow_zero else 'zero or negative'} weight",
                where=f"{where}, {file_rows(np.flatnonzero(bad))}",
                hint="design weights must be positive; pass allow_zero_weights=True to keep records "
                "with weight 0 (they then contribute nothing)",
            )
        return w

    # --- variance -----------------------------------------------------------------------
    def _covariance(
        self, scores: np.ndarray, estimator: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        for step in reversed(self.calibrations):
            scores = calibration_residuals(scores, step.weights, step.base_weights, step.matrix)
        return design_variance(scores, self.stages, lonely_psu=self.lonely_psu)

    def degrees_of_freedom(self) -> float:
        """Number of PSUs minus number of strata (R ``degf``)."""
        pairs = np.unique(self.stages.clusters[:, 0])
        return float(len(pairs) - len(np.unique(self.stages.strata[:, 0])))

    # --- calibration --------------------------------------------------------------------
    def _with_step(
        self,
        matrix: np.ndarray,
        totals: np.ndarray,
        method: str,
        bounds: tuple[float, float] | None,
    ) -> SurveyDesign:
        refuse_calibrating_subset(self)
        g = calibration_factors(self.weights, matrix, totals, method=method, bounds=bounds)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        step = CalibrationStep(matrix, totals, method, bounds, self.weights, self.weights * g)
        new.weights = step.weights
        new.calibrations = self.calibrations + (step,)
        return new

    def calibrate(
        self,
        totals: Mapping[str, float | Mapping[str, float]],
        *,
        population_size: float | None = None,
        method: str = "linear",
        bounds: tuple[float, float] | None = None,
    ) -> SurveyDesign:
        """Return a design whose weights reproduce the population ``totals`` (GREG/raking).

        ``totals`` maps a numeric column to its population total, or a categorical column to
        ``{category: population count}``. ``population_size`` adds the intercept (R's ``~1``).
        """
        matrix, tots, _ = calibration_matrix(self.data, totals, population_size)
        return self._with_step(matrix, tots, method, bounds)

    # --- replication ----------------------------------------------------------------------
    def replicate(
        self, method: str = "auto", *, replicates: int = 50, seed: int | None = 0, mse: bool = False
    ) -> ReplicateDesign:
        """Return a replicate-weight version of this design (R ``as.svrepdesign``).

        ``method``: ``"auto"`` (JK1 without strata, JKn with), ``"JK1"``, ``"JKn"`` or
        ``"bootstrap"`` (Rao-Wu rescaled, ``replicates`` resamples). Calibration steps already
        applied are re-applied to every replicate.
        """
        from statcoder.estimation.replicate import ReplicateDesign

        return ReplicateDesign.from_design(
            self, method=method, replicates=replicates, seed=seed, mse=mse
        )

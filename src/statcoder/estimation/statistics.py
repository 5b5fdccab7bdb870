"""Totals, means, ratios, proportions and linear regression by domain, for any design.

``EstimatingDesign`` holds what every design shares (data, final weights) and turns a request
into linearised scores plus a weighted estimator function; the subclass decides how the
variance is computed (Taylor linearisation in ``SurveyDesign``, replicate weights in
``ReplicateDesign``). Domains are handled as R ``survey`` does for ``svyby``/``subset``: records
outside the domain keep their place in the design with a zero score, so PSUs and strata
without domain members still count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Self

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError
from statcoder.estimation.columns import (
    MISSING_DOMAIN,
    as_list,
    domain_condition,
    file_rows,
    is_numeric,
    numeric_column,
    text_column,
)
from statcoder.estimation.results import Estimates, tidy_frame


class EstimatingDesign:
    """Base of the designs: domain estimation of totals, means, ratios and proportions.

    Every estimator returns an ``Estimates`` and accepts the output options
    ``confidence=0.95``, ``t_interval=False`` (Student t with the design degrees of freedom),
    ``cv_thresholds=(0.165, 0.333)`` and ``flag_labels=("ok", "caution", "suppress")``.
    """

    data: pd.DataFrame
    weights: np.ndarray
    #: records of the sub-population set by ``subset`` (``None`` = everyone)
    domain_mask: np.ndarray | None = None

    # --- to be provided by subclasses -------------------------------------------------
    def _covariance(
        self, scores: np.ndarray, estimator: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        raise NotImplementedError

    def degrees_of_freedom(self) -> float:
        """Design degrees of freedom (PSUs minus strata, or replicates minus one)."""
        raise NotImplementedError

    def calibrate(
        self, totals: Mapping[str, float | Mapping[str, float]], **options: object
    ) -> Self:
        """Return the design with weights calibrated to known ``totals`` (see the subclasses)."""
        raise NotImplementedError

    def post_stratify(self, column: str, population: Mapping[str, float]) -> Self:
        """Return the design post-stratified on ``column`` to ``{category: population count}``
        (R ``postStratify``; on a replicate design every replicate weight too)."""
        return self.calibrate({column: population}, method="linear")

    def rake(
        self,
        margins: Mapping[str, Mapping[str, float]],
        *,
        bounds: tuple[float, float] | None = None,
    ) -> Self:
        """Return the design raked to several categorical margins (R ``rake``; multiplicative)."""
        return self.calibrate(dict(margins), method="raking", bounds=bounds)

    def subset(self, condition: object) -> Self:
        """Return the design restricted to a sub-population, keeping the full design (R ``subset``).

        ``condition`` is a boolean mask (one value per record) or a query on the design's data
        (pandas ``DataFrame.query`` syntax; columns that hold numbers are compared as numbers;
        quote names with dots in backticks: ``"`sch.wide` == 'No'"``). Records outside keep
        their place in the design with zero scores, so every PSU and stratum still counts:
        estimates equal R ``svymean(~y, subset(design, cond))`` and ``svyby``. Filtering the
        data frame before building the design instead drops the PSUs without domain members
        and treats the domain size as fixed, which understates (or misstates) the variance.
        Subsets of subsets intersect.
        """
        mask = domain_condition(self.data, condition)
        if not mask.any():
            raise EstimationError(
                "the subset holds no records",
                where=f"subset({condition!r})" if isinstance(condition, str) else "subset(mask)",
                hint="check the condition (values are case-sensitive; text columns compare as text)",
            )
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.domain_mask = mask if self.domain_mask is None else mask & self.domain_mask
        return new

    # --- public estimators --------------------------------------------------------------
    def total(
        self,
        variables: str | Sequence[str],
        *,
        by: str | Sequence[str] | None = None,
        na_rm: bool = False,
        categorical: bool | None = None,
        **options: object,
    ) -> Estimates:
        """Estimated population totals (units of the variable x population units), by domain.

        A text (or ``categorical=True``) variable gives the estimated count of each category.
        """
        return self._estimate("total", as_list(variables), None, by, na_rm, categorical, options)

    def mean(
        self,
        variables: str | Sequence[str],
        *,
        by: str | Sequence[str] | None = None,
        na_rm: bool = False,
        categorical: bool | None = None,
        **options: object,
    ) -> Estimates:
        """Estimated population means (units of the variable), by domain.

        A text (or ``categorical=True``) variable gives the share of each category (0-1).
        """
        return self._estimate("mean", as_list(variables), None, by, na_rm, categorical, options)

    def proportion(
        self,
        variables: str | Sequence[str],
        *,
        by: str | Sequence[str] | None = None,
        na_rm: bool = False,
        **options: object,
    ) -> Estimates:
        """Estimated share (0-1) of each category of each variable, by domain."""
        return self._estimate("mean", as_list(variables), None, by, na_rm, True, options)

    def ratio(
        self,
        numerator: str | Sequence[str],
        denominator: str,
        *,
        by: str | Sequence[str] | None = None,
        na_rm: bool = False,
        **options: object,
    ) -> Estimates:
        """Estimated ratio of population totals ``t_numerator / t_denominator``, by domain."""
        return self._estimate("ratio", as_list(numerator), denominator, by, na_rm, False, options)

    # --- machinery ----------------------------------------------------------------------
    def _in_scope(self) -> np.ndarray:
        """Records of the sub-population (all records unless ``subset`` was used)."""
        if self.domain_mask is None:
            return np.ones(len(self.weights), dtype=bool)
        return self.domain_mask

    def _domains(self, by: list[str]) -> list[tuple[dict[str, str], np.ndarray]]:
        n = len(self.weights)
        base = np.ones(n, dtype=bool) if self.domain_mask is None else self.domain_mask
        if not by:
            return [({}, base.copy())]
        labels = pd.DataFrame({c: text_column(self.data, c) for c in by})
        keys = labels[base].drop_duplicates().sort_values(by).to_dict("records")
        out = []
        for key in keys:
            mask = base.copy()
            for column, value in key.items():
                mask &= labels[column].to_numpy() == value
            out.append((key, mask))
        return out

    def _variable_columns(
        self, variable: str, categorical: bool | None
    ) -> list[tuple[str, np.ndarray]]:
        """(category label, values) pairs: one for a numeric variable, one per category otherwise."""
        if categorical is None:
            categorical = not is_numeric(self.data, variable)
        if not categorical:
            return [("", numeric_column(self.data, variable))]
        labels = text_column(self.data, variable)
        missing = labels == MISSING_DOMAIN
        out = []
        for level in sorted(set(labels[~missing].tolist())):
            values = (labels == level).astype(float)
            values[missing] = np.nan
            out.append((level, values))
        return out

    def _estimate(
        self,
        kind: str,
        variables: list[str],
        denominator: str | None,
        by: str | Sequence[str] | None,
        na_rm: bool,
        categorical: bool | None,
        options: dict[str, object],
    ) -> Estimates:
        by_list = as_list(by)
        den_values = None if denominator is None else numeric_column(self.data, denominator)
        rows, nums, dens, masks = [], [], [], []
        for variable in variables:
            for category, values in self._variable_columns(variable, categorical):
                valid = ~np.isnan(values)
                if den_values is not None:
                    valid &= ~np.isnan(den_values)
                if not na_rm and not (valid | ~self._in_scope()).all():
                    bad = file_rows(np.flatnonzero(~valid & self._in_scope()))
                    raise EstimationError(
                        f"{int((~valid & self._in_scope()).sum())} record(s) have no value "
                        f"for {variable!r}",
                        where=f"column {variable!r}"
                        + (f" / {denominator!r}" if denominator else "")
                        + f", {bad}",
                        hint="pass na_rm=True (CLI: --na-rm) to estimate from the records with a "
                        "value (R: na.rm=TRUE), or impute the missing values first",
                    )
                for key, mask in self._domains(by_list):
                    m = mask & valid
                    num = np.where(m, np.nan_to_num(values), 0.0)
                    if kind == "total":
                        den = np.full(len(m), np.nan)
                    elif kind == "mean":
                        den = m.astype(float)
                    else:
                        den = np.where(m, np.nan_to_num(den_values), 0.0)
                    statistic = "proportion" if category and kind == "mean" else kind
                    if category and kind == "total":
                        statistic = "count"
                    row = {
                        "variable": variable if den_values is None else f"{variable}/{denominator}"
                    }
                    row["statistic"] = statistic
                    if category:
                        row["category"] = category
                    row.update(key)
                    row["_n"] = int(m.sum())
                    rows.append(row)
                    nums.append(num)
                    dens.append(den)
                    masks.append(m)
        return self._infer(
            pd.DataFrame(rows),
            np.column_stack(nums),
            np.column_stack(dens),
            np.column_stack(masks),
            options,
        )

    def _infer(
        self,
        keys: pd.DataFrame,
        num: np.ndarray,
        den: np.ndarray,
        masks: np.ndarray,
        options: dict[str, object],
    ) -> Estimates:
        w = self.weights
        is_ratio = ~np.isnan(den[0])

        def estimator(weights: np.ndarray) -> np.ndarray:
            top = num.T @ weights
            bottom = np.where(is_ratio, np.nan_to_num(den).T @ weights, 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return top / bottom

        est = estimator(w)
        bottom = np.where(is_ratio, np.nan_to_num(den).T @ w, 1.0)
        if np.any(bottom == 0):
            bad = keys.loc[bottom == 0].drop(columns="_n").iloc[0].to_dict()
            raise EstimationError(
                "a domain has no records (or a zero denominator total), so its mean/ratio is undefined",
                where=f"domain {bad}",
                hint="drop the empty domain, or estimate a total instead",
            )
        u = np.where(is_ratio, (num - est * np.nan_to_num(den)) / bottom, num)
        scores = w[:, None] * u
        cov = self._covariance(scores, estimator)
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        deff = self._deff(u, masks, np.diag(cov))
        return self._package(keys, est, se, cov, deff, options)

    def _deff(self, u: np.ndarray, masks: np.ndarray, var: np.ndarray) -> np.ndarray:
        """Kish design effect: variance over the SRS-without-replacement variance (R ``deff=TRUE``)."""
        w = self.weights
        out = np.full(len(var), np.nan)
        for j in range(len(var)):
            m = masks[:, j]
            psum, nobs = w[m].sum(), int(m.sum())
            if nobs < 2 or psum <= nobs:
                continue
            mu = np.sum(w[m] * u[m, j]) / psum
            s2 = np.sum(w[m] * (u[m, j] - mu) ** 2) / psum * nobs / (nobs - 1)
            vsrs = s2 * psum**2 * (psum - nobs) / (psum * nobs)
            if vsrs > 0:
                out[j] = var[j] / vsrs
        return out

    def _package(
        self,
        keys: pd.DataFrame,
        est: np.ndarray,
        se: np.ndarray,
        cov: np.ndarray,
        deff: np.ndarray | None,
        options: dict[str, object],
    ) -> Estimates:
        confidence = float(options.pop("confidence", 0.95))  # type: ignore[arg-type]
        use_t = bool(options.pop("t_interval", False))
        extra = {k: options.pop(k) for k in ("cv_thresholds", "flag_labels") if k in options}
        if options:
            raise EstimationError(
                f"unknown option(s) {sorted(options)}",
                where="estimator call",
                hint="options are confidence, t_interval, cv_thresholds, flag_labels",
            )
        df = self.degrees_of_freedom() if use_t else None
        frame = tidy_frame(
            keys.drop(columns="_n"),
            est,
            se,
            n=keys["_n"].to_numpy(),
            deff=deff,
            confidence=confidence,
            df=df,
            **extra,  # type: ignore[arg-type]
        )
        return Estimates(frame, cov, confidence, df)

    def linear_regression(
        self,
        response: str,
        covariates: Sequence[str],
        *,
        intercept: bool = True,
        **options: object,
    ) -> Estimates:
        """Design-weighted least squares coefficients with sandwich SEs (R ``svyglm`` gaussian).

        Records with a missing response or covariate are dropped (zero score, kept in the design).
        """
        y = numeric_column(self.data, response)
        cols = [numeric_column(self.data, c) for c in covariates]
        x = np.column_stack(([np.ones(len(y))] if intercept else []) + cols)
        valid = ~np.isnan(y) & ~np.isnan(x).any(axis=1) & self._in_scope()
        x0 = np.where(valid[:, None], x, 0.0)
        y0 = np.where(valid, y, 0.0)

        def estimator(weights: np.ndarray) -> np.ndarray:
            wv = weights * valid
            return np.linalg.solve(x0.T @ (x0 * wv[:, None]), x0.T @ (wv * y0))

        beta = estimator(self.weights)
        w = self.weights * valid
        bread = np.linalg.inv(x0.T @ (x0 * w[:, None]))
        scores = (x0 * (w * (y0 - x0 @ beta))[:, None]) @ bread
        cov = self._covariance(scores, estimator)
        names = (["(Intercept)"] if intercept else []) + list(covariates)
        keys = pd.DataFrame(
            {
                "variable": response,
                "statistic": "coefficient",
                "term": names,
                "_n": int(valid.sum()),
            }
        )
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
        return self._package(keys, beta, se, cov, None, dict(options))

    def quantile(
        self,
        variable: str,
        quantiles: Sequence[float] = (0.5,),
        *,
        by: str | Sequence[str] | None = None,
        na_rm: bool = False,
        confidence: float = 0.95,
    ) -> Estimates:
        """Weighted quantiles with Woodruff intervals (R ``svyquantile`` defaults); see
        ``statcoder.estimation.quantiles``."""
        from statcoder.estimation.quantiles import design_quantiles

        return design_quantiles(
            self, variable, quantiles, by=by, na_rm=na_rm, confidence=confidence
        )

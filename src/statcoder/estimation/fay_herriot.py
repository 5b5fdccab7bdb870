"""Fay-Herriot area-level small-area estimation (Fay & Herriot 1979; Rao & Molina 2015, ch. 6).

Model: ``direct_d = x_d' beta + u_d + e_d`` with ``u_d ~ N(0, A)`` and ``e_d ~ N(0, psi_d)``,
``psi_d`` the known sampling variance of the direct estimate. The EBLUP shrinks each direct
estimate towards the regression: ``gamma_d direct_d + (1 - gamma_d) x_d' beta``,
``gamma_d = A / (A + psi_d)``.

The random-effect variance ``A`` is fitted by REML, ML (Fisher scoring) or the Fay-Herriot
moment method exactly as R ``sae::eblupFH`` does it (start at ``median(psi)``, stop when the
relative change is below ``tol = 1e-4``), and the MSE is the second-order approximation of
``sae::mseFH``: Prasad-Rao ``g1 + g2 + 2 g3`` for REML and Datta-Lahiri (with the bias term
of ``A``) for ML and FH. Areas without a sample get the synthetic estimate ``x' beta`` with
MSE ``A + x' Var(beta) x``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from statcoder.errors import EstimationError, NotFittedError
from statcoder.estimation.columns import canonical_choice

METHODS = ("REML", "ML", "FH")


def fay_herriot_method(method: str) -> str:
    """The method name as in ``METHODS`` (any case: ``"reml"`` -> ``"REML"``)."""
    return canonical_choice(method, METHODS, what="Fay-Herriot method", parameter="method", option="--method")


class CovariateLeakageWarning(UserWarning):
    """An ML-predicted covariate was trained on the same survey's area data it now explains."""


class FayHerriot:
    """Area-level EBLUP with REML / ML / FH fitting (scikit-learn style: ``fit`` then read ``_`` attrs).

    Fitted attributes: ``variance_`` (A), ``coef_``, ``coef_se_``, ``iterations_``,
    ``loglike_``, ``aic_``, ``bic_``, ``kic_``, ``gamma_``, ``eblup_``, ``mse_`` (per area, in
    the units of the direct estimates / their square) and ``g1_``, ``g2_``, ``g3_``.
    """

    def __init__(self, method: str = "REML", *, max_iter: int = 100, tol: float = 1e-4) -> None:
        self.method = method
        self.max_iter = max_iter
        self.tol = tol

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        vardir: np.ndarray,
        *,
        covariate_names: Sequence[str] | None = None,
        areas: Sequence[object] | None = None,
        ml_covariates: Mapping[str, Iterable[object]] | None = None,
    ) -> FayHerriot:
        """Fit on sampled areas: ``X`` (m, p) with the intercept column, ``y`` direct estimates,
        ``vardir`` their sampling variances (all > 0).

        ``ml_covariates`` maps a covariate name to the areas whose survey data trained the model
        that predicted it; overlap with ``areas`` raises a ``CovariateLeakageWarning``.
        """
        method = fay_herriot_method(self.method)
        x = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        psi = np.asarray(vardir, dtype=float)
        m, p = x.shape
        _check_inputs(x, y, psi, areas)
        if m <= p:
            raise EstimationError(
                f"{m} areas cannot fit {p} regression coefficients plus a variance",
                where="covariates",
                hint="use fewer covariates or more areas",
            )
        names = list(covariate_names) if covariate_names else [f"x{j}" for j in range(p)]
        kept = independent_columns(x)
        if len(kept) < p:
            dropped = [names[j] for j in range(p) if j not in kept]
            raise EstimationError(
                f"the covariates are collinear over the {m} sampled areas: {', '.join(dropped)} "
                "is constant or a combination of the others",
                where=f"covariates {', '.join(names)}",
                hint=f"leave out {', '.join(dropped)} (a covariate must vary between sampled areas)",
            )
        if ml_covariates:
            _warn_leakage(ml_covariates, areas, covariate_names)
        try:
            a, iterations = _fit_variance(method, x, y, psi, self.max_iter, self.tol)
            vi = 1.0 / (a + psi)
            q = np.linalg.inv(x.T @ (x * vi[:, None]))
        except np.linalg.LinAlgError:
            raise EstimationError(
                f"the {method} fit failed: the weighted design matrix is singular",
                where=f"covariates {', '.join(names)}",
                hint="use fewer covariates, or method='FH'",
            ) from None
        beta = q @ (x.T @ (vi * y))
        resid = y - x @ beta
        loglike = -0.5 * np.sum(np.log(2 * np.pi * (a + psi)) + resid**2 / (a + psi))
        self.variance_ = a
        self.iterations_ = iterations
        self.coef_ = beta
        self.coef_se_ = np.sqrt(np.diag(q))
        self.coef_cov_ = q
        self.covariate_names_ = names
        self.loglike_ = float(loglike)
        self.aic_ = -2 * loglike + 2 * (p + 1)
        self.bic_ = -2 * loglike + (p + 1) * np.log(m)
        self.kic_ = -2 * loglike + 3 * (p + 1)
        self.gamma_ = a * vi
        self.eblup_ = x @ beta + a * vi * resid
        self.method_ = method
        self.g1_, self.g2_, self.g3_, self.mse_ = _mse(method, x, psi, a, q)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                "the Fay-Herriot model is not fitted",
                where="FayHerriot",
                hint="call fit(X, y, vardir) first",
            )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Synthetic estimates ``x' beta`` (units of the direct estimates) for any areas."""
        self._check_fitted()
        return np.asarray(X, dtype=float) @ self.coef_

    def synthetic_mse(self, X: np.ndarray) -> np.ndarray:
        """MSE of the synthetic estimate of a non-sampled area: ``A + x' Var(beta) x``."""
        self._check_fitted()
        x = np.asarray(X, dtype=float)
        return self.variance_ + np.einsum("ij,jk,ik->i", x, self.coef_cov_, x)


def independent_columns(x: np.ndarray, *, tol: float = 1e-8) -> list[int]:
    """Positions of the columns of ``x`` kept, left to right, while each adds to the rank.

    A column that is constant (when an earlier column is the intercept) or a linear combination
    of the columns kept before it is left out; columns are scaled to unit length first, so the
    tolerance does not depend on their units.
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return []
    norms = np.linalg.norm(x, axis=0)
    scaled = x / np.where(norms > 0, norms, 1.0)
    kept: list[int] = []
    for j in range(x.shape[1]):
        if norms[j] == 0:
            continue
        trial = scaled[:, [*kept, j]]
        if np.linalg.matrix_rank(trial, tol=tol * max(trial.shape)) == len(kept) + 1:
            kept.append(j)
    return kept


def _check_inputs(x: np.ndarray, y: np.ndarray, psi: np.ndarray, areas) -> None:
    def label(i: int) -> str:
        return str(areas[i]) if areas is not None else str(i + 1)

    if not (len(y) == len(psi) == len(x)):
        raise EstimationError(
            "direct estimates, variances and covariates have different lengths",
            where=f"{len(y)} / {len(psi)} / {len(x)}",
            hint="give one row per area",
        )
    for name, values in (("direct estimate", y), ("sampling variance", psi)):
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise EstimationError(
                f"{len(bad)} sampled area(s) have no {name}",
                where=f"areas {[label(i) for i in bad[:5]]}",
                hint="leave both direct estimate and variance empty for a non-sampled area",
            )
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad):
        raise EstimationError(
            f"{len(bad)} area(s) have missing covariates",
            where=f"areas {[label(i) for i in bad[:5]]}",
            hint="every area, sampled or not, needs all covariates",
        )
    bad = np.flatnonzero(psi <= 0)
    if len(bad):
        raise EstimationError(
            f"{len(bad)} area(s) have a zero or negative sampling variance",
            where=f"areas {[label(i) for i in bad[:5]]}",
            hint="a zero variance usually means a single respondent or a constant outcome: smooth "
            "the variances (generalised variance function), or pass on_zero_variance='drop' to "
            "estimate those areas synthetically",
        )


def _warn_leakage(ml_covariates, areas, names) -> None:
    fitted = {str(a) for a in (areas if areas is not None else [])}
    for covariate, trained_on in ml_covariates.items():
        overlap = fitted & {str(a) for a in trained_on}
        if overlap:
            warnings.warn(
                f"covariate {covariate!r} is an ML prediction trained on the survey data of "
                f"{len(overlap)} of the {len(fitted)} areas it now explains; its coefficient is "
                "biased towards the direct estimates and the MSE is understated. Use predictions "
                "from a model trained without these areas (e.g. cross-fitted by area).",
                CovariateLeakageWarning,
                stacklevel=3,
            )


def _fit_variance(method, x, y, psi, max_iter, tol) -> tuple[float, int]:
    m, p = x.shape
    a = float(np.median(psi))
    for k in range(1, max_iter + 1):
        vi = 1.0 / (a + psi)
        xtvi = (x * vi[:, None]).T
        q = np.linalg.inv(xtvi @ x)
        if method == "FH":
            beta = q @ (xtvi @ y)
            resid = y - x @ beta
            s = np.sum(resid**2 * vi) - (m - p)
            f = np.sum(vi)
        else:
            proj = np.diag(vi) - xtvi.T @ q @ xtvi
            py = proj @ y
            if method == "REML":
                s = -0.5 * np.trace(proj) + 0.5 * py @ py
                f = 0.5 * np.sum(proj * proj.T)
            else:  # ML: sae uses the REML score with sum(Vi), as in sae 1.3
                s = -0.5 * np.sum(vi) + 0.5 * py @ py
                f = 0.5 * np.sum(vi**2)
        step = s / f
        while a + step <= -np.min(psi):
            # sae would take a step that gives an area a non-positive variance A + psi (and
            # fail on a singular matrix): halve it instead, so A + psi stays positive
            step /= 2
        new = a + step
        diff = abs((new - a) / a) if a != 0 else np.inf
        a = new
        if diff <= tol:
            return max(a, 0.0), k
    raise EstimationError(
        f"the {method} fit of the random-effect variance did not converge in {max_iter} iterations",
        where="FayHerriot.fit",
        hint="try method='FH', or raise max_iter",
    )


def _mse(method, x, psi, a, q):
    vi = 1.0 / (a + psi)
    b = psi * vi
    g1 = psi * (1 - b)
    g2 = b**2 * np.einsum("ij,jk,ik->i", x, q, x)
    sum_vi2 = np.sum(vi**2)
    if method == "FH":
        sum_vi = np.sum(vi)
        m = len(psi)
        var_a = 2 * m / sum_vi**2
        bias = 2 * (m * sum_vi2 - sum_vi**2) / sum_vi**3
    else:
        var_a = 2 / sum_vi2
        bias = 0.0
        if method == "ML":
            bias = -np.trace(q @ (x.T @ (x * (vi**2)[:, None]))) / sum_vi2
    g3 = b**2 * var_a / (a + psi)
    mse = g1 + g2 + 2 * g3 - bias * b**2
    return g1, g2, g3, mse


def benchmark(
    estimates: np.ndarray, *, weights: np.ndarray, target: float, method: str = "ratio"
) -> np.ndarray:
    """Adjust area estimates so that ``sum(weights * estimates) == target`` (e.g. the direct
    national total). ``ratio`` scales every area by the same factor; ``difference`` adds the
    gap spread in proportion to the weights (``sum(weights**2)`` normalised)."""
    est = np.asarray(estimates, dtype=float)
    w = np.asarray(weights, dtype=float)
    current = float(np.sum(w * est))
    if method == "ratio":
        if current == 0:
            raise EstimationError(
                "ratio benchmarking of estimates that sum to zero",
                where="benchmark",
                hint="use method='difference'",
            )
        return est * target / current
    if method == "difference":
        return est + (target - current) * w / np.sum(w**2)
    raise EstimationError(
        f"unknown benchmarking method {method!r}",
        where="benchmark",
        hint="use 'ratio' or 'difference'",
    )

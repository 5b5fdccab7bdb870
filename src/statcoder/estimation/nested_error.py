"""Unit-level small-area estimation: the nested-error regression model (Battese, Harter & Fuller
1988; Rao & Molina 2015, ch. 7).

Model for unit ``j`` of area ``d``: ``y_dj = x_dj' beta + u_d + e_dj`` with
``u_d ~ N(0, sigma_u2)`` and ``e_dj ~ N(0, sigma_e2)``. The variance components are fitted by
REML or ML (profile likelihood in the ratio ``lambda = sigma_u2 / sigma_e2``, maximised to
machine precision), ``beta`` by generalised least squares. The EBLUP of the mean of area ``d``
with population covariate mean ``X_d`` is

* ``X_d' beta + gamma_d (ybar_d - xbar_d' beta)``, ``gamma_d = sigma_u2 / (sigma_u2 +
  sigma_e2 / n_d)`` (the model mean ``X_d' beta + u_d``; BHF 1988), or, when the area's
  population size ``N_d`` is known, the finite-population mean
  ``f_d ybar_d + (1 - f_d) (Xr_d' beta + u_d)`` with ``f_d = n_d / N_d`` and ``Xr_d`` the mean
  of the covariates over the non-sampled units (R ``sae::eblupBHF``);
* ``X_d' beta`` (synthetic) for an area without sample.

The analytic MSE is the Prasad-Rao approximation ``g1 + g2 + 2 g3`` for REML and the
Datta-Lahiri version for ML (``g1 + g2 + 2 g3 - b' grad g1`` with ``b`` the bias of the ML
variance components); ``g3`` uses the inverse Fisher information of the variance components in
the closed form of Rao (2003, eq. 7.2.16), for REML as for ML; for the finite-population mean it is ``(1 - f)^2 (g1 + g2 + 2 g3)`` with
``Xr_d`` in ``g2`` plus ``(1 - f) sigma_e2 / N_d``. The parametric bootstrap MSE of
González-Manteiga, Lombardía, Molina, Morales & Santamaría (2008) is in ``unit_level``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statcoder.errors import EstimationError, NotFittedError
from statcoder.estimation.columns import canonical_choice

METHODS = ("REML", "ML")


@dataclass(frozen=True)
class _Areas:
    """Sample grouped by area: codes 0..D-1 per record, sizes, and the record order."""

    codes: np.ndarray
    sizes: np.ndarray


def natural_key(value: str) -> tuple[int, float | str]:
    """Sort numbers numerically before text: "2" < "10" < "Hardin"."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _group(areas: np.ndarray) -> tuple[np.ndarray, _Areas]:
    text = np.asarray(areas).astype(str)
    labels = np.asarray(sorted(set(text.tolist()), key=natural_key), dtype=object)
    index = {label: i for i, label in enumerate(labels)}
    codes = np.fromiter((index[v] for v in text), dtype=np.int64, count=len(text))
    return labels.astype(str), _Areas(codes, np.bincount(codes, minlength=len(labels)))


def nested_error_method(method: str) -> str:
    """The method name as in ``METHODS`` (any case: ``"reml"`` -> ``"REML"``)."""
    return canonical_choice(method, METHODS, what="nested-error method", parameter="method", option="--method")


class NestedErrorModel:
    """Nested-error (BHF) linear mixed model, fitted by REML or ML (scikit-learn style).

    ``fit(X, y, areas)`` with ``X`` including the intercept column. Fitted attributes:
    ``coef_`` (beta), ``coef_cov_`` (its covariance), ``sigma_u2_`` and ``sigma_e2_`` (variance
    components, squared units of ``y``), ``vc_cov_`` (inverse Fisher information of
    ``(sigma_u2, sigma_e2)``), ``loglike_`` (REML or ML log-likelihood), ``aic_``, ``bic_``,
    ``areas_`` (labels), ``n_`` (sample size per area), ``xbar_``/``ybar_`` (sample means per
    area), ``gamma_`` and ``random_effects_`` (predicted ``u_d``).
    """

    def __init__(self, method: str = "REML", *, tol: float = 1e-12) -> None:
        self.method = method
        self.tol = tol

    # --- fitting ------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, areas: np.ndarray) -> NestedErrorModel:
        """Fit the variance components and coefficients; returns ``self``."""
        self.method_ = nested_error_method(self.method)
        x = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        labels, groups = _group(areas)
        n, p = x.shape
        if n <= p + 1 or len(labels) < 2:
            raise EstimationError(
                f"{n} records in {len(labels)} areas cannot fit {p} coefficients and two "
                "variance components",
                where="sample",
                hint="the nested-error model needs several areas and more records than covariates",
            )
        if np.linalg.matrix_rank(x) < p:
            raise EstimationError(
                "the covariates are collinear (the design matrix is not of full rank)",
                where="covariates",
                hint="drop a covariate that is a combination of the others",
            )
        self._x, self._y, self._groups = x, y, groups
        sums_x = np.vstack([np.bincount(groups.codes, weights=x[:, k]) for k in range(p)]).T
        self.xbar_ = sums_x / groups.sizes[:, None]
        self.ybar_ = np.bincount(groups.codes, weights=y) / groups.sizes
        lam = self._maximise()
        self._set_components(lam)
        self.areas_ = labels
        self.n_ = groups.sizes
        self.vc_cov_ = np.linalg.inv(self._fisher())
        return self

    def _gls(self, lam: float) -> tuple[np.ndarray, np.ndarray, float]:
        """GLS for ``V = sigma_e2 (I + lam J)``: returns beta, X'WX and r'Wr (with sigma_e2 = 1)."""
        x, y, g = self._x, self._y, self._groups
        c = lam / (1.0 + lam * g.sizes)  # W_d = I - c_d J
        sx = self.xbar_ * g.sizes[:, None]
        sy = self.ybar_ * g.sizes
        xwx = x.T @ x - (sx * c[:, None]).T @ sx
        xwy = x.T @ y - (sx * c[:, None]).T @ sy
        beta = np.linalg.solve(xwx, xwy)
        r = y - x @ beta
        sr = np.bincount(g.codes, weights=r)
        rwr = float(r @ r - np.sum(c * sr**2))
        return beta, xwx, rwr

    def _profile(self, lam: float) -> float:
        """Profile log-likelihood (ML or REML) at variance ratio ``lam``, sigma_e2 profiled out."""
        n, p = self._x.shape
        _, xwx, rwr = self._gls(lam)
        logdet = float(np.sum(np.log1p(lam * self._groups.sizes)))
        if self.method_ == "ML":
            s2 = rwr / n
            return -0.5 * (n * np.log(2 * np.pi) + n * np.log(s2) + logdet + n)
        s2 = rwr / (n - p)
        _, logdet_x = np.linalg.slogdet(xwx)
        return -0.5 * (
            (n - p) * np.log(2 * np.pi) + (n - p) * np.log(s2) + logdet + logdet_x + (n - p)
        )

    def _maximise(self) -> float:
        from scipy.optimize import minimize_scalar

        def objective(t: float) -> float:
            return -self._profile(float(np.exp(t)))

        grid = np.linspace(-20.0, 12.0, 65)
        values = [objective(t) for t in grid]
        k = int(np.argmin(values))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
        res = minimize_scalar(
            objective, bounds=(lo, hi), method="bounded", options={"xatol": self.tol}
        )
        t = float(res.x)
        if objective(t) > -self._profile(0.0):  # the maximum is on the boundary sigma_u2 = 0
            return 0.0
        return float(np.exp(t))

    def _set_components(self, lam: float) -> None:
        n, p = self._x.shape
        beta, xwx, rwr = self._gls(lam)
        s2 = rwr / (n if self.method_ == "ML" else n - p)
        self.coef_ = beta
        self.sigma_e2_ = s2
        self.sigma_u2_ = lam * s2
        self.coef_cov_ = s2 * np.linalg.inv(xwx)
        self.loglike_ = self._profile(lam)
        k = p + 2
        n_eff = n if self.method_ == "ML" else n - p
        self.aic_ = -2 * self.loglike_ + 2 * k
        self.bic_ = -2 * self.loglike_ + np.log(n_eff) * k
        sizes = self._groups.sizes
        self.gamma_ = self.sigma_u2_ / (self.sigma_u2_ + self.sigma_e2_ / sizes)
        self.random_effects_ = self.gamma_ * (self.ybar_ - self.xbar_ @ beta)

    def _fisher(self) -> np.ndarray:
        """Fisher information of ``(sigma_u2, sigma_e2)``, ``tr(V^-1 V_a V^-1 V_b) / 2`` in
        closed form (Rao 2003, eq. 7.2.16; Rao & Molina 2015, sec. 7.2.2), used for both ML
        and REML as in the Prasad-Rao MSE: with ``a_d = sigma_e2 + n_d sigma_u2``,
        ``I_uu = sum n^2/a^2 / 2``, ``I_ue = sum n/a^2 / 2``,
        ``I_ee = sum ((n-1)/sigma_e2^2 + 1/a^2) / 2``."""
        n = self._groups.sizes.astype(float)
        se = self.sigma_e2_
        a = se + n * self.sigma_u2_
        i_uu = np.sum(n**2 / a**2)
        i_ue = np.sum(n / a**2)
        i_ee = np.sum((n - 1) / se**2 + 1 / a**2)
        return 0.5 * np.array([[i_uu, i_ue], [i_ue, i_ee]])

    # --- prediction and MSE -----------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                "the nested-error model is not fitted",
                where="NestedErrorModel",
                hint="call fit(X, y, areas) first",
            )

    def area_estimates(
        self,
        areas: np.ndarray,
        means: np.ndarray,
        population_size: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """EBLUPs and analytic MSEs for ``areas`` with population covariate ``means`` (rows of
        ``(D, p)`` with the intercept); ``population_size`` (``N_d``) switches to the
        finite-population mean. Returns arrays ``n``, ``estimate``, ``mse``, ``synthetic``,
        ``gamma``, ``random_effect``, ``g1``, ``g2``, ``g3`` (units of ``y``, MSE squared)."""
        self._check_fitted()
        labels = np.asarray(areas).astype(str)
        xbar_pop = np.asarray(means, dtype=float)
        index = {a: i for i, a in enumerate(self.areas_)}
        pos = np.array([index.get(a, -1) for a in labels])
        sampled = pos >= 0
        nd = np.where(sampled, self.n_[np.maximum(pos, 0)], 0).astype(float)
        ybar = np.where(sampled, self.ybar_[np.maximum(pos, 0)], 0.0)
        xbar = np.where(sampled[:, None], self.xbar_[np.maximum(pos, 0)], 0.0)
        su, se, beta = self.sigma_u2_, self.sigma_e2_, self.coef_
        gamma = np.where(sampled, su / (su + se / np.maximum(nd, 1)), 0.0)
        u = gamma * (ybar - xbar @ beta)
        if population_size is None:
            f = np.zeros(len(labels))
            target_x = xbar_pop
        else:
            big_n = np.asarray(population_size, dtype=float)
            f = nd / big_n
            with np.errstate(divide="ignore", invalid="ignore"):
                rest = (big_n[:, None] * xbar_pop - nd[:, None] * xbar) / (big_n - nd)[:, None]
            target_x = np.where((big_n > nd)[:, None], rest, xbar_pop)
        synthetic = xbar_pop @ beta
        estimate = f * ybar + (1 - f) * (target_x @ beta + u)
        g1, g2, g3, bias_term = self._mse_terms(nd, xbar, target_x, gamma, sampled)
        core = g1 + g2 + 2 * g3 - bias_term
        mse = (1 - f) ** 2 * core
        if population_size is not None:
            mse = mse + (1 - f) * se / np.asarray(population_size, dtype=float)
        return {
            "n": nd.astype(int),
            "estimate": estimate,
            "mse": mse,
            "synthetic": synthetic,
            "gamma": gamma,
            "random_effect": u,
            "g1": g1,
            "g2": g2,
            "g3": g3,
        }

    def _mse_terms(
        self,
        nd: np.ndarray,
        xbar: np.ndarray,
        target_x: np.ndarray,
        gamma: np.ndarray,
        sampled: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        su, se = self.sigma_u2_, self.sigma_e2_
        safe_n = np.maximum(nd, 1)
        g1 = np.where(sampled, (1 - gamma) * su, su)
        diff = target_x - gamma[:, None] * xbar
        g2 = np.einsum("ij,jk,ik->i", diff, self.coef_cov_, diff)
        v = self.vc_cov_
        g3 = np.where(
            sampled,
            (se**2 * v[0, 0] - 2 * su * se * v[0, 1] + su**2 * v[1, 1])
            / (safe_n**2 * (su + se / safe_n) ** 3),
            0.0,
        )
        bias_term = np.zeros(len(nd))
        if self.method_ == "ML":
            # Datta-Lahiri: the O(1/m) bias of the ML variance components, b = I^-1 * (1/2)
            # (tr(I^-1 (X'V^-1 V_a V^-1 X) ...)); grad g1 = d g1 / d(sigma_u2, sigma_e2)
            b = self._ml_bias()
            denom = (su + se / safe_n) ** 2
            d_su = (se / safe_n) ** 2 / denom
            d_se = (su**2 / safe_n) / denom
            bias_term = np.where(sampled, b[0] * d_su + b[1] * d_se, b[0])
        return g1, g2, g3, bias_term

    def _ml_bias(self) -> np.ndarray:
        """First-order bias of the ML variance components (Datta & Lahiri 2000; Rao & Molina
        2015, sec. 5.3): ``b = -I^-1 / 2 * [tr((X'V^-1X)^-1 X'V^-1 V_a V^-1 X)]_a`` (negative:
        ML underestimates), in closed form over the area blocks."""
        x, g = self._x, self._groups
        n = g.sizes.astype(float)
        su, se = self.sigma_u2_, self.sigma_e2_
        a = se + n * su
        c = su / a  # V_d^-1 = (I - c_d J) / sigma_e2
        sx = self.xbar_ * n[:, None]
        xtx = x.T @ x
        xvx = (xtx - (sx * c[:, None]).T @ sx) / se
        xv_u = (sx / a[:, None] ** 2).T @ sx  # X'V^-1 J V^-1 X
        xv_e = (xtx - (sx * (2 * c - c**2 * n)[:, None]).T @ sx) / se**2  # X'V^-2 X
        q = np.linalg.inv(xvx)
        traces = np.array([np.trace(q @ xv_u), np.trace(q @ xv_e)])
        return -0.5 * self.vc_cov_ @ traces

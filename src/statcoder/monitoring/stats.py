"""Distribution distances and two-sample tests used by every drift signal.

Pure functions: arrays in, numbers out, options keyword-only. Distances are in nats for the
population stability index (PSI) and in bits for the Jensen-Shannon divergence (so JS lies
in [0, 1]). Every p-value returned here is for the null hypothesis "reference and period are
drawn from the same distribution".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "CategoryShift",
    "aligned_counts",
    "benjamini_hochberg",
    "category_shift_test",
    "holm",
    "jensen_shannon",
    "ks_test",
    "psi",
    "quantile_bin_counts",
    "smoothed_distribution",
    "two_proportion_test",
    "wilson_interval",
]


def smoothed_distribution(counts: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """Additively smoothed shares ``(count + alpha) / (n + k * alpha)``; sums to 1 along the last axis.

    Smoothing keeps PSI finite when a category is empty in one sample (``alpha=0.5`` is the
    Jeffreys pseudo-count).
    """
    counts = np.asarray(counts, dtype=float)
    k = counts.shape[-1]
    return (counts + alpha) / (counts.sum(axis=-1, keepdims=True) + k * alpha)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, *, alpha: float = 0.5) -> np.ndarray | float:
    """Population stability index ``sum (q - p) * ln(q / p)`` between smoothed shares (nats).

    Works on the last axis, so a (B, k) array of current counts gives B values. 0 = identical;
    by the usual rule of thumb < 0.1 is stable, 0.1-0.25 a moderate and > 0.25 a major shift.
    """
    p = smoothed_distribution(reference_counts, alpha=alpha)
    q = smoothed_distribution(current_counts, alpha=alpha)
    value = np.sum((q - p) * np.log(q / p), axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray, *, alpha: float = 0.5) -> np.ndarray | float:
    """Jensen-Shannon divergence in bits (0 = identical, 1 = disjoint) between smoothed shares."""
    p = smoothed_distribution(reference_counts, alpha=alpha)
    q = smoothed_distribution(current_counts, alpha=alpha)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 * log 0 = 0 when alpha = 0
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0)
    value = np.maximum(0.5 * np.sum(kl_p, axis=-1) + 0.5 * np.sum(kl_q, axis=-1), 0.0)
    return float(value) if np.ndim(value) == 0 else value


def aligned_counts(reference: Sequence[str], current: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts of each category in both samples over the union of observed categories.

    Returns (reference counts, current counts, categories), categories sorted.
    """
    ref = np.asarray(reference, dtype=object)
    cur = np.asarray(current, dtype=object)
    categories = sorted(set(ref.tolist()) | set(cur.tolist()))
    position = {c: i for i, c in enumerate(categories)}
    rc = np.bincount([position[c] for c in ref], minlength=len(categories))
    cc = np.bincount([position[c] for c in cur], minlength=len(categories))
    return rc.astype(np.int64), cc.astype(np.int64), categories


def quantile_bin_counts(reference: np.ndarray, current: np.ndarray, *, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Counts of a numeric variable in bins cut at the reference quantiles (ties merged).

    Returns (reference counts, current counts); used for the PSI of numeric columns.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1]))
    rc = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    cc = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    return rc, cc


@dataclass(frozen=True)
class CategoryShift:
    """Result of :func:`category_shift_test` (distances in nats / bits, see module doc)."""

    psi: float
    js: float
    psi_null_mean: float  # expected PSI under no shift for these sample sizes (the sampling floor)
    excess_psi: float  # psi - psi_null_mean: the part of the PSI that noise does not explain
    p_value: float
    n_categories: int


def category_shift_test(
    reference_counts: np.ndarray,
    current_counts: np.ndarray,
    *,
    alpha: float = 0.5,
    n_permutations: int = 200,
    seed: int = 0,
) -> CategoryShift:
    """Permutation test of a shift in a categorical distribution, with PSI as the statistic.

    The permutation null splits the pooled counts at random (multivariate hypergeometric), so
    it is exact for sparse tables where chi-square asymptotics fail (hundreds of codes, a few
    hundred records). The p-value comes from a scaled chi-square ``a * chi2(nu)`` matched to the
    mean and variance of the permutation distribution (Satterthwaite), which gives smooth tail
    probabilities beyond ``1 / n_permutations``.
    """
    rc = np.asarray(reference_counts, dtype=np.int64)
    cc = np.asarray(current_counts, dtype=np.int64)
    observed_psi = float(psi(rc, cc, alpha=alpha))
    observed_js = float(jensen_shannon(rc, cc, alpha=alpha))
    pooled = rc + cc
    n_cur = int(cc.sum())
    if n_cur == 0 or rc.sum() == 0 or np.count_nonzero(pooled) < 2:
        return CategoryShift(observed_psi, observed_js, 0.0, observed_psi, 1.0, int(np.count_nonzero(pooled)))
    rng = np.random.default_rng(seed)
    keep = pooled > 0
    draws = rng.multivariate_hypergeometric(pooled[keep], n_cur, size=n_permutations, method="marginals")
    null = psi(pooled[keep][None, :] - draws, draws, alpha=alpha)
    p_value = _scaled_chi2_sf(observed_psi, null)
    mean = float(np.mean(null))
    return CategoryShift(observed_psi, observed_js, mean, observed_psi - mean, p_value, int(keep.sum()))


def _scaled_chi2_sf(observed: float, null: np.ndarray) -> float:
    """Tail probability of ``observed`` under a scaled chi-square matched to ``null``'s moments."""
    mean, var = float(np.mean(null)), float(np.var(null, ddof=1))
    if var <= 0 or mean <= 0:
        return float((1 + np.sum(null >= observed)) / (len(null) + 1))
    scale, dof = var / (2 * mean), 2 * mean**2 / var
    return float(stats.chi2.sf(observed / scale, dof))


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test. Returns (D in [0, 1], p-value)."""
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if len(reference) == 0 or len(current) == 0:
        return float("nan"), float("nan")
    result = stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def two_proportion_test(
    k1: float, n1: float, k0: float, n0: float, *, alternative: str = "two-sided"
) -> tuple[float, float]:
    """Pooled z-test of ``k1/n1`` against ``k0/n0``. Returns (difference p1 - p0, p-value).

    ``alternative="less"`` tests p1 < p0 (e.g. an accuracy drop), ``"greater"`` p1 > p0.
    """
    if n1 <= 0 or n0 <= 0:
        return float("nan"), float("nan")
    p1, p0 = k1 / n1, k0 / n0
    pooled = (k1 + k0) / (n1 + n0)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    diff = p1 - p0
    if se == 0:
        return float(diff), 1.0 if diff == 0 else 0.0
    return float(diff), _z_p_value(diff / se, alternative)


def _z_p_value(z: float, alternative: str) -> float:
    if alternative == "less":
        return float(stats.norm.cdf(z))
    if alternative == "greater":
        return float(stats.norm.sf(z))
    return float(2 * stats.norm.sf(abs(z)))


def wilson_interval(k: float, n: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n``. Returns (lower, upper); NaN when n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    # the exact limits at k = 0 and k = n are 0 and 1; rounding must not move them inside p
    lower = 0.0 if k <= 0 else max(0.0, min(p, centre - half))
    upper = 1.0 if k >= n else min(1.0, max(p, centre + half))
    return float(lower), float(upper)


def benjamini_hochberg(p_values: Sequence[float], *, q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg step-up procedure (false discovery rate ``q``).

    NaN p-values are not tests: they are never rejected and do not count in m.
    Returns (adjusted p-values, rejected booleans), in input order.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    rejected = np.zeros(p.shape, dtype=bool)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if m == 0:
        return adjusted, rejected
    order = valid[np.argsort(p[valid], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted[order] = np.minimum(ranked, 1.0)
    rejected[valid] = adjusted[valid] <= q
    return adjusted, rejected


def holm(p_values: Sequence[float], *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm step-down procedure (family-wise error rate ``alpha``); NaN p-values are skipped.

    Returns (adjusted p-values, rejected booleans), in input order.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if m:
        order = valid[np.argsort(p[valid], kind="stable")]
        ranked = np.maximum.accumulate(p[order] * (m - np.arange(m)))
        adjusted[order] = np.minimum(ranked, 1.0)
    rejected = np.zeros(p.shape, dtype=bool)
    rejected[valid] = adjusted[valid] <= alpha
    return adjusted, rejected

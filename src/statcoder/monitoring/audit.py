"""Label-based accuracy from the audit sample: per-period accuracy, CUSUM, estimate gap.

The audit sample is a random sample of ``auto``-coded records that humans code blind; it
measures the real accuracy of what the coder published without review. These signals see
concept drift (the meaning of codes changes, e.g. a classification revision) that no
label-free estimate can see.

The CUSUM is Page's (1954) one-sided cumulative sum on the Bernoulli error indicator with
log-likelihood-ratio increments for an in-control error rate ``p0`` against an out-of-control
rate ``p1`` (Reynolds & Stoumbos 1999, "A CUSUM chart for monitoring a proportion when
inspecting continuously").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statcoder.monitoring.stats import two_proportion_test, wilson_interval

__all__ = [
    "AuditAccuracy",
    "audit_accuracy",
    "bernoulli_cusum",
    "cusum_null_maxima",
    "cusum_p_value",
]


@dataclass(frozen=True)
class AuditAccuracy:
    """Accuracy of audited records (proportion) with a Wilson interval and a drop test."""

    accuracy: float
    lower: float
    upper: float
    n: int
    drop: float  # reference accuracy - audit accuracy (positive = worse)
    p_value: float  # one-sided, H0: no drop


def audit_accuracy(
    correct: np.ndarray,
    *,
    reference_correct: int,
    reference_n: int,
    confidence_level: float = 0.95,
) -> AuditAccuracy:
    """Accuracy of one period's audit sample against the reference accuracy of auto records.

    ``correct`` holds 0/1 for each audited record. The drop test is a one-sided pooled
    two-proportion z-test.
    """
    correct = np.asarray(correct, dtype=float)
    n = len(correct)
    if n == 0:
        nan = float("nan")
        return AuditAccuracy(nan, nan, nan, 0, nan, nan)
    k = float(correct.sum())
    lower, upper = wilson_interval(k, n, confidence=confidence_level)
    diff, p = two_proportion_test(k, n, reference_correct, reference_n, alternative="less")
    return AuditAccuracy(k / n, lower, upper, n, -diff, p)


def _increments(p0: float, p1: float) -> tuple[float, float]:
    """CUSUM increments for an error (x = 1) and a correct record (x = 0)."""
    return float(np.log(p1 / p0)), float(np.log((1 - p1) / (1 - p0)))


def bernoulli_cusum(errors: np.ndarray, *, p0: float, p1: float) -> np.ndarray:
    """Path of the upper Bernoulli CUSUM ``S_t = max(0, S_{t-1} + llr(x_t))`` (one value per record).

    ``errors`` is 0/1 (1 = the audited record was coded wrong); ``p0 < p1`` are the in-control
    and the out-of-control error rates. Returns S after each record (log-likelihood units).
    """
    up, down = _increments(p0, p1)
    s, path = 0.0, np.empty(len(errors))
    for i, x in enumerate(np.asarray(errors, dtype=float)):
        s = max(0.0, s + (up if x else down))
        path[i] = s
    return path


def cusum_null_maxima(
    checkpoints: np.ndarray, *, p0: float, p1: float, n_simulations: int = 2000, seed: int = 0
) -> np.ndarray:
    """Simulated in-control maxima of the CUSUM up to each checkpoint (a record count).

    Returns an array (n_simulations, len(checkpoints)): ``max_{t <= checkpoint} S_t`` when every
    record is wrong with probability ``p0``.
    """
    checkpoints = np.asarray(checkpoints, dtype=int)
    total = int(checkpoints.max()) if len(checkpoints) else 0
    up, down = _increments(p0, p1)
    rng = np.random.default_rng(seed)
    s = np.zeros(n_simulations)
    running_max = np.zeros(n_simulations)
    out = np.zeros((n_simulations, len(checkpoints)))
    at = {int(c): [j for j, v in enumerate(checkpoints) if v == c] for c in checkpoints}
    for j in at.get(0, []):
        out[:, j] = 0.0
    for t in range(1, total + 1):
        errors = rng.random(n_simulations) < p0
        s = np.maximum(0.0, s + np.where(errors, up, down))
        np.maximum(running_max, s, out=running_max)
        for j in at.get(t, []):
            out[:, j] = running_max
    return out


def cusum_p_value(observed: float, null_maxima: np.ndarray) -> float:
    """Monte Carlo p-value ``(1 + #{null max >= observed}) / (B + 1)`` for a CUSUM value."""
    null_maxima = np.asarray(null_maxima, dtype=float)
    return float((1 + np.sum(null_maxima >= observed - 1e-12)) / (len(null_maxima) + 1))

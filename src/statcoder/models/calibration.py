"""Calibration of classifier scores into probabilities, and calibration error.

Temperature scaling (Guo et al., 2017): ``p = softmax(scores / T)`` with one temperature
fitted by maximum likelihood on held-out scores. It keeps the ranking of the classes (so
top-1 accuracy is unchanged) and makes the probabilities honest.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator


def softmax(scores: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature``; rows sum to 1. ``-inf`` scores get 0."""
    z = np.asarray(scores, dtype=np.float64) / temperature
    z = z - np.max(z, axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def fit_temperature(scores: np.ndarray, y_index: np.ndarray, *, bounds: tuple[float, float] = (1e-3, 1e3)) -> float:
    """Return the temperature T > 0 minimising the mean negative log-likelihood of the true classes.

    ``y_index`` holds the column of each record's true class (-1 for a class the scores do
    not cover). Records whose true class has a score of ``-inf`` (the class was absent from the
    data the scores came from) are ignored: no temperature can give them probability.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y_index)
    keep = y >= 0
    s, y = s[keep], y[keep]
    if len(y) == 0:
        return 1.0
    s = s - s.max(axis=1, keepdims=True)
    true_score = s[np.arange(len(y)), y]
    finite = np.isfinite(true_score)
    s, true_score = s[finite], true_score[finite]

    def nll(log_t: float) -> float:
        t = np.exp(log_t)
        z = s / t
        m = z.max(axis=1)
        lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
        return float(np.mean(lse - true_score / t))

    result = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                             options={"xatol": 1e-4})
    return float(np.exp(result.x))


class TemperatureCalibrator(BaseEstimator):
    """Maps scores to probabilities as ``softmax(scores / temperature_)``.

    ``fit(scores, y_index)`` fits the temperature by maximum likelihood (``fit_temperature``)
    unless ``temperature`` is given, which is then used as is.
    """

    def __init__(self, temperature: float | None = None) -> None:
        self.temperature = temperature
        if temperature is not None:
            self.temperature_ = float(temperature)

    def fit(self, scores: np.ndarray, y_index: np.ndarray) -> TemperatureCalibrator:
        """Fit the temperature on held-out ``scores`` and true-class columns; returns self."""
        self.temperature_ = float(self.temperature) if self.temperature is not None else fit_temperature(scores, y_index)
        return self

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities; rows sum to 1."""
        return softmax(scores, temperature=self.temperature_)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int = 15) -> float:
    """Top-label expected calibration error, in probability units (0 = perfectly calibrated).

    Equal-width bins over [0, 1]; the weighted mean over bins of |accuracy - mean confidence|.
    """
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return float("nan")
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        mask = bins == b
        total += mask.sum() * abs(hit[mask].mean() - conf[mask].mean())
    return float(total / conf.size)

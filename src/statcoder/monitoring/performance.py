"""Label-free performance estimation: the accuracy a period probably has, before any audit.

Three estimators, all returning an :class:`Estimate` (a proportion in [0, 1] with an interval):

* **average confidence** - the mean calibrated probability of the predicted code. Unbiased
  for the expected accuracy when the model is calibrated on the period's distribution.
* **CBPE-style** (confidence-based performance estimation, as in NannyML) - the confidence is
  first recalibrated on the labelled reference set (isotonic regression of correctness on
  confidence, then per-group offsets for the predicted top-level group), then averaged; :func:`expected_confusion` gives the whole expected confusion
  matrix from the probabilities.
* **ATC** - average thresholded confidence (Garg, Balakrishnan, Lipton, Neyshabur & Sedghi,
  ICLR 2022): learn the threshold ``t`` on the reference so that the share of reference scores
  above ``t`` equals the reference accuracy; the period's estimate is its share above ``t``.

Optional label-shift correction: recalibrate the probabilities on the reference
(:func:`fit_bcts`), re-estimate the class priors of a period by EM (:func:`em_label_shift`;
Saerens, Latinne & Decaestecker 2002, Neural Computation 14(1)) and reweight the reference's
correctness by the new priors (:func:`reweighted_accuracy`).

Intervals: for a period of ``n`` records whose correctness is Bernoulli with probabilities
``c_i``, the realised accuracy has variance ``sum c_i (1 - c_i) / n^2`` around the estimate
(Poisson-binomial); ``se_mean`` is the standard error of the estimate itself, used to test a
change against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "ATCThreshold",
    "Estimate",
    "TopLabelCalibrator",
    "atc_estimate",
    "average_confidence",
    "em_label_shift",
    "expected_confusion",
    "fit_atc",
]


@dataclass(frozen=True)
class Estimate:
    """An estimated accuracy (proportion in [0, 1]) with a two-sided interval for the realised accuracy."""

    value: float
    lower: float
    upper: float
    se: float  # standard error of the realised accuracy around the estimate
    se_mean: float  # standard error of the estimate itself (for change tests)
    n: int


def _z(confidence_level: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence_level / 2))


def average_confidence(confidence: np.ndarray, *, confidence_level: float = 0.95) -> Estimate:
    """Expected accuracy = mean confidence of the predicted codes, with a Poisson-binomial interval."""
    c = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    n = len(c)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0)
    value = float(c.mean())
    se = float(np.sqrt(np.sum(c * (1 - c))) / n)
    se_mean = float(c.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    z = _z(confidence_level)
    return Estimate(value, max(0.0, value - z * se), min(1.0, value + z * se), se, se_mean, n)


class TopLabelCalibrator:
    """Map from a confidence (and the predicted top-level group) to P(predicted code is right).

    Fitted on the labelled reference; the CBPE-style estimator averages its output. First an
    isotonic regression of correctness on confidence; then, when ``groups`` are given, a
    logistic regression on the logit of that output plus one offset per predicted top-level
    group (L2-penalised with strength ``1 / C``). The offsets keep the calibration right when
    the mix of groups shifts and the model is over-confident in some groups and not in others.
    """

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, confidence: np.ndarray, correct: np.ndarray, groups: np.ndarray | None = None) -> TopLabelCalibrator:
        """Learn the map on reference confidences, 0/1 correctness and optional groups. Returns self."""
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        correct = np.asarray(correct, float)
        self.isotonic_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.isotonic_.fit(np.asarray(confidence, float), correct)
        self.groups_: list[str] = []
        self.group_model_ = None
        if groups is not None and 0 < correct.mean() < 1:
            self.groups_ = sorted(set(np.asarray(groups, dtype=object).tolist()))
            features = self._features(confidence, groups)
            self.group_model_ = LogisticRegression(C=self.C, max_iter=1000).fit(features, correct)
        return self

    def _features(self, confidence: np.ndarray, groups: np.ndarray) -> np.ndarray:
        p = np.clip(self.isotonic_.predict(np.asarray(confidence, float)), 1e-4, 1 - 1e-4)
        position = {g: i for i, g in enumerate(self.groups_)}
        onehot = np.zeros((len(p), len(self.groups_)))
        for i, g in enumerate(np.asarray(groups, dtype=object)):
            if g in position:  # a group unseen in the reference gets no offset
                onehot[i, position[g]] = 1.0
        return np.column_stack([np.log(p / (1 - p)), onehot])

    def transform(self, confidence: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Recalibrated confidences (probabilities in [0, 1]); pass groups if fitted with them.

        An empty input (e.g. a period without auto-coded records) gives an empty array.
        """
        if len(np.asarray(confidence)) == 0:
            return np.zeros(0, dtype=float)
        if self.group_model_ is None or groups is None:
            return np.asarray(self.isotonic_.predict(np.asarray(confidence, float)), dtype=float)
        return self.group_model_.predict_proba(self._features(confidence, groups))[:, 1]


def expected_confusion(proba: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Expected confusion matrix ``E[C]`` (true class in rows, predicted in columns), in records.

    ``E[C][j, k] = sum over records predicted k of proba[i, j]``; its trace divided by n is
    the expected accuracy, its column sums are the predicted counts.
    """
    proba = np.asarray(proba, dtype=float)
    k = proba.shape[1]
    onehot = np.zeros((len(predicted), k))
    onehot[np.arange(len(predicted)), np.asarray(predicted, dtype=int)] = 1.0
    return proba.T @ onehot


@dataclass(frozen=True)
class ATCThreshold:
    """A fitted ATC threshold: scores above ``threshold`` count as right, ties count ``tie_weight``."""

    threshold: float
    tie_weight: float
    reference_accuracy: float
    bootstrap: tuple[tuple[float, float], ...]  # (threshold, tie weight) on bootstrap resamples


def _atc_fit_once(scores: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    accuracy = float(np.mean(correct))
    ordered = np.sort(scores)
    n = len(ordered)
    # the (1 - accuracy) quantile: that share of reference records scores below t
    index = min(max(int(np.floor((1 - accuracy) * n)), 0), n - 1)
    t = float(ordered[index])
    above = np.mean(scores > t)
    at = np.mean(scores == t)
    weight = float(np.clip((accuracy - above) / at, 0.0, 1.0)) if at > 0 else 0.0
    return t, weight


def fit_atc(scores: np.ndarray, correct: np.ndarray, *, n_bootstrap: int = 200, seed: int = 0) -> ATCThreshold:
    """Learn the ATC threshold on reference scores (e.g. the confidence) and 0/1 correctness.

    Ties at the threshold get a fractional weight so that the estimate on the reference equals
    the reference accuracy exactly. Bootstrap resamples of the reference give the threshold's
    own uncertainty for the interval.
    """
    scores = np.asarray(scores, dtype=float)
    correct = np.asarray(correct, dtype=float)
    t, w = _atc_fit_once(scores, correct)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, len(scores), len(scores))
        boot.append(_atc_fit_once(scores[idx], correct[idx]))
    return ATCThreshold(t, w, float(correct.mean()), tuple(boot))


def _atc_share(scores: np.ndarray, threshold: float, weight: float) -> float:
    return float(np.mean(scores > threshold) + weight * np.mean(scores == threshold))


def atc_estimate(scores: np.ndarray, fitted: ATCThreshold, *, confidence_level: float = 0.95) -> Estimate:
    """ATC estimate of a period's accuracy: its (tie-weighted) share of scores above the threshold.

    The interval adds the binomial variance of the share and the bootstrap variance of the threshold.
    """
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0)
    value = _atc_share(scores, fitted.threshold, fitted.tie_weight)
    boot = [_atc_share(scores, t, w) for t, w in fitted.bootstrap]
    var_threshold = float(np.var(boot, ddof=1)) if len(boot) > 1 else 0.0
    se_mean = float(np.sqrt(value * (1 - value) / n + var_threshold))
    z = _z(confidence_level)
    return Estimate(value, max(0.0, value - z * se_mean), min(1.0, value + z * se_mean), se_mean, se_mean, n)


def em_label_shift(
    proba: np.ndarray,
    reference_prior: np.ndarray,
    *,
    max_iter: int = 1000,
    tol: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Re-estimate class priors of a new sample by EM and adjust its posteriors.

    Saerens, Latinne & Decaestecker (2002): iterate
    ``p'(y|x) ∝ p(y|x) * pi'(y) / pi(y)`` and ``pi'(y) = mean_x p'(y|x)`` until the priors move
    less than ``tol``. ``reference_prior`` is the prior the posteriors were calibrated under
    (e.g. the mean reference probability per class). Returns (new priors, adjusted posteriors,
    iterations used).
    """
    proba = np.asarray(proba, dtype=float)
    base = np.clip(np.asarray(reference_prior, dtype=float), 1e-12, None)
    base = base / base.sum()
    prior = base.copy()
    adjusted = proba
    iteration = 0
    for iteration in range(1, max_iter + 1):
        weighted = proba * (prior / base)
        adjusted = weighted / np.clip(weighted.sum(axis=1, keepdims=True), 1e-300, None)
        new_prior = adjusted.mean(axis=0)
        if np.max(np.abs(new_prior - prior)) < tol:
            prior = new_prior
            break
        prior = new_prior
    return prior, adjusted, iteration


def fit_bcts(proba: np.ndarray, y: np.ndarray, *, max_iter: int = 200) -> tuple[float, np.ndarray]:
    """Bias-corrected temperature scaling (Alexandari, Kundaje & Shrikumar, ICML 2020).

    Fits ``softmax(log(proba) / T + b)`` to the integer labels ``y`` by maximum likelihood.
    Calibrating this way before EM makes the prior estimates of :func:`em_label_shift` much
    less biased. Returns (T, b).
    """
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    logp = np.log(np.clip(np.asarray(proba, dtype=float), 1e-12, None))
    k = logp.shape[1]
    y = np.asarray(y, dtype=int)

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        inv_t, b = params[0], params[1:]
        z = logp * inv_t + b
        lse = logsumexp(z, axis=1)
        p = np.exp(z - lse[:, None])
        value = float(np.sum(lse - z[np.arange(len(y)), y]))
        onehot = np.zeros_like(p)
        onehot[np.arange(len(y)), y] = 1.0
        diff = p - onehot
        grad = np.r_[np.sum(diff * logp), diff.sum(axis=0)]
        return value / len(y), grad / len(y)

    start = np.r_[1.0, np.zeros(k)]
    result = minimize(nll, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter},
                      bounds=[(1e-3, 100.0)] + [(None, None)] * k)
    return 1.0 / float(result.x[0]), result.x[1:]


def bcts_transform(proba: np.ndarray, temperature: float, bias: np.ndarray) -> np.ndarray:
    """Apply a fitted :func:`fit_bcts` calibration; rows sum to 1."""
    from scipy.special import softmax

    logp = np.log(np.clip(np.asarray(proba, dtype=float), 1e-12, None))
    return softmax(logp / temperature + bias, axis=1)


def reweighted_accuracy(
    correct: np.ndarray, weights: np.ndarray, *, n_target: int, confidence_level: float = 0.95
) -> Estimate:
    """Accuracy of a period under label shift: reference correctness weighted by ``pi'(y) / pi(y)``.

    Under label shift (the mix of codes changes, not how each is written) the expected accuracy is
    ``sum_y pi'(y) acc(y)``, i.e. the weighted mean of the reference 0/1 correctness with weights of
    each record's true group. The interval adds the weighted mean's variance to the binomial
    variance of a period of ``n_target`` records.
    """
    correct = np.asarray(correct, dtype=float)
    w = np.asarray(weights, dtype=float)
    if len(correct) == 0 or w.sum() <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), n_target)
    value = float(np.sum(w * correct) / w.sum())
    var_mean = float(np.sum(w**2 * (correct - value) ** 2) / w.sum() ** 2)
    se = float(np.sqrt(var_mean + value * (1 - value) / max(n_target, 1)))
    z = _z(confidence_level)
    return Estimate(value, max(0.0, value - z * se), min(1.0, value + z * se), se, float(np.sqrt(var_mean)), n_target)

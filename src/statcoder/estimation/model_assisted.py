"""Model-assisted estimation with machine-learning working models.

* ``difference_estimator``: an externally trained model's predictions ``m(x)`` are known for
  every population unit; ``t = sum_U m + sum_s w (y - m)`` (Särndal, Swensson & Wretman 1992,
  sec. 6.3). Design-unbiased whatever the model; the model only changes the variance.
* ``CrossFittedGREG``: the working model (any scikit-learn regressor, or classifier for a 0/1
  outcome) is trained on the sample itself, **cross-fitted**: PSUs are split into K folds
  within strata; each fold's residuals come from a model trained on the other folds, and the
  population part averages the K fold models. Out-of-fold residuals keep the estimator
  approximately design-unbiased for flexible learners (cf. Dagdoug, Goga & Haziza 2023;
  Chernozhukov et al. 2018). Variance: linearisation on the out-of-fold residuals, or
  replicate weights with the model refitted in every replicate.
* ``model_calibration``: calibrate the weights on ``(1, m(x))`` to ``(N, sum_U m(x))``
  (Wu & Sitter 2001), with cross-fitted ``m``; the calibrated design then serves any variable.

With only known population totals of the auxiliaries (no unit-level frame), the working model
must be linear: that is ``SurveyDesign.calibrate`` (GREG).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier

from statcoder.errors import EstimationError
from statcoder.estimation.columns import numeric_column
from statcoder.estimation.design import SurveyDesign
from statcoder.estimation.results import Estimates


def _features(frame: pd.DataFrame, features: Sequence[str], where: str) -> np.ndarray:
    cols = [numeric_column(frame, c) for c in features]
    x = np.column_stack(cols) if cols else np.zeros((len(frame), 0))
    if np.isnan(x).any():
        row = int(np.flatnonzero(np.isnan(x).any(axis=1))[0]) + 1
        raise EstimationError(
            "auxiliary variables are missing for some units",
            where=f"{where}, row {row}",
            hint="model-assisted estimation needs the auxiliaries for every sample and population unit",
        )
    return x


def _response(design: SurveyDesign, response: str) -> np.ndarray:
    y = numeric_column(design.data, response)
    if np.isnan(y).any():
        row = int(np.flatnonzero(np.isnan(y))[0]) + 1
        raise EstimationError(
            f"the response {response!r} is missing for some sampled units",
            where=f"data row {row}",
            hint="impute it or reweight for non-response before model-assisted estimation",
        )
    return y


def _result(
    design: SurveyDesign,
    response: str,
    total: float,
    scores: np.ndarray,
    population_size: float,
    label: str,
    options: dict,
) -> Estimates:
    keys = pd.DataFrame(
        {
            "variable": [response, response],
            "statistic": ["total", "mean"],
            "estimator": [label, label],
            "_n": [len(scores)] * 2,
        }
    )
    z = np.column_stack([scores, scores / population_size])
    cov = design._covariance(z, lambda w: np.zeros(2))
    est = np.array([total, total / population_size])
    return design._package(
        keys, est, np.sqrt(np.clip(np.diag(cov), 0, None)), cov, None, dict(options)
    )


def difference_estimator(
    design: SurveyDesign,
    response: str,
    *,
    sample_predictions: Sequence[float],
    population_prediction_total: float,
    population_size: float,
    **options: object,
) -> Estimates:
    """Total and mean of ``response`` by the difference estimator with fixed predictions.

    ``sample_predictions``: ``m(x)`` of each sampled record; ``population_prediction_total``:
    ``sum_U m(x)``; ``population_size``: N. Returns an ``Estimates`` with a total and a mean row.
    """
    y = _response(design, response)
    m = np.asarray(sample_predictions, dtype=float)
    if m.shape != y.shape or np.isnan(m).any():
        raise EstimationError(
            "sample_predictions needs one number per sampled record",
            where=f"{m.shape} vs {y.shape}",
            hint="predict the model on the sample records, in the data order",
        )
    residual = y - m
    total = population_prediction_total + float(design.weights @ residual)
    return _result(
        design, response, total, design.weights * residual, population_size, "difference", options
    )


def psu_folds(design: SurveyDesign, n_folds: int, seed: int | None) -> np.ndarray:
    """Fold number (0..K-1) of each record: PSUs shuffled and dealt round-robin within strata."""
    if n_folds < 2:
        raise EstimationError(
            "cross-fitting needs at least 2 folds",
            where=f"n_folds={n_folds}",
            hint="use n_folds=5 (default) or 10",
        )
    rng = np.random.default_rng(seed)
    strata, psu = design.stages.strata[:, 0], design.stages.clusters[:, 0]
    fold = np.zeros(len(psu), dtype=int)
    offset = 0
    for h in np.unique(strata):
        units = rng.permutation(np.unique(psu[strata == h]))
        for j, unit in enumerate(units):
            fold[psu == unit] = (j + offset) % n_folds
        offset += len(units)  # continue the deal so small strata do not all land in fold 0
    if len(np.unique(fold)) < n_folds:
        raise EstimationError(
            f"only {len(np.unique(fold))} PSU folds could be formed for {n_folds} requested",
            where="n_folds",
            hint="use fewer folds than PSUs",
        )
    return fold


class CrossFittedGREG:
    """GREG/difference estimator with a cross-fitted scikit-learn working model.

    ``model``: any regressor (or classifier, for a 0/1 response: ``m(x) = P(y=1|x)``).
    ``variance``: ``"linearisation"`` (out-of-fold residuals) or ``"replicate"`` (refit the
    cross-fitted model in every replicate of ``design.replicate(replicate_method, ...)``).
    ``weighted_fit``: pass the design weights as ``sample_weight`` when training.
    After ``fit``: ``result_`` (Estimates: total and mean), ``oof_predictions_``, ``folds_``,
    ``population_predictions_`` (average of the fold models), ``models_``.
    """

    def __init__(
        self,
        model: BaseEstimator,
        *,
        n_folds: int = 5,
        seed: int | None = 0,
        variance: str = "linearisation",
        replicate_method: str = "bootstrap",
        replicates: int = 50,
        weighted_fit: bool = False,
    ) -> None:
        self.model = model
        self.n_folds = n_folds
        self.seed = seed
        self.variance = variance
        self.replicate_method = replicate_method
        self.replicates = replicates
        self.weighted_fit = weighted_fit

    def _predict(self, model: BaseEstimator, x: np.ndarray) -> np.ndarray:
        if is_classifier(model):
            classes = list(model.classes_)
            if 1 not in classes and 1.0 not in classes:
                return np.zeros(len(x))
            return model.predict_proba(x)[:, classes.index(1)]
        return model.predict(x)

    def _cross_fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        folds: np.ndarray,
        population_x: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, list[BaseEstimator]]:
        """Out-of-fold sample predictions, fold-averaged population predictions, fold models."""
        oof = np.zeros(len(y))
        pop = np.zeros(len(population_x))
        models = []
        keep = weights > 0
        for k in range(self.n_folds):
            train = (folds != k) & keep
            model = clone(self.model)
            labels = y[train].astype(int) if is_classifier(model) else y[train]
            if self.weighted_fit:
                model.fit(x[train], labels, sample_weight=weights[train])
            else:
                model.fit(x[train], labels)
            oof[folds == k] = self._predict(model, x[folds == k])
            pop += self._predict(model, population_x) / self.n_folds
            models.append(model)
        return oof, pop, models

    def fit(
        self,
        design: SurveyDesign,
        response: str,
        features: Sequence[str],
        population: pd.DataFrame,
        **options: object,
    ) -> CrossFittedGREG:
        """Estimate the total and mean of ``response`` over the units of ``population``
        (a frame with the ``features`` for every population unit). Returns self."""
        if self.variance not in ("linearisation", "replicate"):
            raise EstimationError(
                f"unknown variance {self.variance!r}",
                where="variance",
                hint="use 'linearisation' or 'replicate'",
            )
        y = _response(design, response)
        if is_classifier(self.model) and not np.isin(y, (0, 1)).all():
            raise EstimationError(
                "a classifier working model needs a 0/1 response",
                where=f"column {response!r}",
                hint="use a regressor for other outcomes",
            )
        x = _features(design.data, features, "sample")
        population_x = _features(population, features, "population frame")
        folds = psu_folds(design, self.n_folds, self.seed)
        oof, pop, models = self._cross_fit(x, y, design.weights, folds, population_x)
        total = float(pop.sum() + design.weights @ (y - oof))
        n_pop = float(len(population))
        self.folds_, self.oof_predictions_, self.population_predictions_, self.models_ = (
            folds,
            oof,
            pop,
            models,
        )
        self.result_ = _result(
            design,
            response,
            total,
            design.weights * (y - oof),
            n_pop,
            "cross-fitted GREG",
            dict(options),
        )
        if self.variance == "replicate":
            self.result_ = self._replicate_result(
                design, x, y, folds, population_x, total, n_pop, options
            )
        return self

    def _replicate_result(
        self,
        design: SurveyDesign,
        x: np.ndarray,
        y: np.ndarray,
        folds: np.ndarray,
        population_x: np.ndarray,
        total: float,
        n_pop: float,
        options: dict[str, object],
    ) -> Estimates:
        rep = design.replicate(self.replicate_method, replicates=self.replicates, seed=self.seed)
        thetas = []
        for r in range(rep.replicate_weights.shape[1]):
            w_r = rep.replicate_weights[:, r]
            oof, pop, _ = self._cross_fit(x, y, w_r, folds, population_x)
            thetas.append(pop.sum() + w_r @ (y - oof))
        thetas = np.asarray(thetas)
        centre = total if rep.mse else thetas.mean()
        var_total = rep.scale * np.sum(rep.rscales * (thetas - centre) ** 2)
        cov = np.array([[var_total, var_total / n_pop], [var_total / n_pop, var_total / n_pop**2]])
        keys = pd.DataFrame(
            {
                "variable": [self.result_.frame["variable"][0]] * 2,
                "statistic": ["total", "mean"],
                "estimator": ["cross-fitted GREG (replicate variance)"] * 2,
                "_n": [len(y)] * 2,
            }
        )
        est = np.array([total, total / n_pop])
        return design._package(keys, est, np.sqrt(np.diag(cov)), cov, None, dict(options))


def model_calibration(
    design: SurveyDesign,
    features: Sequence[str],
    population: pd.DataFrame,
    *,
    model: BaseEstimator,
    response: str,
    n_folds: int = 5,
    seed: int | None = 0,
) -> SurveyDesign:
    """Return ``design`` calibrated on ``(1, m(x))`` to ``(N, sum_U m(x))`` (Wu & Sitter 2001),
    with ``m`` cross-fitted on ``response``; estimate any variable with the returned design."""
    greg = CrossFittedGREG(model, n_folds=n_folds, seed=seed)
    greg.fit(design, response, features, population)
    matrix = np.column_stack([np.ones(len(design.weights)), greg.oof_predictions_])
    totals = np.array([float(len(population)), float(greg.population_predictions_.sum())])
    return design._with_step(matrix, totals, "linear", None)


WORKING_MODELS = ("linear", "gradient-boosting", "random-forest", "logistic")


def make_working_model(name: str, *, seed: int = 0):
    """Return an unfitted scikit-learn working model by short name (used by the CLI)."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    models = {
        "linear": lambda: LinearRegression(),
        "gradient-boosting": lambda: GradientBoostingRegressor(
            n_estimators=100, max_depth=3, learning_rate=0.1, subsample=0.8, random_state=seed
        ),
        "random-forest": lambda: RandomForestRegressor(
            n_estimators=200, min_samples_leaf=5, random_state=seed
        ),
        "logistic": lambda: LogisticRegression(max_iter=1000),
    }
    if name not in models:
        raise EstimationError(
            f"unknown working model {name!r}",
            where="model",
            hint=f"use one of {', '.join(WORKING_MODELS)}",
        )
    return models[name]()

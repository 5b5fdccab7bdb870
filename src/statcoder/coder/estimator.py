"""``HierarchicalCoder``: the whole training recipe as one scikit-learn meta-estimator.

In the style of ``CalibratedClassifierCV``: ``fit(texts, codes)`` splits the records into K
folds, fits one clone of the base estimator per fold on the other folds (the *members*),
scores every record with the member that did not see it (out-of-fold scores), fits one
temperature on those scores (the calibrator), chooses per-level thresholds for the target
accuracy by fixed-sequence testing, and fits the conformal prediction-set quantiles.

What is deployed (``deploy``):

* ``"mean"`` (``train``'s default for the linear backend): one linear model whose weights are
  the mean of the members' weights (members fitted on one shared featuriser, so the mean of
  their margins is itself one linear model). One model evaluation per record; top-1 within
  a point of a refit. The thresholds were chosen on the members' out-of-fold scores, so the
  promise is empirical for it (checked per fold by ``benchmarks/core/promise.py``).
* ``"members"`` (this class's default: it works with any base estimator): the K members
  themselves. A new record goes to one member, chosen by a hash of its normalised text (so a
  text always gets the same answer). Training records were assigned to folds at random (blind
  to their codes, see ``random_folds``), so a training record's out-of-fold score and a new
  record's deployed score are draws from the same process: a member scoring a record it did
  not see, the member picked independently of the record. The thresholds are thus chosen on
  the very predictor that is deployed (the members keep their own featurisers for this).
* ``"ensemble"``: the mean of the K members' calibrated probabilities (K evaluations per
  record; the thresholds are then conservative, not exact).
* ``"refit"``: one more model fitted on all records (the thresholds were chosen on the fold
  models, not on it: the promise is not covered; kept for comparison).

With a base that has ``plan_fit`` (``LinearTextCoder``) and any mode but ``"members"``, the
texts are featurised once and every SVM of every member is fitted in one process pool.

Any base estimator works that has ``fit(X, y)``, ``classes_`` and ``decision_function`` or
``predict_proba``; statcoder's backends (``statcoder.models.registry``) also save safely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d

from statcoder.classifications import Classification
from statcoder.coder.heldout import (
    DecisionFigures,
    LevelFigures,
    choose_thresholds,
    decision_summary,
)
from statcoder.coder.levels import best_by_level, level_aggregators, top_level_groups
from statcoder.coder.members import (
    by_route,
    candidate_bases,
    checked_extra,
    columns_match,
    fit_shared,
    indexable,
    is_texts,
    member_scores,
    random_folds,
    route,
    select_first_fold,
)
from statcoder.decision.conformal import DEFAULT_COVERAGES, ConformalLevel, fit_conformal
from statcoder.errors import ConfigurationError, InputError
from statcoder.models.calibration import TemperatureCalibrator, expected_calibration_error, softmax
from statcoder.runtime import thread_limit

ProgressFn = Callable[[int, int, str], None]
DEPLOY = ("mean", "members", "ensemble", "refit")


class HierarchicalCoder(ClassifierMixin, BaseEstimator):
    """Calibrated, hierarchy-aware coder with a per-level accuracy promise (see module docs).

    Parameters: ``estimator`` (unfitted base classifier; None = ``LinearTextCoder``),
    ``classification`` (None = flat: one level, every class its own code),
    ``target_accuracy`` and ``confidence_level`` (of the threshold test), ``cv`` (K folds),
    ``deploy`` ("mean", "members", "ensemble" or "refit"), ``coverages`` (conformal sets), ``seed``,
    ``candidates`` (None, or parameter changes of the base estimator to choose among, e.g.
    ``({}, {"C": 2.0}, {"groups": None})``: the first fold's member of each is fitted, the best
    top-1 on that fold's held-out records supplies all members; see ``selection_``).

    Fitted attributes: ``classes_``, ``estimators_`` (the K members; empty when a "mean" model
    is loaded), ``final_estimator_`` (refit and mean), ``fold_`` (fold of every training record), ``oof_scores_``, ``oof_proba_``
    (calibrated out-of-fold probabilities, ``classes_`` columns), ``calibrator_``,
    ``thresholds_`` (level -> probability, ``inf`` = never), ``level_figures_``,
    ``decision_figures_``, ``conformal_``, ``heldout_accuracy_``, ``ece_``, ``ece_raw_``,
    ``selection_`` (``validation_top1`` per candidate, ``validation_n``, ``chosen`` index).
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        classification: Classification | None = None,
        target_accuracy: float = 0.95,
        confidence_level: float = 0.95,
        cv: int = 5,
        deploy: str = "members",
        coverages: Sequence[float] = DEFAULT_COVERAGES,
        seed: int = 0,
        candidates: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        self.estimator = estimator
        self.classification = classification
        self.target_accuracy = target_accuracy
        self.confidence_level = confidence_level
        self.cv = cv
        self.deploy = deploy
        self.coverages = coverages
        self.seed = seed
        self.candidates = candidates

    # ---- fitting ------------------------------------------------------------------------------
    def _base(self) -> Any:
        if self.estimator is not None:
            return self.estimator
        from statcoder.models.registry import make_model

        return make_model("linear", seed=self.seed)

    def _check_params(self) -> None:
        if self.deploy not in DEPLOY:
            raise ConfigurationError(f"deploy must be one of {', '.join(DEPLOY)}, got {self.deploy!r}",
                                     where="HierarchicalCoder", hint="use deploy='members' (the default)")
        if not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise ConfigurationError(f"cv must be an integer of at least 2, got {self.cv!r}",
                                     where="HierarchicalCoder", hint="e.g. cv=5")
        for name in ("target_accuracy", "confidence_level"):
            value = getattr(self, name)
            if not 0.0 < float(value) < 1.0:
                raise ConfigurationError(f"{name} must be between 0 and 1, got {value}",
                                         where="HierarchicalCoder", hint="e.g. 0.95")

    def fit(self, X: Any, y: Any, *, extra_examples: tuple[Sequence[str], Sequence[Any]] | None = None,
            on_progress: ProgressFn | None = None) -> HierarchicalCoder:
        """Run the recipe on texts ``X`` and codes ``y``; returns self (see the class docs).

        ``extra_examples`` = (texts, codes), e.g. the classification's own titles: added to
        every member's training data, never scored out of fold (calibration and thresholds
        stay on ``X``); texts only.
        """
        self._check_params()
        if y is None:
            raise InputError("HierarchicalCoder requires y to be passed, but the target y is None",
                             where="HierarchicalCoder.fit", hint="pass the true code of every text")
        X = indexable(X)
        n = _num_samples(X)
        y_arr = column_or_1d(y, warn=True)
        if len(y_arr) != n:
            raise InputError(f"{len(y_arr)} codes for {n} records", where="HierarchicalCoder.fit",
                             hint="pass one code per text")
        if n < 2:
            raise InputError(f"training needs at least 2 records, got n_samples = {n}",
                             where="HierarchicalCoder.fit", hint="pass more labelled texts")
        check_classification_targets(y_arr)
        X_fit, y_fit, extra = X, y_arr, checked_extra(X, extra_examples)
        if len(extra[0]):
            X_fit, y_fit = list(X) + extra[0], np.concatenate([y_arr.astype(object), extra[1]])
        self.classes_ = np.unique(y_fit)
        if len(self.classes_) < 2:
            raise InputError(f"training needs at least two different classes (codes), got {len(self.classes_)}",
                             where="HierarchicalCoder.fit", hint="check the code column")
        self.n_features_in_ = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else 1
        y_index = np.searchsorted(self.classes_, y_arr)
        k = int(self.cv)
        self.fold_ = random_folds(n, k, seed=int(self.seed))
        base = self._base()
        bases = candidate_bases(base, self.candidates) if self.candidates else [base]
        self.oof_scores_ = np.full((n, len(self.classes_)), -np.inf)
        parts = []
        for j in range(k):
            test = np.flatnonzero(self.fold_ == j)
            train = np.r_[np.flatnonzero(self.fold_ != j), np.arange(n, len(y_fit))]
            if len(np.unique(y_fit[train])) < 2:
                train = np.arange(len(y_fit))  # a tiny data set: this member sees everything
            parts.append((train, test))
        with thread_limit():
            if self.deploy != "members" and callable(getattr(base, "plan_fit", None)) and is_texts(X):
                fit_shared(self, base, X_fit, y_fit, parts, on_progress, bases)
            else:
                if self.deploy == "mean":
                    raise ConfigurationError(f"deploy='mean' needs a linear base model, not {type(base).__name__}",
                                             where="HierarchicalCoder", hint="use deploy='members'")
                self.estimators_ = []
                base, first = select_first_fold(self, bases, X_fit, y_fit, parts)
                for j, (train, test) in enumerate(parts):
                    member = first if j == 0 and first is not None else clone(base).fit(
                        _safe_indexing(X_fit, train), y_fit[train])
                    self.estimators_.append(member)
                    if len(test):
                        self.oof_scores_[test] = member_scores(member, _safe_indexing(X, test), self.classes_)
                    if on_progress is not None:
                        on_progress(j + 1, k, "cross-validation")
                if self.deploy == "refit":
                    self.final_estimator_ = clone(base).fit(X_fit, y_fit)
        self._calibrate(self.oof_scores_, y_arr, y_index)
        self.oof_proba_ = self._last_proba
        self.best_params_ = dict(self.candidates[self.selection_["chosen"]]) if self.candidates else {}
        return self

    def _calibrate(self, scores: np.ndarray, y_arr: np.ndarray, y_index: np.ndarray) -> None:
        """Fit the calibrator, thresholds, conformal quantiles and held-out figures on scores."""
        self.calibrator_ = TemperatureCalibrator().fit(scores, y_index)
        proba = self.calibrator_.predict_proba(scores)
        raw = softmax(scores)
        best = proba.argmax(axis=1)
        correct = best == y_index
        self.heldout_accuracy_ = float(correct.mean())
        self.ece_ = expected_calibration_error(proba[np.arange(len(best)), best], correct)
        self.ece_raw_ = expected_calibration_error(raw[np.arange(len(best)), best], correct)
        codes = [str(c) for c in y_arr]
        tree = self._tree()
        per_level = best_by_level(proba, level_aggregators(tree, [str(c) for c in self.classes_]))
        self.thresholds_, self.level_figures_ = choose_thresholds(
            per_level, codes, tree, target=float(self.target_accuracy), confidence_level=float(self.confidence_level))
        self.decision_figures_ = decision_summary(per_level, codes, tree, self.thresholds_)
        self.conformal_ = fit_conformal(proba, y_index, coverages=self.coverages, seed=int(self.seed))
        self.n_calibration_ = len(y_arr)
        self._last_proba = proba

    def _tree(self) -> Classification:
        if self.classification is not None:
            return self.classification
        import pandas as pd

        codes = [str(c) for c in self.classes_]
        return Classification.from_frame(pd.DataFrame({"code": codes, "title": codes, "level": 1, "parent": ""}),
                                         name="flat")

    def recalibrated(self, X: Any, y: Any) -> HierarchicalCoder:
        """A copy whose calibrator, thresholds and conformal quantiles are re-fitted on (X, y).

        The members are unchanged; the out-of-fold attributes are dropped (they describe the
        training data, no longer what the thresholds were chosen on). Codes the model does not
        know count as errors.
        """
        check_is_fitted(self, "calibrator_")
        import copy

        y_arr = np.asarray([str(c) for c in y], dtype=object)
        known = np.isin(y_arr, self.classes_)
        y_index = np.where(known, np.searchsorted(self.classes_, y_arr), -1)
        new = copy.copy(self)
        for name in ("oof_scores_", "oof_proba_", "fold_"):
            new.__dict__.pop(name, None)
        new._calibrate(self.scores(indexable(X)), y_arr, y_index)
        return new

    # ---- prediction ---------------------------------------------------------------------------
    def decision_function(self, X: Any) -> np.ndarray:
        """Uncalibrated scores of the deployed model: (n, n_classes) in ``classes_`` order, or
        for two classes (n,) the second class's score minus the first's (scikit-learn's shape)."""
        scores = self.scores(X)
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def scores(self, X: Any) -> np.ndarray:
        """Uncalibrated scores (n, n_classes) of the deployed model, ``classes_`` columns.

        ``members``: each record's routed member; ``ensemble``: the mean over members;
        ``refit``: the final model. ``predict_proba`` is the calibrator applied to them
        (for ``ensemble``, the mean of the calibrated member probabilities).
        """
        check_is_fitted(self, "calibrator_")
        X = indexable(X)
        with thread_limit():
            if self.deploy in ("refit", "mean"):
                return member_scores(self.final_estimator_, X, self.classes_)
            if self.deploy == "ensemble":
                return np.mean([member_scores(m, X, self.classes_) for m in self.estimators_], axis=0)
            return by_route(X, self.estimators_, lambda m, rows: member_scores(m, rows, self.classes_),
                            len(self.classes_), -np.inf)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities (n, n_classes), rows summing to 1, ``classes_`` columns."""
        check_is_fitted(self, "calibrator_")
        X = indexable(X)
        if self.deploy == "ensemble":
            with thread_limit():
                return np.mean([self.calibrator_.predict_proba(member_scores(m, X, self.classes_))
                                for m in self.estimators_], axis=0)
        fused = self._fused_proba(X)
        return fused if fused is not None else self.calibrator_.predict_proba(self.scores(X))

    def _fused_proba(self, X: Any) -> np.ndarray | None:
        """``predict_proba`` through the deployed linear model's fused calibrated softmax
        (``LinearTextCoder.calibrated_proba``: the same probabilities, ~1e-15, in fewer passes),
        or None where it does not apply (other backends or calibrators, a member lacking classes)."""
        if type(self.calibrator_) is not TemperatureCalibrator or not is_texts(X):
            return None
        models = [self.final_estimator_] if self.deploy in ("refit", "mean") else list(self.estimators_)
        if self.deploy == "ensemble" or not all(
                callable(getattr(m, "calibrated_proba", None)) and columns_match(m, self.classes_) for m in models):
            return None
        temperature = self.calibrator_.temperature_
        with thread_limit():
            if len(models) == 1:
                return models[0].calibrated_proba(X, temperature=temperature)
            return by_route(X, models, lambda m, rows: m.calibrated_proba(rows, temperature=temperature),
                            len(self.classes_), 0.0)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class per record."""
        check_is_fitted(self, "calibrator_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def explain_parts(self) -> Any:
        """The linear parts (transform, coef, feature names, classes) of one deployed model, or None.

        With ``members``, the first member's (members differ only by the fold left out).
        """
        from statcoder.evaluation.explain import linear_parts

        check_is_fitted(self, "calibrator_")
        model = self.final_estimator_ if self.deploy in ("refit", "mean") else self.estimators_[0]
        return linear_parts(model)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # passed through to the base estimator
        tags.input_tags.string = True
        return tags

    @property
    def temperature_(self) -> float:
        """The calibration temperature (scores are divided by it before the softmax)."""
        check_is_fitted(self, "calibrator_")
        return float(self.calibrator_.temperature_)

    # ---- safe persistence --------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], Any]:
        """Return (JSON-able state, arrays, writer of extra files) for a model directory.

        Member ``j``'s arrays are stored as ``m<j>.<name>``; its extra files get a ``m<j>-``
        prefix (the state records the file name).
        """
        check_is_fitted(self, "calibrator_")
        # "mean" deploys (and stores) only the averaged model; the members are not needed to code
        models = ([] if self.deploy == "mean" else list(self.estimators_)) + (
            [self.final_estimator_] if self.deploy in ("refit", "mean") else [])
        states, arrays, writers = [], {}, []
        for j, model in enumerate(models):
            if not callable(getattr(model, "to_state", None)):
                raise ConfigurationError(f"{type(model).__name__} cannot be saved safely",
                                         where="HierarchicalCoder.to_state",
                                         hint="use a backend from statcoder.models.registry")
            state, member_arrays, write = model.to_state()
            state = dict(state)
            if write is not None:
                state["file"] = f"m{j}-fasttext.bin"
                writers.append((j, write))
            states.append(state)
            arrays.update({f"m{j}.{name}": value for name, value in member_arrays.items()})
        state = {
            "backend": "hierarchical",
            "params": {"target_accuracy": self.target_accuracy, "confidence_level": self.confidence_level,
                       "cv": int(self.cv), "deploy": self.deploy, "coverages": [float(c) for c in self.coverages],
                       "seed": int(self.seed)},
            "classes": [str(c) for c in self.classes_],
            "temperature": float(self.calibrator_.temperature_),
            "members": states,
        }

        def write_all(directory: Any) -> None:
            import tempfile
            from pathlib import Path

            for j, write in writers:
                with tempfile.TemporaryDirectory(dir=directory) as sub:
                    write(Path(sub))
                    for path in Path(sub).iterdir():
                        path.rename(Path(directory) / f"m{j}-{path.name}")

        return state, arrays, (write_all if writers else None)

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: dict[str, np.ndarray], directory: Any, *,
                   classification: Classification | None = None,
                   thresholds: dict[int, float] | None = None) -> HierarchicalCoder:
        """Rebuild a fitted coder from ``to_state`` output (members via the backend registry)."""
        from statcoder.models.registry import model_from_state

        params = dict(state["params"])
        params["coverages"] = tuple(params.get("coverages", DEFAULT_COVERAGES))
        self = cls(classification=classification, **params)
        self.classes_ = np.asarray(state["classes"], dtype=object)
        models = []
        for j, member_state in enumerate(state["members"]):
            prefix = f"m{j}."
            member_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            models.append(model_from_state(member_state, member_arrays, directory))
        if self.deploy in ("refit", "mean"):
            self.final_estimator_ = models.pop()
        self.estimators_ = models
        self.calibrator_ = TemperatureCalibrator(temperature=float(state["temperature"]))
        self.thresholds_ = dict(thresholds or {})
        return self

    @classmethod
    def wrap(cls, model: Any, *, temperature: float, classification: Classification | None,
             thresholds: dict[int, float], target_accuracy: float) -> HierarchicalCoder:
        """A fitted coder around one already-fitted model (a model directory of format 1)."""
        self = cls(classification=classification, target_accuracy=target_accuracy, deploy="refit", cv=2)
        self.classes_ = np.asarray(model.classes_, dtype=object)
        self.final_estimator_ = model
        self.estimators_ = []
        self.calibrator_ = TemperatureCalibrator(temperature=temperature)
        self.thresholds_ = dict(thresholds)
        return self


def out_of_fold_proba(
    texts: Sequence[str],
    codes: Sequence[str],
    *,
    classification: Classification | None = None,
    backend: str = "linear",
    n_splits: int = 5,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
    title_examples: bool = True,
    **params: Any,
) -> tuple[np.ndarray, list[str]]:
    """Calibrated out-of-fold probabilities (n, n_classes) and the classes, from ``HierarchicalCoder``.

    The same recipe as ``statcoder.train`` (for the linear backend with a classification of
    depth > 1, the hierarchy-aware model unless ``groups`` is given; with ``title_examples``,
    train's default, the classification's titles of the codes are added to every member's
    training data, never to the held-out fold; members deployed as train deploys them by default,
    on one shared feature plan for the linear backend); reads ``oof_proba_``. On the rows train keeps
    (a text, a code of the classification) and with the same seed and folds, the accuracy of
    these probabilities is train's held-out accuracy.
    """
    from statcoder.models.registry import make_model

    codes = [str(c) for c in codes]
    if backend == "linear" and classification is not None and classification.depth > 1 and "groups" not in params:
        params["groups"] = top_level_groups(classification, codes)
    extra = None
    if title_examples and classification is not None:
        from statcoder.coder.train import title_pairs

        extra = title_pairs(classification, [c for c in codes if c in classification]) or None
        extra = extra if extra and extra[0] else None
    base = make_model(backend, seed=seed, **params)
    # train's default deployment: "mean" fits the members on one shared feature plan, which
    # changes their out-of-fold scores (independent members would disagree with train's figures)
    deploy = "mean" if callable(getattr(base, "plan_fit", None)) else "members"
    model = HierarchicalCoder(base, cv=n_splits, seed=seed, deploy=deploy)
    model.fit(list(texts), codes, extra_examples=extra, on_progress=on_progress)
    return model.oof_proba_, [str(c) for c in model.classes_]


__all__ = [
    "DEPLOY",
    "ConformalLevel",
    "DecisionFigures",
    "HierarchicalCoder",
    "LevelFigures",
    "member_scores",
    "route",
]

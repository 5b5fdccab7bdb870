"""The default classifier: TF-IDF word and character n-grams into linear SVMs, hierarchy-aware,
with temperature-scaled (calibrated) probabilities.

With ``groups`` (code -> top-level group, given by ``statcoder.train`` from the
classification) the model is a two-stage "local classifier per parent": one SVM chooses
among top-level groups, and one SVM per group chooses among that group's codes; the
probability of a code is P(group) x P(code | group). That is both faster to train than a
flat one-vs-rest SVM over hundreds of codes (each code's SVM only sees its own group) and
slightly more accurate, because each stage separates fewer, more alike classes.

Linear models on n-grams are the strongest cheap baseline for short answers (job titles,
activity descriptions) and stay good on long ones (job ads), in any language. Weights are
kept as a sparse matrix: tiny weights are pruned, which shrinks the model file and speeds
coding without changing predictions measurably.
"""

from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from statcoder.errors import ConfigurationError, InputError
from statcoder.models import scoring
from statcoder.models.calibration import softmax
from statcoder.text.features import TextFeatures


class LinearTextCoder(ClassifierMixin, BaseEstimator):
    """Text classifier: ``TextFeatures`` -> linear SVMs -> softmax(scores / temperature).

    ``groups`` maps each code to its top-level group (None = flat one-vs-rest).
    ``head_weight`` > 0 adds the n-grams of each text's head (first line or field,
    ``statcoder.text.head``) as a block of that weight (opt-in; 0 = none).
    ``temperature_`` is 1 after ``fit``; ``statcoder.train`` sets it from out-of-fold scores
    (see ``statcoder.models.cv``). ``coef_`` is a sparse (n_classes, n_features) matrix.
    """

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 30,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        char_min_df: int = 2,
        max_features: int | None = 400_000,
        char_max_chars: int | None = 300,
        prune: float = 1e-4,
        groups: dict[str, str] | None = None,
        group_temperature: float = 0.2,
        word_max_chars: int | None = 2000,
        embedding_dir: str | None = None,
        embedding_weight: float = 1.0,
        head_weight: float = 0.0,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.char_min_df = char_min_df
        self.max_features = max_features
        self.char_max_chars = char_max_chars
        self.prune = prune
        self.groups = groups
        self.group_temperature = group_temperature
        self.word_max_chars = word_max_chars
        self.embedding_dir = embedding_dir
        self.embedding_weight = embedding_weight
        self.head_weight = head_weight
        self.n_jobs = n_jobs
        self.seed = seed

    def make_features(self) -> TextFeatures:
        """The (unfitted) featuriser of this model's parameters."""
        return TextFeatures(
            word_ngrams=self.word_ngrams, char_ngrams=self.char_ngrams, char_min_df=self.char_min_df,
            max_features=self.max_features, char_max_chars=self.char_max_chars,
            word_max_chars=self.word_max_chars, embedding_dir=self.embedding_dir,
            embedding_weight=self.embedding_weight, head_weight=self.head_weight,
        )

    def fit(self, X: Any, y: Any) -> LinearTextCoder:
        """Learn features and the linear models from texts ``X`` and codes ``y``; returns self."""
        texts = list(X)
        features = self.make_features().fit(texts)
        Z = features.transform(texts)
        plan = self.plan_fit(np.arange(Z.shape[0]), y)
        plan.finish(fit_svm_tasks(Z, plan.tasks, self.svm_options(), n_jobs=int(self.n_jobs)), features)
        return self

    def svm_options(self) -> dict[str, Any]:
        """The options every SVM of this model is fitted with (C, max_iter, seed, prune)."""
        return {"C": self.C, "max_iter": self.max_iter, "seed": self.seed, "prune": self.prune}

    def plan_fit(self, rows: np.ndarray, y: Any) -> FitPlan:
        """The SVM fits of this model on rows ``rows`` of a shared feature matrix, codes ``y``.

        Returns a ``FitPlan``: its ``tasks`` (row indices, labels) are fitted by
        ``fit_svm_tasks`` (possibly together with other models' tasks, in one process pool) and
        its ``finish(results, features)`` sets this model's fitted attributes. ``fit`` is
        ``plan_fit`` on all rows of the model's own features.
        """
        rows = np.asarray(rows, dtype=np.int64)
        codes = np.asarray([str(c) for c in y], dtype=object)
        classes = np.unique(codes)
        if len(classes) < 2:
            raise InputError(
                f"training needs at least two different codes, got {len(classes)}",
                hint="check the code column and the unknown-code handling",
            )
        group_of = {c: (self.groups or {}).get(c, "") for c in classes}
        group_names = np.asarray(sorted(set(group_of.values())), dtype=object)
        record_group = np.asarray([group_of[c] for c in codes], dtype=object)
        tasks = [(rows[m], codes[m]) for m in (np.flatnonzero(record_group == g) for g in group_names)]
        if len(group_names) > 1:
            tasks.insert(0, (rows, record_group))  # the top-level stage, the longest: started first

        def finish(fitted: list, features: TextFeatures) -> LinearTextCoder:
            fitted = list(fitted)
            self.features_ = features
            self.group_names_ = group_names
            self.classes_ = classes.astype(object)
            self.class_group_ = np.searchsorted(group_names, [group_of[c] for c in classes])
            row_of = {c: i for i, c in enumerate(classes)}
            intercept = np.zeros(len(classes))
            if len(group_names) > 1:
                _, top_coef, top_intercept = fitted.pop(0)
                self.group_coef_ = sp.csr_matrix(top_coef, dtype=np.float32)
                self.group_intercept_ = top_intercept
            order, blocks = [], []
            for sub_classes, sub_coef, sub_intercept in fitted:
                idx = [row_of[c] for c in sub_classes]
                intercept[idx] = sub_intercept
                order += idx
                blocks.append(sp.csr_matrix(sub_coef, dtype=np.float32))
            stacked = sp.vstack(blocks, format="csr")
            position = np.empty(len(classes), dtype=np.int64)
            position[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
            self.coef_ = sp.csr_matrix(stacked[position], dtype=np.float32)
            self.intercept_ = intercept
            self.temperature_ = 1.0
            return self

        return FitPlan(tasks, finish)

    @classmethod
    def averaged(cls, models: list[LinearTextCoder]) -> LinearTextCoder:
        """One linear model whose margins are the mean of ``models``' margins (same features).

        ``models`` must share one fitted featuriser (``HierarchicalCoder`` fits its members on
        one). A class (or top-level group) missing from some models is averaged over the
        models that have it. Scoring it costs what scoring one model costs.
        """
        first = models[0]
        if any(m.features_ is not first.features_ for m in models):
            raise ConfigurationError("averaged() needs models fitted on one shared featuriser",
                                     where="LinearTextCoder.averaged", hint="fit them via HierarchicalCoder")
        out = cls(**first.get_params())
        out.features_ = first.features_
        out.classes_ = np.unique(np.concatenate([m.classes_ for m in models])).astype(object)
        out.group_names_ = np.unique(np.concatenate([m.group_names_ for m in models])).astype(object)
        group_of: dict[str, str] = {}
        for m in models:
            group_of.update(zip(m.classes_, m.group_names_[m.class_group_], strict=True))
        out.class_group_ = np.searchsorted(out.group_names_, [group_of[c] for c in out.classes_])
        out.coef_, out.intercept_ = _mean_rows(out.classes_, [(m.classes_, m.coef_, m.intercept_) for m in models])
        if len(out.group_names_) > 1:
            out.group_coef_, out.group_intercept_ = _mean_rows(
                out.group_names_, [(m.group_names_, m.group_coef_, m.group_intercept_) for m in models
                                   if len(m.group_names_) > 1])
        out.temperature_ = 1.0
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """Return scores (n_texts, n_classes), columns in ``classes_`` order.

        Flat model: the SVM margins. Grouped model: log P(group) + log P(code | group), each
        stage a softmax of its margins at ``group_temperature``.
        """
        check_is_fitted(self, "coef_")
        return self.scores_of_features(self.features_.transform(list(X)))

    def scores_of_features(self, Z: sp.csr_matrix) -> np.ndarray:
        """``decision_function`` of an already featurised batch ``Z`` (float64 scores).

        One float32 sparse x dense product gives the code and the group margins together
        (``statcoder.models.scoring.Weights``); the per-group log-softmax is computed for all
        groups at once, with no Python loop over groups or records.
        """
        group_intercept = self.group_intercept_ if len(self.group_names_) > 1 else None
        return scoring.grouped_scores(self._weights().product(Z), self.intercept_, group_intercept,
                                      self._group_layout(), group_temperature=self.group_temperature)

    def calibrated_proba(self, X: Any, *, temperature: float) -> np.ndarray:
        """``softmax(decision_function(X) / temperature)``, fused (``scoring.calibrated_proba``).

        Equal to the two steps up to rounding (~1e-15); the hot path of coding.
        """
        check_is_fitted(self, "coef_")
        return self.proba_of_features(self.features_.transform(list(X)), temperature=temperature)

    def proba_of_features(self, Z: sp.csr_matrix, *, temperature: float) -> np.ndarray:
        """``calibrated_proba`` of an already featurised batch ``Z``."""
        group_intercept = self.group_intercept_ if len(self.group_names_) > 1 else None
        return scoring.calibrated_proba(self._weights().product(Z), self.intercept_, group_intercept,
                                        self._group_layout(), group_temperature=self.group_temperature,
                                        temperature=temperature)

    def _group_layout(self) -> scoring.GroupLayout | None:
        """The classes' arrangement by group (None for a flat model), cached."""
        if len(self.group_names_) == 1:
            return None
        cache = self.__dict__.setdefault("_scoring", {})
        if cache.get("layout", (None,))[0] is not self.class_group_:
            cache["layout"] = (self.class_group_, scoring.GroupLayout(self.class_group_))
        return cache["layout"][1]

    def _weights(self) -> scoring.Weights:
        """The scoring form of the weights (built once, rebuilt if ``coef_`` is replaced)."""
        cache = self.__dict__.setdefault("_scoring", {})
        if cache.get("weights", (None,))[0] is not self.coef_:
            blocks = [self.coef_] + ([self.group_coef_] if len(self.group_names_) > 1 else [])
            cache["weights"] = (self.coef_, scoring.Weights(blocks, self.features_.feature_frequency_order(),
                                                            dense_bytes=scoring.DENSE_BYTES))
        return cache["weights"][1]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return calibrated probabilities (n_texts, n_classes); rows sum to 1."""
        return softmax(self.decision_function(X), temperature=self.temperature_)

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable code per text."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    # ---- introspection (explainability) ------------------------------------------------------
    def feature_names(self) -> np.ndarray:
        """Return the names of the feature columns (word n-grams; char n-grams prefixed ``c:``)."""
        return self.features_.feature_names()

    def contributions(self, text: str, code: str) -> list[tuple[str, float]]:
        """Return (feature, weight x value) pairs of ``text`` towards ``code``, largest first."""
        check_is_fitted(self, "coef_")
        rows = np.flatnonzero(self.classes_ == code)
        if not len(rows):
            raise InputError(f"code {code!r} is not one of the model's classes", where="contributions",
                             hint="pass a code the model was trained on (see classes_)")
        row = int(rows[0])
        z = self.features_.transform([text]).tocsr()
        weights = self.coef_.getrow(row).toarray().ravel()
        names = self.feature_names()
        pairs = [(str(names[j]), float(v * weights[j])) for j, v in zip(z.indices, z.data, strict=True)]
        return sorted(pairs, key=lambda p: -abs(p[1]))

    # ---- safe persistence --------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], None]:
        """Return (JSON-able state, numpy arrays, no extra writer) for the model directory."""
        check_is_fitted(self, "coef_")
        meta, feature_arrays = self.features_.to_state()
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        state = {"backend": "linear", "params": params, "classes": self.classes_.tolist(),
                 "temperature": self.temperature_, "features": meta}
        coef = self.coef_.tocsr()
        arrays = {
            **feature_arrays,
            "coef_data": coef.data, "coef_indices": coef.indices, "coef_indptr": coef.indptr,
            "coef_shape": np.asarray(coef.shape, dtype=np.int64), "intercept": self.intercept_,
            "class_group": self.class_group_.astype(np.int64),
        }
        state["group_names"] = self.group_names_.tolist()
        if len(self.group_names_) > 1:
            arrays["group_coef"] = self.group_coef_.toarray()
            arrays["group_intercept"] = self.group_intercept_
        return state, arrays, None

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> LinearTextCoder:
        """Rebuild a fitted model from ``to_state`` output."""
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in state["params"].items()}
        self = cls(**params)
        self.features_ = TextFeatures.from_state(state["features"], arrays)
        self.coef_ = sp.csr_matrix(
            (arrays["coef_data"], arrays["coef_indices"], arrays["coef_indptr"]),
            shape=tuple(int(v) for v in arrays["coef_shape"]),
        )
        self.intercept_ = arrays["intercept"]
        self.classes_ = np.asarray(state["classes"], dtype=object)
        self.group_names_ = np.asarray(state["group_names"], dtype=object)
        self.class_group_ = arrays["class_group"]
        if len(self.group_names_) > 1:
            self.group_coef_ = sp.csr_matrix(arrays["group_coef"])
            self.group_intercept_ = arrays["group_intercept"]
        self.temperature_ = float(state["temperature"])
        return self


def _fit_svm(Z: sp.csr_matrix, y: np.ndarray, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit one multi-class SVM; returns (classes, coef (k, F), intercept (k,)), pruned."""
    classes = np.unique(y)
    if len(classes) == 1:
        return classes, sp.csr_matrix((1, Z.shape[1]), dtype=np.float32), np.zeros(1)
    svm = LinearSVC(C=options["C"], max_iter=options["max_iter"], random_state=options["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
        svm.fit(Z, y)
    coef, intercept = svm.coef_, svm.intercept_
    if len(classes) == 2:  # sklearn keeps one row for binary problems
        coef, intercept = np.vstack([-coef, coef]) / 2, np.r_[-intercept, intercept] / 2
    # pruned and sparse (float32) at once: a dense float64 block per group of every member
    # would hold gigabytes on long texts before the model is assembled
    return classes, sp.csr_matrix(np.where(np.abs(coef) >= options["prune"], coef, 0.0).astype(np.float32)), intercept


class FitPlan:
    """SVM fits a model still needs (``tasks``: row indices, labels) and how to finish it."""

    def __init__(self, tasks: list[tuple[np.ndarray, np.ndarray]], finish: Any) -> None:
        self.tasks = tasks
        self.finish = finish


def _mean_rows(names: np.ndarray, parts: list[tuple[np.ndarray, Any, np.ndarray]]) -> tuple[sp.csr_matrix, np.ndarray]:
    """Row-wise mean of weight matrices over the parts that have each row (rows named ``names``)."""
    total = None
    intercept = np.zeros(len(names))
    count = np.zeros(len(names))
    for part_names, coef, part_intercept in parts:
        idx = np.searchsorted(names, part_names)
        placed = sp.csr_matrix((np.ones(len(idx)), (idx, np.arange(len(idx)))), shape=(len(names), len(idx))) @ coef
        total = placed if total is None else total + placed
        intercept[idx] += part_intercept
        count[idx] += 1
    scale = sp.diags(1.0 / np.maximum(count, 1))
    return sp.csr_matrix((scale @ total).astype(np.float32)), intercept / np.maximum(count, 1)


_SHARED: dict[str, sp.csr_matrix] = {}


def _load_shared(directory: str) -> None:
    """Worker initialiser: memory-map the shared feature matrix written by ``fit_svm_tasks``."""
    parts = {name: np.load(f"{directory}/{name}.npy", mmap_mode="r") for name in ("data", "indices", "indptr", "shape")}
    _SHARED["Z"] = sp.csr_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=tuple(parts["shape"]))


def _fit_rows(rows: np.ndarray, y: np.ndarray, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _fit_svm(_SHARED["Z"][rows], y, options)


def fit_svm_tasks(Z: sp.csr_matrix, tasks: list[tuple[np.ndarray, np.ndarray]],
                  options: dict[str, Any] | list[dict[str, Any]], *, n_jobs: int) -> list:
    """Fit the independent SVMs ``tasks`` (rows of ``Z``, labels) in order of the list; results in order.

    ``options``: one dict for every task, or a list with one dict per task (models with
    different C fitted in one pool).

    With ``n_jobs`` > 1, in that many worker processes, largest tasks first; ``Z`` is written
    once to a temporary directory and memory-mapped by the workers (no copy per task).
    Processes, not threads: liblinear draws its coordinate order from one process-wide random
    generator, so threads would interleave draws and make the fit irreproducible. The result
    does not depend on ``n_jobs``.
    """
    Z = sp.csr_matrix(Z)
    per_task = [options] * len(tasks) if isinstance(options, dict) else list(options)
    if len(per_task) != len(tasks):
        raise ConfigurationError(f"{len(per_task)} option sets for {len(tasks)} SVM fits", where="fit_svm_tasks",
                                 hint="pass one dict, or one per task")
    if n_jobs <= 1 or len(tasks) < 2:
        return [_fit_svm(Z[rows], y, opts) for (rows, y), opts in zip(tasks, per_task, strict=True)]
    import tempfile

    order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i][0]))
    with tempfile.TemporaryDirectory(prefix="statcoder-fit-") as directory:
        for name, value in (("data", Z.data), ("indices", Z.indices), ("indptr", Z.indptr),
                            ("shape", np.asarray(Z.shape, dtype=np.int64))):
            np.save(f"{directory}/{name}.npy", value)
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(tasks)), mp_context=context,
                                 initializer=_load_shared, initargs=(directory,)) as pool:
            futures = {i: pool.submit(_fit_rows, tasks[i][0], tasks[i][1], per_task[i]) for i in order}
            return [futures[i].result() for i in range(len(tasks))]

"""A weighted log-linear ensemble of text classifiers (e.g. the linear model with fastText).

Models that read text differently make different mistakes: the linear SVMs weigh sparse
word and character n-grams, fastText averages dense n-gram embeddings. Adding their
log-probabilities (a product of experts) corrects part of each one's errors: on the ESCO
labels, fold 1, linear 0.792 and fastText 0.771 top-1 give 0.814 together at weight 0.4
for fastText (benchmarks/results.md, experiments table). The price is fastText's training
time, so this backend is opt-in (``--backend linear+fasttext``, needs ``statcoder[fasttext]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from statcoder.errors import ConfigurationError
from statcoder.models.calibration import softmax

_FLOOR = -50.0  # log-probability of a class a member never saw


class EnsembleTextCoder(ClassifierMixin, BaseEstimator):
    """``decision_function`` = sum over members of weight x log-softmax(member scores).

    ``members`` is a tuple of (backend name, params) pairs built by ``registry.make_model``;
    ``weights`` one weight per member (defaults to equal weights).
    """

    def __init__(
        self,
        members: tuple[tuple[str, dict[str, Any]], ...] = (("linear", {}), ("fasttext", {})),
        weights: tuple[float, ...] | None = (0.6, 0.4),
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.members = members
        self.weights = weights
        self.seed = seed
        self.threads = threads

    def _weights(self) -> np.ndarray:
        weights = np.ones(len(self.members)) if self.weights is None else np.asarray(self.weights, dtype=float)
        if len(weights) != len(self.members) or np.any(weights < 0) or weights.sum() <= 0:
            raise ConfigurationError(
                "ensemble weights must be one non-negative number per member, not all zero",
                hint=f"{len(self.members)} member(s), weights {self.weights}",
            )
        return weights / weights.sum()

    def fit(self, X: Any, y: Any) -> EnsembleTextCoder:
        """Fit every member on texts ``X`` and codes ``y``; returns self."""
        from statcoder.models.registry import make_model

        texts, codes = list(X), [str(c) for c in y]
        self.weights_ = self._weights()
        self.estimators_ = [
            make_model(name, seed=self.seed, threads=self.threads, **dict(params)).fit(texts, codes)
            for name, params in self.members
        ]
        self.classes_ = np.asarray(sorted(set(codes)), dtype=object)
        self.temperature_ = 1.0
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Return the weighted sum of the members' log-probabilities (n, n_classes)."""
        check_is_fitted(self, "estimators_")
        texts = list(X)
        column = {c: i for i, c in enumerate(self.classes_)}
        total = np.zeros((len(texts), len(self.classes_)))
        for weight, model in zip(self.weights_, self.estimators_, strict=True):
            part = np.full_like(total, _FLOOR)
            part[:, [column[c] for c in model.classes_]] = _log_softmax(model.decision_function(texts))
            total += weight * np.maximum(part, _FLOOR)
        return total

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return probabilities (n, n_classes); rows sum to 1."""
        return softmax(self.decision_function(X), temperature=self.temperature_)

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable code per text."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    # ---- safe persistence: the members' own states, nested --------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], Any]:
        """Return (JSON-able state, numpy arrays prefixed ``m<i>.``, a writer of the members' files)."""
        check_is_fitted(self, "estimators_")
        states, arrays, writers = [], {}, []
        for i, model in enumerate(self.estimators_):
            state, member_arrays, writer = model.to_state()
            states.append(state)
            arrays.update({f"m{i}.{k}": v for k, v in member_arrays.items()})
            if writer is not None:
                writers.append(writer)
        params = {"members": [[n, dict(p)] for n, p in self.members],
                  "weights": None if self.weights is None else list(self.weights),
                  "seed": self.seed, "threads": self.threads}
        state = {"backend": "ensemble", "params": params, "members": states, "classes": self.classes_.tolist(),
                 "weights_": self.weights_.tolist(), "temperature": self.temperature_}

        def write(directory: Path) -> None:
            for writer in writers:
                writer(directory)

        return state, arrays, write

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path) -> EnsembleTextCoder:
        """Rebuild from ``to_state`` output and the model directory."""
        from statcoder.models.registry import model_from_state

        params = state["params"]
        self = cls(members=tuple((n, dict(p)) for n, p in params["members"]),
                   weights=None if params["weights"] is None else tuple(params["weights"]),
                   seed=params["seed"], threads=params["threads"])
        self.estimators_ = []
        for i, member in enumerate(state["members"]):
            prefix = f"m{i}."
            member_arrays = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.estimators_.append(model_from_state(member, member_arrays, directory))
        self.classes_ = np.asarray(state["classes"], dtype=object)
        self.weights_ = np.asarray(state["weights_"], dtype=float)
        self.temperature_ = float(state["temperature"])
        return self


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    m = np.max(z, axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))

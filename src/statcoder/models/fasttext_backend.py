"""The fastText backend (``fasttext-numpy2``) behind the same interface as LinearTextCoder.

Kept for comparison and for offices that already run fastText. The model is saved in
fastText's own binary format, which loads without executing code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from statcoder.errors import ConfigurationError
from statcoder.models.calibration import softmax
from statcoder.text.normalise import normalise

_LABEL = "__label__"


def _require_fasttext() -> Any:
    try:
        import fasttext
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "the fastText backend needs the package fasttext-numpy2",
            hint="pip install 'statcoder[fasttext]'",
        ) from None
    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence its warnings on stderr
    return fasttext


def _line(text: str) -> str:
    return normalise(text).replace("\n", " ")


class FastTextCoder(ClassifierMixin, BaseEstimator):
    """fastText supervised classifier on normalised text; ``decision_function`` = log-probabilities."""

    def __init__(
        self,
        epoch: int = 5,
        lr: float = 0.1,
        word_ngrams: int = 1,
        dim: int = 100,
        minn: int = 0,
        maxn: int = 0,
        threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.epoch = epoch
        self.lr = lr
        self.word_ngrams = word_ngrams
        self.dim = dim
        self.minn = minn
        self.maxn = maxn
        self.threads = threads
        self.seed = seed

    def fit(self, X: Any, y: Any) -> FastTextCoder:
        """Train on texts ``X`` and codes ``y``; returns self."""
        fasttext = _require_fasttext()
        texts, codes = list(X), [str(c) for c in y]
        self.classes_ = np.asarray(sorted(set(codes)), dtype=object)
        fd, name = tempfile.mkstemp(suffix=".txt", prefix="statcoder-ft-")
        try:
            # fastText reads the file in order with a decaying learning rate: a file sorted by
            # code (as most coding indexes are) would teach it only the last codes, so shuffle
            order = np.random.default_rng(self.seed).permutation(len(texts))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                for i in order:
                    handle.write(f"{_LABEL}{codes[i].replace(' ', '_')} {_line(texts[i])}\n")
            try:
                self.model_ = fasttext.train_supervised(
                    input=name, epoch=self.epoch, lr=self.lr, wordNgrams=self.word_ngrams, dim=self.dim,
                    minn=self.minn, maxn=self.maxn, thread=self.threads, seed=self.seed, verbose=0,
                )
            except RuntimeError as exc:
                if "NaN" not in str(exc):
                    raise
                raise ConfigurationError(
                    f"fastText training diverged (loss became NaN) at learning rate {self.lr}",
                    where=f"fasttext backend: lr={self.lr}, epoch={self.epoch}, {len(texts)} training texts",
                    hint="lower the learning rate (e.g. halve lr) or the number of epochs",
                ) from None
        finally:
            os.unlink(name)
        labels = [lab[len(_LABEL):] for lab in self.model_.get_labels()]
        position = {c.replace(" ", "_"): i for i, c in enumerate(self.classes_)}
        self.label_columns_ = np.asarray([position[lab] for lab in labels], dtype=np.int64)
        self.temperature_ = 1.0
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Return (n, n_classes) log-probabilities from fastText's softmax, columns in ``classes_``."""
        check_is_fitted(self, "model_")
        texts = [_line(t) for t in X]
        k = len(self.classes_)
        labels, probs = self.model_.predict(texts, k=k, threshold=0.0)
        scores = np.full((len(texts), k), -50.0)
        index = {lab: self.label_columns_[i] for i, lab in enumerate(self.model_.get_labels())}
        for row, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
            cols = [index[lab] for lab in labs]
            scores[row, cols] = np.log(np.maximum(np.asarray(ps, dtype=float), 1e-22))
        return scores

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return calibrated probabilities (n, n_classes); rows sum to 1."""
        return softmax(self.decision_function(X), temperature=self.temperature_)

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable code per text."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    # ---- persistence --------------------------------------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], Any]:
        """Return (JSON-able state, no arrays, a writer of ``fasttext.bin``) for the model directory."""
        check_is_fitted(self, "model_")
        state = {"backend": "fasttext", "params": self.get_params(), "classes": self.classes_.tolist(),
                 "temperature": self.temperature_}

        def write(directory: Path) -> None:
            self.model_.save_model(str(directory / "fasttext.bin"))

        return state, {}, write

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> FastTextCoder:
        """Rebuild from the model directory (fastText's binary format: no code execution)."""
        fasttext = _require_fasttext()
        self = cls(**state["params"])
        self.model_ = fasttext.load_model(str(directory / state.get("file", "fasttext.bin")))
        self.classes_ = np.asarray(state["classes"], dtype=object)
        position = {c.replace(" ", "_"): i for i, c in enumerate(self.classes_)}
        self.label_columns_ = np.asarray(
            [position[lab[len(_LABEL):]] for lab in self.model_.get_labels()], dtype=np.int64
        )
        self.temperature_ = float(state["temperature"])
        return self

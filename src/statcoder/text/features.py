"""Text -> sparse feature matrix: TF-IDF word and character n-grams, as an sklearn transformer.

Word n-grams carry meaning; character n-grams within word boundaries carry spelling
variants, inflections (Polish, Spanish...) and typos. Each block is L2-normalised and the
blocks are weighted so neither dominates. The state is exported as plain arrays and lists
(no pickle) by ``to_state`` / ``from_state``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from statcoder.text.normalise import normalise_cached

_TOKEN = r"(?u)\b\w+\b"


class TextFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF of word n-grams and character n-grams (``char_wb``) over normalised text."""

    def __init__(
        self,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        min_df: int = 1,
        char_min_df: int = 2,
        max_features: int | None = 400_000,
        sublinear_tf: bool = True,
        char_weight: float = 1.0,
        char_max_chars: int | None = 300,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.char_min_df = char_min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.char_weight = char_weight
        self.char_max_chars = char_max_chars

    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        # texts are normalised once in _prepare; the vectorizers only slice them
        common = {"preprocessor": _identity, "lowercase": False, "sublinear_tf": self.sublinear_tf, "dtype": np.float32}
        word = TfidfVectorizer(analyzer="word", token_pattern=_TOKEN, ngram_range=tuple(self.word_ngrams),
                               min_df=self.min_df, max_features=self.max_features, **common)
        # character n-grams see only the start of long texts (a job ad's title and first lines):
        # past that they add cost and noise, while word n-grams still read the whole text
        char_pre = _identity if self.char_max_chars is None else _Prefix(self.char_max_chars)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngrams),
                               min_df=self.char_min_df, max_features=self.max_features,
                               **{**common, "preprocessor": char_pre})
        return word, char

    def fit(self, X: Any, y: Any = None) -> TextFeatures:
        """Learn vocabularies and IDF weights from the texts ``X``; returns self."""
        texts = _prepare(X)
        word, char = self._vectorizers()
        word.fit(texts)
        try:
            char.fit(texts)
        except ValueError:  # too few texts for char_min_df: keep every n-gram
            char.set_params(min_df=1).fit(texts)
        self.word_ = word
        self.char_ = char
        self.n_features_out_ = len(word.vocabulary_) + len(char.vocabulary_)
        return self

    def transform(self, X: Any) -> sp.csr_matrix:
        """Return the (n_texts, n_features) float32 CSR matrix of the texts ``X``."""
        check_is_fitted(self, "word_")
        texts = _prepare(X)
        word = self.word_.transform(texts)
        char = self.char_.transform(texts)
        if self.char_weight != 1.0:
            char = char * np.float32(self.char_weight)
        return sp.hstack([word, char], format="csr", dtype=np.float32)

    def feature_names(self) -> np.ndarray:
        """Return the feature names: word n-grams, then character n-grams (prefixed ``c:``)."""
        check_is_fitted(self, "word_")
        words = self.word_.get_feature_names_out()
        chars = np.asarray(["c:" + t for t in self.char_.get_feature_names_out()], dtype=object)
        return np.concatenate([words.astype(object), chars])

    # ---- safe persistence: plain lists and arrays --------------------------------------------
    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return (JSON-able params and vocabularies, numpy arrays) describing the fitted state."""
        check_is_fitted(self, "word_")
        meta = {
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()},
            "word_vocabulary": self.word_.get_feature_names_out().tolist(),
            "char_vocabulary": self.char_.get_feature_names_out().tolist(),
        }
        arrays = {"word_idf": self.word_.idf_.astype(np.float64), "char_idf": self.char_.idf_.astype(np.float64)}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> TextFeatures:
        """Rebuild a fitted transformer from ``to_state`` output."""
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
        self = cls(**params)
        word, char = self._vectorizers()
        for vec, vocab, idf in (
            (word, meta["word_vocabulary"], arrays["word_idf"]),
            (char, meta["char_vocabulary"], arrays["char_idf"]),
        ):
            vec.set_params(vocabulary={t: i for i, t in enumerate(vocab)})
            vec._validate_vocabulary()
            vec.idf_ = idf
        self.word_, self.char_ = word, char
        self.n_features_out_ = len(meta["word_vocabulary"]) + len(meta["char_vocabulary"])
        return self


def _identity(text: str) -> str:
    return text


class _Prefix:
    """Preprocessor keeping the first ``n`` characters (a class, so the vectorizer stays picklable)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, text: str) -> str:
        return text[: self.n]


def _prepare(texts: Any) -> list[str]:
    return [normalise_cached(t) for t in texts]

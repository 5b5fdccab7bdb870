"""Text -> sparse feature matrix: TF-IDF word and character n-grams, as an sklearn transformer.

Word n-grams carry meaning; character n-grams within word boundaries carry spelling
variants, inflections (Polish, Spanish...) and typos. Each block is L2-normalised and the
blocks are weighted so neither dominates. With ``head_weight`` > 0 a third block holds the
n-grams of each text's head (its first line or field, ``statcoder.text.head``) at that
weight, so a job ad's title is not drowned by its description. The state is exported as plain arrays and lists
(no pickle) by ``to_state`` / ``from_state``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2
from sklearn.utils.validation import check_is_fitted

from statcoder.text.head import HEAD_MAX_CHARS, HeadFeatures, check_head_weight
from statcoder.text.ngrams import CharWbIndex, Unsupported, WordIndex
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
        word_max_chars: int | None = None,
        embedding_dir: str | None = None,
        embedding_weight: float = 1.0,
        head_weight: float = 0.0,
        head_max_chars: int = HEAD_MAX_CHARS,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.char_min_df = char_min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.char_weight = char_weight
        self.char_max_chars = char_max_chars
        self.word_max_chars = word_max_chars
        self.embedding_dir = embedding_dir
        self.embedding_weight = embedding_weight
        self.head_weight = head_weight
        self.head_max_chars = head_max_chars

    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        # texts are normalised once in _prepare; the vectorizers only slice them
        common = {"preprocessor": _identity, "lowercase": False, "sublinear_tf": self.sublinear_tf, "dtype": np.float32}
        word_pre = _identity if self.word_max_chars is None else _Prefix(self.word_max_chars)
        word = TfidfVectorizer(analyzer="word", token_pattern=_TOKEN, ngram_range=tuple(self.word_ngrams),
                               min_df=self.min_df, max_features=self.max_features,
                               **{**common, "preprocessor": word_pre})
        # character n-grams see only the start of long texts (a job ad's title and first lines):
        # past that they add cost and noise, while word n-grams still read the whole text
        char_pre = _identity if self.char_max_chars is None else _Prefix(self.char_max_chars)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngrams),
                               min_df=self.char_min_df, max_features=self.max_features,
                               **{**common, "preprocessor": char_pre})
        return word, char

    def fit(self, X: Any, y: Any = None) -> TextFeatures:
        """Learn vocabularies and IDF weights from the texts ``X``; returns self."""
        raw = list(X)
        texts = _prepare(raw)
        word, char = self._vectorizers()
        word.fit(texts)
        try:
            char.fit(texts)
        except ValueError:  # too few texts for char_min_df: keep every n-gram
            char.set_params(min_df=1).fit(texts)
        self.word_ = word
        self.char_ = char
        self.head_ = None
        if check_head_weight(self.head_weight) > 0:
            self.head_ = HeadFeatures(max_chars=int(self.head_max_chars)).fit(raw)
        self.embedding_ = None
        if self.embedding_dir is not None:
            from statcoder.models.embedding import load_embedding  # static or ONNX, by layout

            self.embedding_ = load_embedding(self.embedding_dir)
        self.n_features_out_ = self._n_features()
        return self

    def _n_features(self) -> int:
        extra = 0 if self.embedding_ is None else self.embedding_.dim
        return len(self.word_.vocabulary_) + len(self.char_.vocabulary_) + sum(self._head_sizes()) + extra

    def _head_sizes(self) -> tuple[int, ...]:
        """Columns of the head block (word, char n-grams); () without a head block."""
        head = getattr(self, "head_", None)
        return () if head is None else head.block_sizes

    def transform(self, X: Any) -> sp.csr_matrix:
        """Return the (n_texts, n_features) float32 CSR matrix of the texts ``X``."""
        check_is_fitted(self, "word_")
        raw = list(X)
        texts = _prepare(raw)
        word = self._tfidf(self.word_, texts)
        char = self._tfidf(self.char_, texts)
        if self.char_weight != 1.0:
            char = char * np.float32(self.char_weight)
        blocks = [word, char]
        if getattr(self, "head_", None) is not None:
            blocks.append(self.head_.transform(raw) * np.float32(self.head_weight))
        if getattr(self, "embedding_", None) is not None:
            # the raw texts: the embedding model's tokenizer does its own normalisation
            dense = self.embedding_.embed([str(t) for t in raw]) * np.float32(self.embedding_weight)
            blocks.append(sp.csr_matrix(dense))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def without_unseen(self, Z: sp.csr_matrix, seen: np.ndarray) -> sp.csr_matrix:
        """Rows of ``transform``'s output as if the n-grams not in ``seen`` (a boolean mask over the
        columns) were outside the vocabulary: those entries are dropped and the word and char
        blocks (and the head's word and char blocks) re-normalised (L2, then their weights);
        embedding columns are kept as they are.

        Out-of-fold scoring uses it: a member never saw the n-grams that occur only in its
        held-out fold, just as the deployed model never sees a new text's unknown n-grams, which
        ``transform`` drops. Left in, they dilute the record's norm and its scores come out
        lower out of fold than the same text's would in production.
        """
        check_is_fitted(self, "word_")
        sizes = [len(self.word_.vocabulary_), len(self.char_.vocabulary_), *self._head_sizes()]
        weights = [1.0, self.char_weight, *([self.head_weight] * len(self._head_sizes()))]
        n_grams = sum(sizes)
        X = sp.csr_matrix(Z, dtype=np.float32, copy=True)
        keep = np.asarray(seen, dtype=bool)[X.indices] | (X.indices >= n_grams)
        X.data[~keep] = 0.0
        X.eliminate_zeros()
        blocks, start = [], 0
        for size, weight in zip(sizes, weights, strict=True):
            block = X[:, start:start + size].tocsr()
            inplace_csr_row_normalize_l2(block)
            blocks.append(block * np.float32(weight) if weight != 1.0 else block)
            start += size
        if X.shape[1] > n_grams:
            blocks.append(X[:, n_grams:])
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def _tfidf(self, vectorizer: TfidfVectorizer, texts: list[str]) -> sp.csr_matrix:
        """``vectorizer.transform(texts)``, with the n-grams counted by a batch index when it applies.

        The counts are exactly scikit-learn's (``statcoder.text.ngrams``); the TF-IDF weighting
        and normalisation are scikit-learn's own, so the features are bit-identical.
        """
        index = self._batch_index(vectorizer)
        if index is None:
            return vectorizer.transform(texts)
        pre = vectorizer.preprocessor
        X = index.transform(texts if pre is _identity else [pre(t) for t in texts])
        if vectorizer.norm != "l2" or not vectorizer.use_idf:
            return vectorizer._tfidf.transform(X, copy=False)
        # TfidfTransformer.transform's own steps, without its per-call validation overhead
        if vectorizer.sublinear_tf:
            np.log(X.data, X.data)
            X.data += 1.0
        X.data *= vectorizer.idf_[X.indices]
        inplace_csr_row_normalize_l2(X)
        return X

    def _batch_index(self, vectorizer: TfidfVectorizer) -> CharWbIndex | WordIndex | None:
        """The batch n-gram index of a fitted vectorizer (built once), or None where it does not apply."""
        cache = self.__dict__.setdefault("_indexes", {})
        key = id(vectorizer)
        if key in cache and cache[key][0] is vectorizer:
            return cache[key][1]
        index = None
        plain = (vectorizer.tokenizer is None and vectorizer.stop_words is None and not vectorizer.binary
                 and vectorizer.preprocessor is not None and vectorizer.input == "content"
                 and np.dtype(vectorizer.dtype) == np.float32)
        try:
            if plain and vectorizer.analyzer == "char_wb":
                index = CharWbIndex(vectorizer.vocabulary_, vectorizer.ngram_range)
            elif plain and vectorizer.analyzer == "word":
                index = WordIndex(vectorizer.vocabulary_, vectorizer.ngram_range, vectorizer.token_pattern)
        except Unsupported:
            index = None
        cache[key] = (vectorizer, index)
        return index

    def feature_frequency_order(self) -> np.ndarray:
        """Feature columns ordered from the most to the least frequent in the training texts.

        By inverse document frequency (word and character n-grams together; embedding
        dimensions, used by every text, first). Used to keep the weights of frequent
        features dense when scoring.
        """
        check_is_fitted(self, "word_")
        dims = 0 if getattr(self, "embedding_", None) is None else self.embedding_.dim
        head = np.zeros(0) if getattr(self, "head_", None) is None else self.head_.idf()
        rarity = np.concatenate([np.asarray(self.word_.idf_, dtype=np.float64),
                                 np.asarray(self.char_.idf_, dtype=np.float64), head, np.full(dims, -1.0)])
        return np.argsort(rarity, kind="stable")

    def feature_names(self) -> np.ndarray:
        """Return the feature names: word n-grams, character n-grams (``c:``), head n-grams (``h:``,
        ``hc:``), embedding dimensions (``e:``)."""
        check_is_fitted(self, "word_")
        words = self.word_.get_feature_names_out()
        chars = np.asarray(["c:" + t for t in self.char_.get_feature_names_out()], dtype=object)
        dims = 0 if getattr(self, "embedding_", None) is None else self.embedding_.dim
        embedded = np.asarray([f"e:{i}" for i in range(dims)], dtype=object)
        head = np.zeros(0, dtype=object) if getattr(self, "head_", None) is None else self.head_.feature_names()
        return np.concatenate([words.astype(object), chars, head, embedded])

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
        if getattr(self, "head_", None) is not None:
            meta["head"], head_arrays = self.head_.to_state()
            arrays.update(head_arrays)
        if getattr(self, "embedding_", None) is not None:  # the model directory is self-contained
            arrays.update(self.embedding_.to_arrays())
            meta["embedding"] = self.embedding_.identity()  # kind, dimension, SHA-256 of the bundled model
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
        # models saved before the head block have neither the parameter nor the state: no head block
        self.head_ = HeadFeatures.from_state(meta["head"], arrays) if meta.get("head") else None
        from statcoder.models.embedding import embedding_from_arrays

        self.embedding_ = embedding_from_arrays(arrays)
        self.n_features_out_ = self._n_features()
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

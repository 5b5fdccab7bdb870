"""The head of a text (its first line or field) and the separately weighted features built from it.

Long answers often open with a short field that names the thing coded, followed by a body
that describes it: a job ad's title above its description, an activity above the firm's
self-presentation, or the first of several text columns (joined with `` | ``). In the
body's many words the head's few are diluted, so a model that reads the text as one bag
of n-grams weighs the title little. ``HeadFeatures`` adds the head as its own block of
word and character n-grams, with a weight of its own (``TextFeatures(head_weight=...)``).

The head is defined from the text's layout alone, never from a data set:

* the first line, when a non-empty body follows it on later lines;
* else the first field, when the text is fields joined with `` | `` (``join_columns``);
* else, for one long line, its first sentence (ending in ``.``, ``!`` or ``?`` before a space)
  when that ends within ``max_chars`` characters;
* else none (``""``): a short one-line text (a job title, an index entry) is all head, and
  its n-grams are already in the main blocks with full weight.

A head is at most ``max_chars`` characters, cut at the last space before the limit.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from statcoder.errors import ConfigurationError
from statcoder.text.normalise import normalise_cached

HEAD_MAX_CHARS = 120  #: default bound on a head's length, in characters
FIELD_SEPARATOR = " | "  #: what ``join_columns`` puts between text columns
_SENTENCE_END = re.compile(r"[.!?](?=\s)")
_TOKEN = r"(?u)\b\w+\b"


def head_field(text: Any, *, max_chars: int = HEAD_MAX_CHARS) -> str:
    """Return the head of ``text`` (see the module docs), at most ``max_chars`` characters; ``""`` if none.

    ``text`` that is not a string (None, NaN) has no head. The head is returned as written
    (stripped of surrounding whitespace), not normalised.
    """
    if not isinstance(text, str):
        return ""
    text = text.strip()
    if not text:
        return ""
    first, newline, rest = text.partition("\n")
    if newline and rest.strip():
        return _bounded(first.strip(), max_chars)
    first, bar, rest = text.partition(FIELD_SEPARATOR)
    if bar and rest.strip():
        return _bounded(first.strip(), max_chars)
    if len(text) <= max_chars:
        return ""  # one short line: the whole text is the head, already weighted in full
    end = _SENTENCE_END.search(text, 0, max_chars + 1)
    return _bounded(text[: end.start() + 1].strip(), max_chars) if end else ""


def _bounded(head: str, max_chars: int) -> str:
    """``head`` cut to ``max_chars`` characters, at the last space before the limit when there is one."""
    if len(head) <= max_chars:
        return head
    cut = head.rfind(" ", 0, max_chars + 1)
    return head[: cut if cut > 0 else max_chars].rstrip()


def check_head_weight(value: Any, *, where: str = "head_weight") -> float:
    """Return ``value`` as a float when it is a usable head weight (finite, >= 0); else ConfigurationError."""
    try:
        weight = float(value)
    except (TypeError, ValueError):
        weight = float("nan")
    if not np.isfinite(weight) or weight < 0:
        raise ConfigurationError(f"head weight must be a number of at least 0, got {value!r}", where=where,
                                 hint="e.g. head_weight=1, 0 = no head block (CLI: --head-weight 1)")
    return weight


class HeadFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF word n-grams and character n-grams of each text's head (``head_field``), each block
    L2-normalised; a text without a head has an all-zero row.

    The blocks are unweighted here: ``TextFeatures`` multiplies them by its ``head_weight``.
    """

    def __init__(self, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5),
                 max_chars: int = HEAD_MAX_CHARS, sublinear_tf: bool = True) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.max_chars = max_chars
        self.sublinear_tf = sublinear_tf

    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        common = {"lowercase": False, "sublinear_tf": self.sublinear_tf, "dtype": np.float32}
        word = TfidfVectorizer(analyzer="word", token_pattern=_TOKEN, ngram_range=tuple(self.word_ngrams), **common)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngrams), **common)
        return word, char

    def heads(self, X: Any) -> list[str]:
        """The normalised heads of the texts ``X`` (``""`` where a text has none)."""
        return [normalise_cached(head_field(t, max_chars=int(self.max_chars))) for t in X]

    def fit(self, X: Any, y: Any = None) -> HeadFeatures:
        """Learn the head vocabularies and IDF weights from the texts ``X``; returns self."""
        heads = [h for h in self.heads(X) if h]
        word, char = self._vectorizers()
        # no text with a head (short answers): an empty block, the model is the one without it
        self.word_ = word.fit(heads) if heads and _has_tokens(heads) else None
        self.char_ = char.fit(heads) if heads else None
        return self

    @property
    def block_sizes(self) -> tuple[int, int]:
        """Number of (word, character) columns."""
        check_is_fitted(self, "char_")
        return tuple(0 if v is None else len(v.vocabulary_) for v in (self.word_, self.char_))

    def transform(self, X: Any) -> sp.csr_matrix:
        """Return the (n_texts, n_word + n_char) float32 CSR matrix of the texts' heads."""
        check_is_fitted(self, "char_")
        heads = self.heads(X)
        blocks = [sp.csr_matrix((len(heads), 0), dtype=np.float32) if v is None else v.transform(heads)
                  for v in (self.word_, self.char_)]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def idf(self) -> np.ndarray:
        """Inverse document frequencies of the columns (word, then character n-grams)."""
        check_is_fitted(self, "char_")
        return np.concatenate([np.zeros(0) if v is None else np.asarray(v.idf_, dtype=np.float64)
                               for v in (self.word_, self.char_)])

    def feature_names(self) -> np.ndarray:
        """Column names: ``h:`` + word n-gram, then ``hc:`` + character n-gram."""
        check_is_fitted(self, "char_")
        out = []
        for prefix, v in (("h:", self.word_), ("hc:", self.char_)):
            if v is not None:
                out += [prefix + t for t in v.get_feature_names_out()]
        return np.asarray(out, dtype=object)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Return (JSON-able params and vocabularies, arrays ``head_word_idf`` / ``head_char_idf``)."""
        check_is_fitted(self, "char_")
        meta: dict[str, Any] = {"params": {k: list(v) if isinstance(v, tuple) else v
                                           for k, v in self.get_params().items()}}
        arrays = {}
        for name, v in (("word", self.word_), ("char", self.char_)):
            meta[f"{name}_vocabulary"] = None if v is None else v.get_feature_names_out().tolist()
            if v is not None:
                arrays[f"head_{name}_idf"] = np.asarray(v.idf_, dtype=np.float64)
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> HeadFeatures:
        """Rebuild a fitted transformer from ``to_state`` output."""
        self = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()})
        fitted = []
        for name, v in zip(("word", "char"), self._vectorizers(), strict=True):
            vocab = meta[f"{name}_vocabulary"]
            if vocab is None:
                fitted.append(None)
                continue
            v.set_params(vocabulary={t: i for i, t in enumerate(vocab)})
            v._validate_vocabulary()
            v.idf_ = arrays[f"head_{name}_idf"]
            fitted.append(v)
        self.word_, self.char_ = fitted
        return self


def _has_tokens(heads: list[str]) -> bool:
    """True when some head has a word token (a head of punctuation only has none)."""
    return any(re.search(_TOKEN, h) for h in heads)

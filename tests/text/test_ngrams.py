"""The batch n-gram indexes count exactly what scikit-learn's analysers count.

Compared on texts that exercise every branch of scikit-learn's ``char_wb`` rule (short words
counted once whole, words shorter than ``min_n``), Unicode (accents, Polish, CJK, combining
marks, emoji, a lone surrogate), digits, punctuation, tabs/newlines/no-break spaces, empty
texts and very long ones; and a fitted ``TextFeatures`` gives bit-identical TF-IDF matrices
through the batch path and through scikit-learn's own ``transform``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from statcoder.text.features import TextFeatures, _prepare
from statcoder.text.ngrams import BLOCK, CharWbIndex, Unsupported, WordIndex

TOKEN = r"(?u)\b\w+\b"
FIXED = [
    "Żółć gęślą jaźń", "a b c", "I", "", "   ", "naïve café\tcrème\nbrûlée", "東京 都 労働者 看護師",
    "x1 2y 33 4-5 (a) [b]! ...", "ab  cd\u00a0ef\x1cgh\u2003ij", "AAAA aaaa aaaa aaaa", "a" * 60 + " b",
    "Ω", "élève   ÉLÈVE", "e\u0301cole", "🙂 emoji 🙂🙂", "\ud800 lone surrogate", "word " * 400,
    "q", "qq", "qqq", "qqqq", "qqqqq", "x y", "registered nurse", "nurse registered nurse",
]


def _texts(n: int = 2500, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    alphabet = list("abcdeghoz ąęłśż東京 \t\n1,.-") + ["  "]
    return FIXED + ["".join(rng.choice(alphabet, rng.integers(0, 45))) for _ in range(n)]


def _same(reference: sp.spmatrix, got: sp.csr_matrix) -> None:
    reference = sp.csr_matrix(reference)
    assert got.shape == reference.shape
    assert got.dtype == reference.dtype
    assert np.array_equal(got.indptr, reference.indptr)
    assert np.array_equal(got.indices, reference.indices)
    assert np.array_equal(got.data, reference.data)


@pytest.mark.parametrize("ngrams", [(2, 5), (1, 3), (3, 6), (4, 4), (1, 1), (5, 7)])
@pytest.mark.parametrize("min_df", [1, 2])
def test_char_wb_counts_equal_scikit_learn(ngrams, min_df):
    texts = _texts()
    fitted = CountVectorizer(analyzer="char_wb", ngram_range=ngrams, lowercase=False, min_df=min_df,
                             dtype=np.float32).fit(texts[len(texts) // 3 :])
    _same(fitted.transform(texts), CharWbIndex(fitted.vocabulary_, ngrams).transform(texts))


@pytest.mark.parametrize("ngrams", [(1, 2), (1, 1), (2, 3), (1, 3)])
@pytest.mark.parametrize("max_features", [None, 300])
def test_word_counts_equal_scikit_learn(ngrams, max_features):
    texts = _texts(seed=1)
    fitted = CountVectorizer(analyzer="word", token_pattern=TOKEN, ngram_range=ngrams, lowercase=False,
                             max_features=max_features, dtype=np.float32).fit(texts[len(texts) // 3 :])
    _same(fitted.transform(texts), WordIndex(fitted.vocabulary_, ngrams, TOKEN).transform(texts))


def test_blocks_by_characters_give_the_same_counts(monkeypatch):
    from statcoder.text import ngrams

    texts = _texts(600, seed=4) + ["long " * 3000]
    fitted = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False, dtype=np.float32).fit(texts)
    monkeypatch.setattr(ngrams, "BLOCK_CHARS", 500)  # many blocks, one text longer than a block
    _same(fitted.transform(texts), CharWbIndex(fitted.vocabulary_, (2, 5)).transform(texts))


def test_batches_larger_than_a_block_and_empty_input():
    texts = _texts(BLOCK + 300, seed=2)
    fitted = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False, dtype=np.float32).fit(texts)
    index = CharWbIndex(fitted.vocabulary_, (2, 5))
    _same(fitted.transform(texts), index.transform(texts))
    assert index.transform([]).shape == (0, len(fitted.vocabulary_))
    assert index.transform(["", " "]).nnz == 0


def test_unsupported_settings_are_refused():
    with pytest.raises(Unsupported):
        CharWbIndex({"abcdef": 0}, (2, 5))  # an entry longer than max_n: not a char_wb vocabulary
    with pytest.raises(Unsupported):
        WordIndex({"a": 0}, (2, 1), TOKEN)


@pytest.mark.parametrize("params", [{}, {"char_max_chars": 12, "word_max_chars": 30, "char_weight": 0.5},
                                    {"word_ngrams": (1, 3), "char_ngrams": (1, 4), "char_min_df": 1}])
def test_text_features_equal_scikit_learn_after_a_round_trip(params):
    texts = _texts(1500, seed=3)
    features = TextFeatures(**params).fit(texts[:1000])
    reloaded = TextFeatures.from_state(*features.to_state())
    prepared = _prepare(texts)
    word_pre = features.word_.build_preprocessor()
    char_pre = features.char_.build_preprocessor()
    reference = sp.hstack([features.word_.transform(prepared),
                           features.char_.transform(prepared) * np.float32(features.char_weight)],
                          format="csr", dtype=np.float32)
    assert word_pre is features.word_.preprocessor and char_pre is features.char_.preprocessor
    for model in (features, reloaded):
        assert model._batch_index(model.char_) is not None and model._batch_index(model.word_) is not None
        _same(reference, model.transform(texts))


def test_key_table_finds_exactly_the_stored_keys():
    """Every stored key gives its value (also colliding ones, crowded slots), anything else -1."""
    import numpy as np

    from statcoder.text.ngrams import KeyTable

    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**63, 5000, dtype=np.int64))
    keys = np.r_[keys, np.arange(1, 200, dtype=np.int64)]  # small consecutive codes, as word n-grams get
    values = rng.permutation(len(keys))
    table = KeyTable(keys, values)
    np.testing.assert_array_equal(table.get(keys), values)
    others = np.setdiff1d(rng.integers(0, 2**63, 5000, dtype=np.int64), keys)
    assert (table.get(others) == -1).all()
    hashes = keys.view(np.uint64)  # uint64 keys (character n-gram hashes) work alike
    np.testing.assert_array_equal(KeyTable(hashes, values).get(hashes[::-1]), values[::-1])
    assert KeyTable(np.zeros(0, dtype=np.uint64), np.zeros(0)).get(hashes[:3]).tolist() == [-1, -1, -1]

"""Batch n-gram counting for fitted vocabularies, without Python work per n-gram.

scikit-learn's ``CountVectorizer`` builds every n-gram of every text as a Python string and
looks it up in a dict: for short survey answers that is most of the time of coding. These
indexes give the **same** count matrix (same columns, same integer counts, sorted indices)
for a whole batch of texts at once:

* :class:`CharWbIndex` (``analyzer="char_wb"``): the texts' words are padded with a space on
  each side (as scikit-learn does) and laid end to end in one array of code points; a 64-bit
  polynomial hash of every window of every length is computed with numpy, looked up with
  a hash table (``KeyTable``) of the vocabulary's n-grams of that length, and every
  hit is confirmed by comparing its code points with the vocabulary entry's (so a hash
  collision can never produce a wrong feature). scikit-learn's rule for short words is kept:
  a padded word of length ``L <= max_n`` is counted once as a whole, at the first ``n >= L``.
* :class:`WordIndex` (``analyzer="word"``): one compiled-regex ``findall`` per text, the tokens
  of the batch mapped to integer ids by one dict look-up each, and n-grams of ids encoded as
  base-``T`` integers looked up in a hash table of the vocabulary's n-grams' codes.

Both raise :class:`Unsupported` at construction for settings they do not reproduce (the
caller then keeps scikit-learn's analyser); the TF-IDF weighting itself stays scikit-learn's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp

_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the polynomial hash
BLOCK = 4096  # texts counted at once
BLOCK_CHARS = 2_000_000  # characters counted at once (bounds the temporary arrays for long texts)


class Unsupported(ValueError):
    """The vectorizer's settings are not reproduced by the batch index."""


class KeyTable:
    """Exact 64-bit key -> int64 value look-up, many keys at a time: an open-addressing hash
    table (linear probing, at most half full) probed with numpy gathers.

    Most queries are settled by their first probe (a hit, or an empty slot: not in the
    table), so it costs a few passes over the queries where ``searchsorted`` in a sorted
    table costs ~log2(size) dependent ones. Keys are compared in full: no false hit.
    """

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = _as_uint64(keys)
        values = np.asarray(values, dtype=np.int64)
        bits = max(4, len(keys).bit_length() + 1)
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.keys = np.zeros(self.mask + 1, dtype=np.uint64)
        self.values = np.full(self.mask + 1, -1, dtype=np.int64)  # -1: empty slot
        home = self._home(keys)
        pending, probe = np.arange(len(keys)), 0
        while len(pending):  # insert in rounds: every key tries its slot at distance `probe`
            slot = (home[pending] + probe) & self.mask
            free = self.values[slot] < 0
            taken, first = np.unique(slot[free], return_index=True)  # one key per free slot
            winners = pending[free][first]
            self.keys[taken], self.values[taken] = keys[winners], values[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            probe += 1
        self.max_probe = probe  # no key lies further than this from its home slot

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _MULT) >> self.shift).astype(np.int64)

    def get(self, queries: np.ndarray) -> np.ndarray:
        """The value of each query key (-1 for a key not in the table)."""
        queries = _as_uint64(queries)
        slot = self._home(queries)
        value = self.values[slot]
        found = self.keys[slot] == queries
        out = np.where(found, value, -1)  # an empty slot holds -1: the first probe settles most queries
        active = np.flatnonzero(~found & (value >= 0))  # slot taken by another key: probe on
        slot = (slot[active] + 1) & self.mask
        for _ in range(1, self.max_probe):
            if not len(active):
                break
            value = self.values[slot]
            hit = (self.keys[slot] == queries[active]) & (value >= 0)
            out[active[hit]] = value[hit]
            more = ~hit & (value >= 0)
            active, slot = active[more], (slot[more] + 1) & self.mask
        return out


def _as_uint64(keys: np.ndarray) -> np.ndarray:
    """``keys`` as uint64 (int64 codes reinterpreted, no copy; uint64 as they are)."""
    if keys.dtype == np.uint64:
        return keys
    if keys.dtype == np.int64:
        return np.ascontiguousarray(keys).view(np.uint64)
    return keys.astype(np.uint64)


def _code_points(text: str) -> np.ndarray:
    """Code points of ``text`` plus one (so that no character hashes to zero), as uint64."""
    raw = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
    return raw.astype(np.uint64) + np.uint64(1)


def _counts(doc: np.ndarray, feature: np.ndarray, n_docs: int, n_features: int) -> sp.csr_matrix:
    """CSR float32 count matrix from one (doc, feature) pair per occurrence; indices sorted.

    The pairs come in a few runs already ordered by document (one per n-gram length), so a
    stable sort by document is a cheap merge; scipy then sorts each short row and sums its
    repeated features (faster than ``np.unique`` over packed (doc, feature) keys).
    """
    order = np.argsort(doc, kind="stable")
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc, minlength=n_docs), out=indptr[1:])
    index_dtype = np.int32 if n_features < 2**31 and len(doc) < 2**31 else np.int64
    counts = sp.csr_matrix((np.ones(len(doc), dtype=np.float32), feature[order].astype(index_dtype),
                            indptr.astype(index_dtype)), shape=(n_docs, n_features))
    counts.sum_duplicates()  # sorts each row's indices and adds repeated features up
    return counts


def _blocks(texts: Sequence[str], count: Callable[[Sequence[str]], sp.csr_matrix], n_features: int) -> sp.csr_matrix:
    """``count`` over blocks of at most ``BLOCK`` texts and about ``BLOCK_CHARS`` characters, stacked."""
    if not texts:
        return sp.csr_matrix((0, n_features), dtype=np.float32)
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if len(texts) <= BLOCK and sizes.sum() <= BLOCK_CHARS:
        return count(texts)
    parts, start, total = [], 0, 0
    for i, size in enumerate(sizes.tolist()):
        if i > start and (i - start >= BLOCK or total + size > BLOCK_CHARS):
            parts.append(count(texts[start:i]))
            start, total = i, 0
        total += size
    parts.append(count(texts[start:]))
    return sp.vstack(parts, format="csr") if len(parts) > 1 else parts[0]


class CharWbIndex:
    """Counts of a fitted ``char_wb`` vocabulary in a batch of texts (see the module docs)."""

    def __init__(self, vocabulary: dict[str, int], ngram_range: tuple[int, int]) -> None:
        self.min_n, self.max_n = int(ngram_range[0]), int(ngram_range[1])
        if self.min_n < 1 or self.max_n < self.min_n:
            raise Unsupported(f"ngram_range {ngram_range}")
        self.n_features = len(vocabulary)
        terms = list(vocabulary)
        ids = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(terms))
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        if len(terms) and (lengths.max() > self.max_n or lengths.min() < 1):
            raise Unsupported("vocabulary entries longer than max_n")
        # every entry's code points, padded: rows by feature id (for confirming hash hits)
        self.chars = np.zeros((self.n_features, self.max_n), dtype=np.uint64)
        flat = _code_points("".join(terms))
        row = np.repeat(ids, lengths)
        col = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        self.chars[row, col] = flat
        self.by_position = [np.ascontiguousarray(self.chars[:, j]) for j in range(self.max_n)]
        hashes = np.zeros(self.n_features, dtype=np.uint64)
        for j in range(self.max_n):
            hashes = np.where(lengths > j, hashes * _MULT + self.chars[ids, j], hashes)
        # per length n: the hashes of the vocabulary's n-grams -> their feature ids
        self.tables = {n: KeyTable(hashes[lengths == n], ids[lengths == n]) for n in range(1, self.max_n + 1)}

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the (len(texts), n_features) float32 count matrix, indices sorted."""
        return _blocks(list(texts), self._count, self.n_features)

    def _lookup(self, n: int, hashes: np.ndarray) -> np.ndarray:
        """Candidate feature id of each hash among the length-``n`` entries (-1: none)."""
        return self.tables[n].get(hashes)

    def _confirm(self, cp: np.ndarray, starts: np.ndarray, n: int, feature: np.ndarray) -> np.ndarray:
        """True where the ``n`` code points at ``starts`` equal the vocabulary entry's."""
        if not len(starts):
            return np.zeros(0, dtype=bool)
        ok = self.by_position[0][feature] == cp[starts]
        for j in range(1, n):  # one position at a time: 1-D gathers, no (hits x n) index array
            ok &= self.by_position[j][feature] == cp[starts + j]
        return ok

    def _count(self, texts: Sequence[str]) -> sp.csr_matrix:
        words = [t.split() for t in texts]
        per_doc = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        flat = list(chain.from_iterable(words))
        if not flat:
            return sp.csr_matrix((len(texts), self.n_features), dtype=np.float32)
        # " w1  w2  w3 ": word i padded by one space each side, starting at starts[i]
        cp = _code_points(" " + "  ".join(flat) + " ")
        padded = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat)) + 2
        starts = np.cumsum(padded) - padded
        word_doc = np.repeat(np.arange(len(texts)), per_doc)
        owner = np.repeat(np.arange(len(flat)), padded)  # word of every position
        offset = np.arange(len(cp)) - starts[owner]
        docs, feats = [], []
        h = np.zeros(len(cp), dtype=np.uint64)
        for n in range(1, self.max_n + 1):
            # hash of the window [p, p + n) for every p with p + n <= len(cp)
            h = h[: len(cp) - n + 1] * _MULT + cp[n - 1 :]
            if n >= self.min_n:
                # every window of size n < L inside a padded word of length L
                length = padded[owner[: len(h)]]
                inside = np.flatnonzero((length > n) & (offset[: len(h)] <= length - n))
                self._hits(cp, h, n, inside, word_doc[owner[inside]], docs, feats)
            # a padded word of length L <= max_n also counts once as a whole (for L < min_n: only so)
            whole = np.flatnonzero(padded == n)
            if len(whole):
                self._hits(cp, h, n, starts[whole], word_doc[whole], docs, feats)
        if not docs:
            return sp.csr_matrix((len(texts), self.n_features), dtype=np.float32)
        return _counts(np.concatenate(docs), np.concatenate(feats), len(texts), self.n_features)

    def _hits(self, cp, h, n, positions, doc, docs, feats) -> None:
        """Append the (doc, feature) pairs of the length-``n`` windows starting at ``positions``."""
        feature = self._lookup(n, h[positions])
        hit = feature >= 0
        positions, doc, feature = positions[hit], doc[hit], feature[hit]
        ok = self._confirm(cp, positions, n, feature)
        docs.append(doc[ok])
        feats.append(feature[ok])


class WordIndex:
    """Counts of a fitted word n-gram vocabulary in a batch of texts (see the module docs)."""

    def __init__(self, vocabulary: dict[str, int], ngram_range: tuple[int, int], token_pattern: str) -> None:
        self.min_n, self.max_n = int(ngram_range[0]), int(ngram_range[1])
        if self.min_n < 1 or self.max_n < self.min_n:
            raise Unsupported(f"ngram_range {ngram_range}")
        self.pattern = re.compile(token_pattern)
        if self.pattern.groups > 1:
            raise Unsupported("token pattern with several groups")
        self.n_features = len(vocabulary)
        parts = [term.split(" ") for term in vocabulary]
        self.tokens = {t: i for i, t in enumerate(sorted(set(chain.from_iterable(parts))))}
        self.base = max(len(self.tokens), 1)
        if float(self.base) ** self.max_n >= 2.0**62:
            raise Unsupported("too many tokens for integer n-gram codes")
        ids = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(parts))
        sizes = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        token_ids = self._ids(list(chain.from_iterable(parts)))
        self.tables: dict[int, KeyTable] = {}
        ends = np.cumsum(sizes)
        for n in range(1, self.max_n + 1):
            mine = np.flatnonzero(sizes == n)
            codes = np.zeros(len(mine), dtype=np.int64)
            for j in range(n):
                codes = codes * self.base + token_ids[ends[mine] - n + j]
            self.tables[n] = KeyTable(codes, ids[mine])

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return the (len(texts), n_features) float32 count matrix, indices sorted."""
        return _blocks(list(texts), self._count, self.n_features)

    def _ids(self, tokens: list[str]) -> np.ndarray:
        """Id of every token (-1 when no vocabulary n-gram contains it)."""
        return np.fromiter(map(self.tokens.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))

    def _count(self, texts: Sequence[str]) -> sp.csr_matrix:
        found = self.pattern.findall
        tokens = [found(t) for t in texts]
        per_doc = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        flat = list(chain.from_iterable(tokens))
        if not flat:
            return sp.csr_matrix((len(texts), self.n_features), dtype=np.float32)
        ids = self._ids(flat)
        doc = np.repeat(np.arange(len(texts)), per_doc)
        docs, feats = [], []
        codes = np.zeros(len(ids), dtype=np.int64)
        for n in range(1, self.max_n + 1):
            m = len(ids) - n + 1
            if m <= 0:
                break
            codes = codes[:m] * self.base + ids[n - 1 :]
            if n < self.min_n:
                continue
            # an n-gram counts when all its tokens are known and it stays inside one text
            known = np.lib.stride_tricks.sliding_window_view(ids, n).min(axis=1) >= 0
            if n > 1:
                known &= doc[:m] == doc[n - 1 :]
            at = np.flatnonzero(known)
            if not len(at):
                continue
            feature = self.tables[n].get(codes[at])
            hit = feature >= 0
            docs.append(doc[at[hit]])
            feats.append(feature[hit])
        if not docs:
            return sp.csr_matrix((len(texts), self.n_features), dtype=np.float32)
        return _counts(np.concatenate(docs), np.concatenate(feats), len(texts), self.n_features)

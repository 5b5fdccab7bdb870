"""Search over a classification: codes, titles and index entries, prepared once in memory.

The index is a token-prefix inverted index: every entry (a code's title, or an index entry
such as "Baker, bread" -> 7512) is split into normalised tokens (case-folded, accents
removed); a sorted vocabulary answers "which tokens start with this prefix" by bisection,
and the postings (sorted entry numbers per token) of those tokens are merged with numpy.
Every query token must match a token prefix of the entry (AND). Codes match by prefix too.
Hits are ranked: exact code, then entries whose tokens match whole words, then short labels;
each code appears once, with its best label and its path in the hierarchy (breadcrumb).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from statcoder.classifications import Classification

TOKEN = re.compile(r"[0-9a-z]+")
MAX_QUERY = 200
MAX_TOKENS = 8


def tokens(text: str) -> list[str]:
    """Return the normalised tokens of ``text`` (lower case, accents stripped, alphanumeric runs)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return TOKEN.findall(plain.replace("ł", "l"))


@dataclass(frozen=True)
class Hit:
    """One search result: the code, its title, the label that matched, and its breadcrumb."""

    code: str
    title: str
    level: int
    label: str
    kind: str  # "title" | "index" | "code"
    path: tuple[tuple[str, str], ...]  # (code, title) of the ancestors, top first


class ClassificationSearch:
    """An in-memory search index over one classification (and optional index entries)."""

    def __init__(self, classification: Classification, entries: Iterable[tuple[str, str]] = ()) -> None:
        self.classification = classification
        codes: list[str] = []
        labels: list[str] = []
        kinds: list[str] = []
        for code in classification.codes:
            codes.append(code)
            labels.append(classification.title(code))
            kinds.append("title")
        for text, code in entries:
            if code in classification and text.strip():
                codes.append(code)
                labels.append(text.strip())
                kinds.append("index")
        self._codes = codes
        self._labels = labels
        self._kinds = kinds
        self._label_len = np.fromiter((len(s) for s in labels), dtype=np.int32, count=len(labels))
        postings: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            for tok in set(tokens(label)):
                postings.setdefault(tok, []).append(i)
        self._vocab = sorted(postings)
        self._postings = [np.asarray(postings[t], dtype=np.int32) for t in self._vocab]
        self._sorted_codes = sorted(classification.codes)
        self._code_key = [c.casefold() for c in self._sorted_codes]

    def __len__(self) -> int:
        return len(self._labels)

    def _prefix_entries(self, prefix: str) -> np.ndarray:
        lo = bisect.bisect_left(self._vocab, prefix)
        hi = bisect.bisect_left(self._vocab, prefix + "\uffff")
        if hi - lo == 1:
            return self._postings[lo]
        if hi == lo:
            return np.zeros(0, dtype=np.int32)
        return np.unique(np.concatenate(self._postings[lo:hi]))

    def _exact_entries(self, token: str) -> np.ndarray:
        i = bisect.bisect_left(self._vocab, token)
        if i < len(self._vocab) and self._vocab[i] == token:
            return self._postings[i]
        return np.zeros(0, dtype=np.int32)

    def _path(self, code: str) -> tuple[tuple[str, str], ...]:
        cls = self.classification
        return tuple((a, cls.title(a)) for a in cls.ancestors(code))

    def _hit(self, code: str, label: str, kind: str) -> Hit:
        cls = self.classification
        return Hit(code, cls.title(code), cls.level(code), label, kind, self._path(code))

    def search(self, query: str, *, limit: int = 20) -> list[Hit]:
        """Return up to ``limit`` hits for ``query``, best first (empty for an empty query)."""
        query = query.strip()[:MAX_QUERY]
        if not query:
            return []
        hits: list[Hit] = []
        seen: set[str] = set()
        key = query.casefold()
        lo = bisect.bisect_left(self._code_key, key)
        for j in range(lo, min(lo + limit, len(self._code_key))):  # codes starting with the query
            if not self._code_key[j].startswith(key):
                break
            code = self._sorted_codes[j]
            hits.append(self._hit(code, self.classification.title(code), "code"))
            seen.add(code)
        words = tokens(query)[:MAX_TOKENS]
        if not words or len(hits) >= limit:
            return hits[:limit]
        matched = self._prefix_entries(words[0])
        for word in words[1:]:
            if not len(matched):
                break
            matched = np.intersect1d(matched, self._prefix_entries(word), assume_unique=True)
        if not len(matched):
            return hits
        whole = np.zeros(len(matched), dtype=np.int32)
        for word in words:
            whole += np.isin(matched, self._exact_entries(word), assume_unique=True)
        # whole-word matches first, then titles before index entries, then short labels
        is_index = np.fromiter((self._kinds[i] == "index" for i in matched), dtype=bool, count=len(matched))
        order = np.lexsort((self._label_len[matched], is_index, -whole))
        for i in matched[order]:
            code = self._codes[i]
            if code in seen:
                continue
            seen.add(code)
            hits.append(self._hit(code, self._labels[i], self._kinds[i]))
            if len(hits) >= limit:
                break
        return hits

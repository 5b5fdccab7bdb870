"""Duplicate texts and conflicting codes in training data.

Exact duplicates repeat a record verbatim; normalised duplicates differ only in case,
punctuation, Unicode form or spacing. Identical (normalised) texts that carry different codes
are conflicts: either the text is too short to decide, the classification's definitions are
unclear for it, or coders disagree. Conflicts are summarised per pair of codes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statcoder.errors import InputError

if TYPE_CHECKING:
    from statcoder.classifications import Classification


@dataclass
class DuplicatesResult:
    """Result of ``find_duplicates``.

    Record-level arrays (length ``n_records``): ``exact_group`` / ``normalised_group`` (group
    id shared by records with the same raw / normalised text, ``-1`` when the text is unique or
    empty) and ``conflict`` (True when the record's normalised text occurs with another code).
    ``conflict_pairs``: one row per unordered pair of codes seen on the same normalised text,
    ``code_a``, ``code_b``, ``n_texts`` (distinct normalised texts with both codes),
    ``n_records`` (records of those texts carrying either code) and, with a classification,
    ``common_level`` / ``relation`` as in label issues.
    """

    n_records: int
    n_empty: int
    exact_group: np.ndarray
    normalised_group: np.ndarray
    conflict: np.ndarray
    conflict_pairs: pd.DataFrame

    @property
    def n_exact_duplicates(self) -> int:
        """Records whose raw text already occurred earlier (copies beyond the first)."""
        return _copies(self.exact_group)

    @property
    def n_normalised_duplicates(self) -> int:
        """Records whose normalised text already occurred earlier (includes the exact duplicates)."""
        return _copies(self.normalised_group)

    @property
    def n_conflicting_texts(self) -> int:
        """Distinct normalised texts carrying more than one code."""
        return int(np.unique(self.normalised_group[self.conflict]).size)

    @property
    def n_conflicting_records(self) -> int:
        """Records whose normalised text carries more than one code."""
        return int(self.conflict.sum())

    def summary(self) -> pd.DataFrame:
        """The headline counts as a two-column frame (measure, value)."""
        items = [
            ("records", self.n_records),
            ("empty texts", self.n_empty),
            ("exact duplicate records (copies beyond the first)", self.n_exact_duplicates),
            ("normalised duplicate records (copies beyond the first)", self.n_normalised_duplicates),
            ("texts with more than one code", self.n_conflicting_texts),
            ("records of texts with more than one code", self.n_conflicting_records),
            ("code pairs in conflict", len(self.conflict_pairs)),
        ]
        return pd.DataFrame(items, columns=["measure", "value"])


def _copies(groups: np.ndarray) -> int:
    valid = groups[groups >= 0]
    return int(valid.size - np.unique(valid).size)


def _group_ids(keys: Sequence[str | None]) -> np.ndarray:
    counts = Counter(k for k in keys if k)
    ids: dict[str, int] = {}
    out = np.full(len(keys), -1, dtype=np.int64)
    for i, key in enumerate(keys):
        if key and counts[key] > 1:
            out[i] = ids.setdefault(key, len(ids))
    return out


def find_duplicates(
    texts: Sequence[str],
    codes: Sequence[str],
    *,
    normalise: Callable[[str], str] | None = None,
    classification: Classification | None = None,
    group_level: int | None = None,
) -> DuplicatesResult:
    """Find exact and normalised duplicate texts and texts coded with different codes.

    ``normalise`` defaults to ``statcoder.text.normalise`` (NFKC, case-folded, punctuation to
    spaces, whitespace collapsed). Empty texts (after normalisation) are never duplicates.
    Returns a ``DuplicatesResult``; record texts are not copied into it.
    """
    if len(texts) != len(codes):
        raise InputError(f"{len(texts)} texts but {len(codes)} codes", hint="pass one code per text")
    if normalise is None:
        from statcoder.text import normalise as default_normalise

        normalise = default_normalise
    raw = [t if t and t.strip() else None for t in texts]
    norm = [normalise(t) if t else None for t in raw]
    norm = [k if k else None for k in norm]
    exact = _group_ids(raw)
    grouped = _group_ids(norm)

    codes_by_text: dict[int, Counter[str]] = defaultdict(Counter)
    for g, code in zip(grouped.tolist(), codes):
        if g >= 0:
            codes_by_text[g][code] += 1
    conflicting = {g for g, c in codes_by_text.items() if len(c) > 1}
    conflict = np.fromiter((g in conflicting for g in grouped.tolist()), dtype=bool, count=len(codes))

    pair_texts: Counter[tuple[str, str]] = Counter()
    pair_records: Counter[tuple[str, str]] = Counter()
    for g in conflicting:
        seen = codes_by_text[g]
        for a, b in combinations(sorted(seen), 2):
            pair_texts[(a, b)] += 1
            pair_records[(a, b)] += seen[a] + seen[b]
    pairs = pd.DataFrame(
        [(a, b, pair_texts[(a, b)], pair_records[(a, b)]) for (a, b) in pair_texts],
        columns=["code_a", "code_b", "n_texts", "n_records"],
    )
    pairs = pairs.sort_values(["n_texts", "n_records", "code_a", "code_b"], ascending=[False, False, True, True])
    pairs = pairs.reset_index(drop=True)
    if classification is not None:
        from statcoder.quality.label_issues import default_group_level, hierarchy_relation

        level = default_group_level(classification) if group_level is None else int(group_level)
        common, relation = hierarchy_relation(
            pairs["code_a"].tolist(), pairs["code_b"].tolist(), classification, group_level=level
        )
        pairs["common_level"] = pd.array(common, dtype="Int64")
        pairs["relation"] = relation
    return DuplicatesResult(
        n_records=len(texts),
        n_empty=sum(1 for k in norm if k is None),
        exact_group=exact,
        normalised_group=grouped,
        conflict=conflict,
        conflict_pairs=pairs,
    )

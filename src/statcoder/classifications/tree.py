"""A statistical classification as a tree of codes.

Codes are strings in their official format (``"0110"``, ``"15-1252"``, ``"62.01"``);
levels count from 1 at the top. The tree answers the questions coding needs: a code's
parent, ancestors, children and level, the ancestor at a given level (truncation), and the
aggregation of probabilities over leaf codes up to any level.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from statcoder.errors import UnknownCodeError


class Classification:
    """A validated tree of codes. Build it with ``from_csv``, ``from_frame`` or ``from_codes``."""

    def __init__(
        self,
        *,
        name: str,
        codes: Sequence[str],
        parents: Mapping[str, str | None],
        levels: Mapping[str, int],
        titles: Mapping[str, str] | None = None,
        version: str = "",
        level_names: Mapping[int, str] | None = None,
    ) -> None:
        # Callers go through the validating constructors; this one trusts its input.
        self.name = name
        self.version = version
        self.codes: tuple[str, ...] = tuple(codes)
        self._parent = {c: (parents.get(c) or None) for c in self.codes}
        self._level = {c: int(levels[c]) for c in self.codes}
        self._title = {c: (titles or {}).get(c, "") for c in self.codes}
        self.level_names: dict[int, str] = dict(level_names or {})
        children: dict[str, list[str]] = {c: [] for c in self.codes}
        for code in self.codes:
            parent = self._parent[code]
            if parent is not None:
                children[parent].append(code)
        self._children = children
        self.depth: int = max(self._level.values()) if self._level else 0

    # ---- basic look-ups -------------------------------------------------------------------
    def __contains__(self, code: object) -> bool:
        return code in self._level

    def __len__(self) -> int:
        return len(self.codes)

    def __repr__(self) -> str:
        per_level = ", ".join(str(len(self.codes_at(lv))) for lv in range(1, self.depth + 1))
        return f"Classification({self.name!r}, {len(self)} codes, per level: {per_level})"

    def _check(self, code: str) -> None:
        if code not in self._level:
            raise UnknownCodeError(
                f"code {code!r} is not in classification {self.name}",
                hint="check the code's format (codes are text, leading zeros count)",
            )

    def level(self, code: str) -> int:
        """Return the level of ``code`` (1 = top)."""
        self._check(code)
        return self._level[code]

    def parent(self, code: str) -> str | None:
        """Return the parent code, or None for a top-level code."""
        self._check(code)
        return self._parent[code]

    def ancestors(self, code: str) -> list[str]:
        """Return the ancestors of ``code``, top level first, the code itself excluded."""
        self._check(code)
        chain: list[str] = []
        parent = self._parent[code]
        while parent is not None:
            chain.append(parent)
            parent = self._parent[parent]
        return chain[::-1]

    def children(self, code: str) -> list[str]:
        """Return the direct children of ``code`` in file order."""
        self._check(code)
        return list(self._children[code])

    def title(self, code: str) -> str:
        """Return the title of ``code`` ("" when the classification has no titles)."""
        self._check(code)
        return self._title[code]

    def truncate(self, code: str, level: int) -> str:
        """Return the ancestor of ``code`` at ``level``, or the code itself if it is not deeper."""
        self._check(code)
        if self._level[code] <= level:
            return code
        current = code
        while self._level[current] > level:
            current = self._parent[current]  # type: ignore[assignment]
        return current

    def codes_at(self, level: int) -> list[str]:
        """Return all codes at ``level`` in file order."""
        return [c for c in self.codes if self._level[c] == level]

    @cached_property
    def leaves(self) -> list[str]:
        """Codes without children (the codes a coder ultimately assigns), in file order."""
        return [c for c in self.codes if not self._children[c]]

    def tree_distance(self, a: str, b: str) -> int:
        """Levels from the deeper of the two codes up to their deepest common ancestor.

        0 means the same code; for two leaf codes of a 4-level tree, 1 means siblings
        (same 3-digit group) and 4 means different top-level groups.
        """
        if a == b:
            self._check(a)
            return 0
        path_a = [*self.ancestors(a), a]
        path_b = [*self.ancestors(b), b]
        common = 0
        for x, y in zip(path_a, path_b, strict=False):
            if x != y:
                break
            common += 1
        return max(len(path_a), len(path_b)) - common

    # ---- probabilities up the tree ----------------------------------------------------------
    def aggregation_matrix(self, classes: Sequence[str], level: int) -> tuple[sp.csr_matrix, list[str]]:
        """Return a 0/1 matrix (n_classes, k) mapping each class to its ancestor at ``level``.

        Classes shallower than ``level`` have an all-zero row (they cannot be refined).
        The k target codes come back in the classification's order.
        """
        ancestor = {}
        for i, code in enumerate(classes):
            self._check(code)
            if self._level[code] >= level:
                ancestor[i] = self.truncate(code, level)
        targets = sorted(set(ancestor.values()), key=self._order.__getitem__)
        column = {code: j for j, code in enumerate(targets)}
        rows = np.fromiter(ancestor.keys(), dtype=np.int64, count=len(ancestor))
        cols = np.fromiter((column[a] for a in ancestor.values()), dtype=np.int64, count=len(ancestor))
        matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(classes), len(targets)))
        return matrix, targets

    def aggregate(self, proba: np.ndarray, classes: Sequence[str], level: int) -> tuple[np.ndarray, list[str]]:
        """Sum probability columns of ``classes`` into their ancestors at ``level``.

        Returns ``(proba_at_level, codes)`` with shape (n_records, len(codes)). Rows sum to the
        mass of classes at or below ``level`` (1 when all classes are that deep).
        """
        matrix, codes = self.aggregation_matrix(classes, level)
        return np.asarray(matrix.T.dot(np.asarray(proba).T).T), codes

    @cached_property
    def _order(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.codes)}

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the sorted (code, parent, level) rows: equal trees, equal fingerprints."""
        digest = hashlib.sha256()
        for code in sorted(self.codes):
            digest.update(f"{code}\t{self._parent[code] or ''}\t{self._level[code]}\n".encode())
        return digest.hexdigest()

    def summary(self) -> list[tuple[int, str, int]]:
        """Return ``(level, level_name, number of codes)`` for each level, top first."""
        return [
            (lv, self.level_names.get(lv, f"level {lv}"), len(self.codes_at(lv)))
            for lv in range(1, self.depth + 1)
        ]

    def to_records(self) -> list[dict[str, object]]:
        """Return the tree as a list of ``{code, title, level, parent}`` dicts (for saving)."""
        return [
            {"code": c, "title": self._title[c], "level": self._level[c], "parent": self._parent[c] or ""}
            for c in self.codes
        ]

    # ---- constructors (validation lives in loading.py) ----------------------------------------
    @classmethod
    def from_csv(cls, path, *, name: str | None = None, version: str = "") -> Classification:
        """Load and validate a classification CSV (``code,title,level,parent[,...]``)."""
        from statcoder.classifications.loading import classification_from_csv

        return classification_from_csv(path, name=name, version=version)

    @classmethod
    def from_frame(cls, frame, *, name: str, version: str = "", source: str = "<frame>") -> Classification:
        """Validate and build from a DataFrame with columns code, title, level, parent."""
        from statcoder.classifications.loading import classification_from_frame

        return classification_from_frame(frame, name=name, version=version, source=source)

    @classmethod
    def from_codes(
        cls,
        codes: Iterable[str],
        *,
        name: str,
        titles: Mapping[str, str] | None = None,
        prefix_lengths: Sequence[int] | None = None,
        version: str = "",
    ) -> Classification:
        """Build a tree from codes whose prefixes form the hierarchy (e.g. UK SOC 4-digit)."""
        from statcoder.classifications.loading import classification_from_codes

        return classification_from_codes(
            codes, name=name, titles=titles, prefix_lengths=prefix_lengths, version=version
        )

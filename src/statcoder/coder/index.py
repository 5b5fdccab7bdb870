"""The exact-match coding index: normalised text -> code, consulted before the model.

An index holds the phrases a methodologist trusts to code without a model: a
classification's alphabetical index, or phrases added by hand. Texts are matched after
the same normalisation the model uses. One text with two codes is an error at load time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from statcoder.classifications import Classification
from statcoder.errors import IndexConflictError, InputError, UnknownCodeError
from statcoder.text.normalise import as_text, normalise_key


class CodingIndex:
    """An editable mapping of normalised texts to codes."""

    def __init__(self, entries: Mapping[str, str] | None = None) -> None:
        self._entries: dict[str, str] = {}
        for text, code in (entries or {}).items():
            self.add(text, code)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and normalise_key(text) in self._entries

    def add(self, text: str, code: str) -> None:
        """Add one phrase; raises IndexConflictError if it already maps to another code."""
        key = normalise_key(text)
        if not key:
            return
        existing = self._entries.get(key)
        if existing is not None and existing != code:
            raise IndexConflictError(
                f"index phrase {text!r} maps to both {existing} and {code}",
                hint="keep one code per phrase; ambiguous phrases belong to the model, not the index",
            )
        self._entries[key] = code

    def remove(self, text: str) -> None:
        """Remove a phrase (no error if it is absent)."""
        self._entries.pop(normalise_key(text), None)

    def lookup(self, texts: Iterable[str]) -> list[str | None]:
        """Return the indexed code of each text, or None where the index has no entry."""
        return [self._entries.get(normalise_key(t)) for t in texts]

    def items(self) -> list[tuple[str, str]]:
        """Return (normalised text, code) pairs, sorted by text."""
        return sorted(self._entries.items())

    def validate(self, classification: Classification, *, where: str = "index") -> None:
        """Raise UnknownCodeError if any indexed code is not in ``classification``."""
        unknown = sorted({c for c in self._entries.values() if c not in classification})
        if unknown:
            raise UnknownCodeError(
                f"{len(unknown)} index code(s) are not in {classification.name}, e.g. {', '.join(unknown[:5])}",
                where=where,
                hint="fix or remove those index entries",
            )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, text_column: str = "text", code_column: str = "code",
                   where: str = "index") -> CodingIndex:
        """Build an index from a table; conflicting rows are reported with their row numbers."""
        for column in (text_column, code_column):
            if column not in frame.columns:
                raise InputError(f"index column {column!r} not found", where=where,
                                 hint=f"the columns are: {', '.join(map(str, frame.columns))}")
        first: dict[str, tuple[str, int]] = {}
        conflicts: list[str] = []
        for row, (text, code) in enumerate(zip(frame[text_column], frame[code_column], strict=True), start=2):
            key, code = normalise_key(as_text(text)), as_text(code).strip()
            if not key or not code:
                continue
            seen = first.get(key)
            if seen is None:
                first[key] = (code, row)
            elif seen[0] != code:
                conflicts.append(f"row {row} ({code}) vs row {seen[1]} ({seen[0]})")
        if conflicts:
            raise IndexConflictError(
                f"{len(conflicts)} index phrase(s) map to more than one code",
                where=f"{where}: {'; '.join(conflicts[:5])}{' ...' if len(conflicts) > 5 else ''}",
                hint="keep one code per phrase (after case and punctuation are ignored)",
            )
        index = cls()
        index._entries = {k: v[0] for k, v in first.items()}
        return index

    @classmethod
    def from_file(cls, path: str | Path, *, text_column: str = "text", code_column: str = "code") -> CodingIndex:
        """Read an index table (any format ``read_table`` reads) with text and code columns."""
        from statcoder.io import read_table

        return cls.from_frame(read_table(path), text_column=text_column, code_column=code_column, where=str(path))

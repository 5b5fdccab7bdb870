"""A bounded cache of coded texts, kept by a worker across the chunks it codes.

Census answers repeat across a whole file, not only within a chunk ("nurse", "teacher", ...).
A text's coded output depends on the text alone (never on the batch or chunk it came in:
see ``docs/batch.md``), so a worker that has coded a text once can reuse the result for
every later chunk, and the output is the same as without the cache.

The cache holds at most ``capacity`` entries in a ring of slots: a new entry takes the next
slot and evicts the oldest entry (first in, first out). Only short texts are kept (at most
``max_chars`` characters, all text columns together): they are the ones that repeat, and
long ones would make the memory depend on the texts. Lookups and inserts are one dict
operation per *distinct* text of a chunk; the values are kept in numpy columns, so a
chunk's hits are gathered with one fancy index per output column.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

#: default entries per worker (~60 MB for short titles with 5 candidates each)
DEFAULT_CACHE_SIZE = 100_000
#: longest key (characters of all text columns together) that is cached
MAX_CACHED_CHARS = 300


class TextCache:
    """Coded output columns of recently coded texts; ``capacity`` entries, first in first out.

    ``columns`` names the cached output columns and their numpy dtypes. ``top_k`` and the
    other options a result depends on are the worker's and fixed for its lifetime.
    """

    def __init__(self, capacity: int, columns: dict[str, np.dtype | type]) -> None:
        if capacity < 1:
            raise ValueError(f"cache capacity must be at least 1, got {capacity}")
        self.capacity = int(capacity)
        self.columns = {name: np.empty(self.capacity, dtype=dtype) for name, dtype in columns.items()}
        self._slot: dict[Hashable, int] = {}
        self._keys: list[Hashable | None] = [None] * self.capacity
        self._next = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._slot)

    def lookup(self, keys: Sequence[Hashable]) -> np.ndarray:
        """The slot of every key (int64 array), -1 where the key is not cached."""
        get = self._slot.get
        slots = np.fromiter((get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        found = int((slots >= 0).sum())
        self.hits += found
        self.misses += len(keys) - found
        return slots

    def gather(self, slots: np.ndarray) -> dict[str, np.ndarray]:
        """The cached columns at ``slots`` (all >= 0), as new arrays."""
        return {name: values[slots] for name, values in self.columns.items()}

    def store(self, keys: Sequence[Hashable], values: dict[str, np.ndarray]) -> None:
        """Cache ``values[name][i]`` under ``keys[i]``; keys longer than the limit are skipped.

        A key already cached is left as it is (its value is the same by construction).
        """
        slot_of, owners = self._slot, self._keys
        take, slots = [], []
        for i, key in enumerate(keys):
            if key is None or key in slot_of or _length(key) > MAX_CACHED_CHARS:
                continue
            slot = self._next
            self._next = (slot + 1) % self.capacity
            old = owners[slot]
            if old is not None:
                del slot_of[old]
            owners[slot] = key
            slot_of[key] = slot
            take.append(i)
            slots.append(slot)
        if not take:
            return
        # a chunk with more new keys than slots wraps around: only the last ``capacity`` of them
        # still own their slot
        index = np.asarray(take[-self.capacity:], dtype=np.int64)
        where = np.asarray(slots[-self.capacity:], dtype=np.int64)
        for name, column in self.columns.items():
            column[where] = values[name][index]


def _length(key: Hashable) -> int:
    if isinstance(key, str):
        return len(key)
    if isinstance(key, tuple):
        return sum(len(k) if isinstance(k, str) else 0 for k in key)
    return 0

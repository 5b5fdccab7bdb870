"""Short-lived in-process copies of API-key and project rows, so the hot path skips the store.

An entry lives ``ttl_s`` seconds; changes made through this process (revocation, promotion,
settings) drop the entry at once, changes made by another process are seen within ``ttl_s``.
Only rows that exist are cached (unknown key ids are not remembered, so random ids cannot
fill memory).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 10_000


class AuthCache:
    """A TTL map for ``("key", id)`` and ``("project", id)`` rows; ``ttl_s <= 0`` disables it."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, ident: str) -> Any | None:
        """Return the cached row, or None when absent or older than the TTL."""
        if self.ttl_s <= 0:
            return None
        entry = self._entries.get((kind, ident))
        if entry is None or self._clock() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, kind: str, ident: str, row: Any) -> None:
        """Remember a row that exists."""
        if self.ttl_s <= 0 or row is None:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[(kind, ident)] = (self._clock(), row)

    def drop(self, kind: str, ident: str) -> None:
        """Forget one row (after a change made by this process)."""
        with self._lock:
            self._entries.pop((kind, ident), None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

"""Which projects sent coding requests lately, shared by all server processes of a data directory.

Fair sharing needs to know whether *another* project is active. With several HTTP worker
processes a client's connection lands on one of them, so a process serving only the busy
project would never learn that another project waits in its sibling - and would keep the
machine's cores saturated. Every process therefore notes, per project, the last time it saw a
request - and the last time it saw the project *busy* (with a backlog: several requests at
once) - in a small memory-mapped file (``<data dir>/run/active-projects``, 64 slots of a
project hash and two ``CLOCK_MONOTONIC`` times, which all processes of a machine share), and
reads all slots when it asks whether another project was active, or active and light (not
busy), within the linger time.

Slots are written without a lock: a race can only make a project look idle until its next
request (a few milliseconds), never mix up two projects' times beyond that.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import time
from pathlib import Path

import numpy as np

SLOTS = 64
_SLOT = np.dtype([("project", "<u8"), ("seen", "<f8"), ("busy", "<f8")])
#: a process writes a project's time at most this often (s); readers allow for it
WRITE_EVERY_S = 0.005


def project_hash(project: str) -> int:
    """Return a stable non-zero 64-bit hash of a project id (0 marks a free slot)."""
    return int.from_bytes(hashlib.blake2b(project.encode(), digest_size=8).digest(), "little") or 1


class ActivityBoard:
    """Last-request times of projects, shared through a memory-mapped file (one per data directory)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SLOTS * _SLOT.itemsize:
                os.ftruncate(fd, SLOTS * _SLOT.itemsize)
            self._map = mmap.mmap(fd, SLOTS * _SLOT.itemsize)
        finally:
            os.close(fd)
        self.slots = np.frombuffer(self._map, dtype=_SLOT)
        self._hashes: dict[str, int] = {}
        self._slot: dict[str, int] = {}
        self._written: dict[str, float] = {}

    def _hash(self, project: str) -> int:
        value = self._hashes.get(project)
        if value is None:
            if len(self._hashes) > 10_000:
                self._hashes.clear()
            value = self._hashes[project] = project_hash(project)
        return value

    def note(self, project: str, *, busy: bool = False, now: float | None = None) -> None:
        """Record that ``project`` has a request now (in this process), ``busy``: with a backlog."""
        now = time.monotonic() if now is None else now
        if now - self._written.get((project, busy), -1.0) < WRITE_EVERY_S:
            return
        value = self._hash(project)
        slot = self._slot.get(project)
        if slot is None or int(self.slots["project"][slot]) != value:
            mine = np.flatnonzero(self.slots["project"] == value)
            slot = int(mine[0]) if len(mine) else int(np.argmin(self.slots["seen"]))  # or the stalest slot
            self.slots["project"][slot] = value
            self.slots["busy"][slot] = 0.0
            if len(self._slot) > 10_000:
                self._slot.clear()
            self._slot[project] = slot
        self.slots["seen"][slot] = now
        if busy:
            self.slots["busy"][slot] = now
        if len(self._written) > 10_000:
            self._written.clear()
        self._written[(project, busy)] = now

    def others_since(self, project: str, since: float) -> bool:
        """True if a project other than ``project`` had a request (in any process) after ``since``."""
        slots = self.slots
        return bool(np.any((slots["seen"] > since) & (slots["project"] != self._hash(project))
                           & (slots["project"] != 0)))

    def light_since(self, project: str, since: float) -> bool:
        """True if a project other than ``project`` had a request after ``since`` and no backlog since."""
        slots = self.slots
        return bool(np.any((slots["seen"] > since) & (slots["busy"] <= since)
                           & (slots["project"] != self._hash(project)) & (slots["project"] != 0)))

    def close(self) -> None:
        """Unmap the file."""
        del self.slots
        self._map.close()

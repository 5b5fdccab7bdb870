"""Models in memory: each (project, version) is loaded once and shared by requests and jobs."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from statcoder.coder import Coder


class ModelCache:
    """Thread-safe cache of loaded coders keyed by (project id, version).

    A promotion calls :meth:`activate`, which loads the new version before it serves and drops
    the project's other versions, so requests switch to the new model without a restart.
    """

    def __init__(self, data_dir: Path, *, on_change: object = None) -> None:
        self.data_dir = data_dir
        self._coders: dict[tuple[str, str], Coder] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._on_change = on_change

    def get(self, project_id: str, version: str, relative_path: str) -> Coder:
        """Return the loaded coder, loading it from ``data_dir / relative_path`` the first time."""
        key = (project_id, version)
        coder = self._coders.get(key)
        if coder is not None:
            return coder
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            coder = self._coders.get(key)
            if coder is None:
                from statcoder.coder import Coder

                coder = Coder.load(self.data_dir / relative_path)
                self._coders[key] = coder
                # A model is hundreds of thousands of long-lived objects: keep them out of the
                # cyclic collector, whose full passes would otherwise walk them all (~0.2 s,
                # a pause every request in flight waits for). Freed by refcount as usual.
                gc.freeze()
                self._changed()
        return coder

    def activate(self, project_id: str, version: str, relative_path: str) -> Coder:
        """Load ``version`` and evict the project's other versions; returns the coder."""
        coder = self.get(project_id, version, relative_path)
        with self._guard:
            for key in [k for k in self._coders if k[0] == project_id and k[1] != version]:
                del self._coders[key]
        self._changed()
        return coder

    def is_loaded(self, project_id: str, version: str) -> bool:
        """Return True when this version is in memory."""
        return (project_id, version) in self._coders

    def __len__(self) -> int:
        return len(self._coders)

    def _changed(self) -> None:
        if callable(self._on_change):
            self._on_change(len(self._coders))

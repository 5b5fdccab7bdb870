"""Bounding the threads numerical libraries use (``STATCODER_THREADS``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_CONTROLLER: list = [None, -1]  # (controller, number of imported modules when it was built)


def configured_threads() -> int:
    """The number of threads a model may use: ``STATCODER_THREADS`` (default 1)."""
    from statcoder.settings import get_settings

    return max(1, int(get_settings().threads))


@contextmanager
def thread_limit(threads: int | None = None) -> Iterator[int]:
    """Limit BLAS/OpenMP thread pools to ``threads`` (default: the setting) inside the block.

    Yields the limit. Everything statcoder fits or predicts runs inside this, so the setting
    bounds what a model uses on a shared machine.
    """
    limit = configured_threads() if threads is None else max(1, int(threads))
    with _controller().limit(limits=limit):
        yield limit


def _controller() -> ThreadpoolController:
    """The thread-pool controller, rebuilt only when modules were imported since (a new native
    library may have been loaded): finding the libraries reads files and costs milliseconds,
    which a one-record coding call must not pay every time."""
    if _CONTROLLER[0] is None or _CONTROLLER[1] != len(sys.modules):
        _CONTROLLER[0], _CONTROLLER[1] = ThreadpoolController(), len(sys.modules)
    return _CONTROLLER[0]

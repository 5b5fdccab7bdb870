"""Bounding the threads numerical libraries use (``STATCODER_THREADS``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


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
    with threadpool_limits(limits=limit):
        yield limit

"""Micro-batching: concurrent coding requests on the same model share one coder call.

A model call has a fixed cost (feature pipeline, sparse products, pandas) that dwarfs the
per-record cost at small sizes. Requests for the same (model, text columns, top_k) key are
queued to one model thread per key, which codes everything queued in one call, hands each
request its rows and starts over. While a call runs the next batch gathers, so the batch size
follows the load and at most one call per key competes for the CPU. A lone request pays only
the thread hand-over plus ``wait_s``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future

import pandas as pd

CodeFn = Callable[[pd.DataFrame], pd.DataFrame]
IDLE_EXIT_S = 60.0


class _Lane:
    """The queue and model thread of one key."""

    def __init__(self) -> None:
        self.items: list[tuple[pd.DataFrame, Future, CodeFn]] = []
        self.ready = threading.Condition()
        self.thread: threading.Thread | None = None


class MicroBatcher:
    """Codes concurrent calls with the same key together (up to ``max_records`` per call).

    ``wait_s <= 0`` disables batching: each call runs in its caller's thread.
    """

    def __init__(self, *, wait_s: float = 0.001, max_records: int = 2000) -> None:
        self.wait_s = wait_s
        self.max_records = max_records
        self._lanes: dict[Hashable, _Lane] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, frame: pd.DataFrame, code: CodeFn) -> pd.DataFrame:
        """Return ``code(frame)``, computed together with concurrent calls of the same key.

        ``code`` must map a frame to a frame of the same length, row for row.
        """
        return self.submit(key, frame, code).result()

    def submit(self, key: Hashable, frame: pd.DataFrame, code: CodeFn) -> Future:
        """Queue ``code(frame)`` and return a future of its result (see :meth:`run`).

        With batching off the call runs at once in the caller's thread.
        """
        future: Future = Future()
        if self.wait_s <= 0:
            try:
                future.set_result(code(frame))
            except Exception as exc:  # noqa: BLE001 - delivered through the future
                future.set_exception(exc)
            return future
        with self._lock:
            lane = self._lanes.setdefault(key, _Lane())
            with lane.ready:
                lane.items.append((frame, future, code))
                if lane.thread is None:
                    lane.thread = threading.Thread(
                        target=self._serve, args=(key, lane), name=f"coder-batch-{hash(key) & 0xffff:x}",
                        daemon=True,
                    )
                    lane.thread.start()
                lane.ready.notify()
        return future

    def _take(self, lane: _Lane) -> list[tuple[pd.DataFrame, Future, CodeFn]]:
        taken, n = [], 0
        while lane.items and (not taken or n + len(lane.items[0][0]) <= self.max_records):
            item = lane.items.pop(0)
            taken.append(item)
            n += len(item[0])
        return taken

    def _serve(self, key: Hashable, lane: _Lane) -> None:
        # Lock order everywhere: self._lock, then lane.ready.
        while True:
            with lane.ready:
                busy = lane.ready.wait_for(lambda: lane.items, timeout=IDLE_EXIT_S)
            if not busy:
                with self._lock, lane.ready:
                    if not lane.items:  # nobody queued meanwhile: retire the lane
                        lane.thread = None
                        self._lanes.pop(key, None)
                        return
                continue
            if self.wait_s:
                threading.Event().wait(self.wait_s)  # let a burst of requests gather
            with lane.ready:
                batch = self._take(lane)
            _execute(batch)


def _execute(batch: list[tuple[pd.DataFrame, Future, CodeFn]]) -> None:
    """Code the batch in one call (the code function of its first item) and split the result."""
    frames = [frame for frame, _, _ in batch]
    code = batch[0][2]
    try:
        coded = code(frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True))
    except Exception as exc:  # noqa: BLE001 - retry one by one so only the faulty request fails
        if len(batch) == 1:
            batch[0][1].set_exception(exc)
            return
        for frame, future, fn in batch:
            try:
                future.set_result(fn(frame))
            except Exception as item_exc:  # noqa: BLE001 - handed to the waiting request
                future.set_exception(item_exc)
        return
    start = 0
    for frame, future, _ in batch:
        future.set_result(coded.iloc[start : start + len(frame)].reset_index(drop=True))
        start += len(frame)

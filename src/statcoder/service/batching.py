"""Micro-batching: concurrent coding requests on the same model share one coder call.

A model call has a fixed cost (feature pipeline, sparse products, frame building) that dwarfs
the per-record cost at small sizes. Requests for the same key (project, model version, text
columns, top_k) are queued to one model thread per key, which codes everything queued in
ONE call, hands each request its own rows and starts over. While a call runs the next batch
gathers, so the batch size follows the load and at most one call per key competes for the
CPU: 50 concurrent 1-record requests cost a handful of model calls, not 50.

Payloads are plain lists (one item per record); the code function maps a list to a list of
the same length, item for item. A lone request is coded at once (no gather wait unless
``wait_s > 0``): it pays only the thread hand-over.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Any

CodeFn = Callable[[list[Any]], Sequence[Any]]
IDLE_EXIT_S = 60.0


class _Lane:
    """The queue and model thread of one key."""

    def __init__(self) -> None:
        self.items: deque[tuple[list[Any], Future, CodeFn]] = deque()
        self.ready = threading.Condition()
        self.thread: threading.Thread | None = None


class MicroBatcher:
    """Codes concurrent calls with the same key together (up to ``max_records`` per call).

    ``enabled=False`` turns batching off: each call runs in its caller's thread. ``wait_s``
    is an optional gather time before each call (0: code what is queued at once).
    """

    def __init__(
        self, *, wait_s: float = 0.0, max_records: int = 2000, enabled: bool = True,
        on_call: Callable[[int, float], None] | None = None,
    ) -> None:
        self.wait_s = max(0.0, wait_s)
        self.on_call = on_call  # told (records, seconds) after each call, e.g. for metrics
        self.max_records = max_records
        self.enabled = enabled
        self.calls = 0  # model calls made (batched or not); read by tests and the benchmark
        self.records = 0  # records coded through those calls
        self.busy_s = 0.0  # wall time spent inside code functions
        self._lanes: dict[Hashable, _Lane] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, items: list[Any], code: CodeFn) -> list[Any]:
        """Return ``code(items)``, computed together with concurrent calls of the same key."""
        return self.submit(key, items, code).result()

    def submit(self, key: Hashable, items: list[Any], code: CodeFn) -> Future:
        """Queue ``code(items)`` and return a future of its result (a list, one entry per item).

        Calls queued under one key must share what ``code`` computes (the same model and
        options): the batch is coded with the code function of its first call. With batching
        off the call runs at once in the caller's thread.
        """
        future: Future = Future()
        if not self.enabled:
            try:
                future.set_result(self._call(code, list(items), len(items)))
            except Exception as exc:  # noqa: BLE001 - delivered through the future
                future.set_exception(exc)
            return future
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane()
            with lane.ready:
                lane.items.append((items, future, code))
                if lane.thread is None:
                    lane.thread = threading.Thread(
                        target=self._serve, args=(key, lane), name=f"coder-batch-{hash(key) & 0xffff:x}",
                        daemon=True,
                    )
                    lane.thread.start()
                lane.ready.notify()
        return future

    def _take(self, lane: _Lane) -> list[tuple[list[Any], Future, CodeFn]]:
        taken, n = [], 0
        while lane.items and (not taken or n + len(lane.items[0][0]) <= self.max_records):
            item = lane.items.popleft()
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
            self._execute(batch)

    def _call(self, code: CodeFn, items: list[Any], n: int) -> Sequence[Any]:
        started = time.perf_counter()
        out = code(items)
        seconds = time.perf_counter() - started
        if len(out) != n:
            raise RuntimeError(f"the code function returned {len(out)} results for {n} items")
        self.calls += 1
        self.records += n
        self.busy_s += seconds
        if self.on_call is not None:
            self.on_call(n, seconds)
        return out

    def _execute(self, batch: list[tuple[list[Any], Future, CodeFn]]) -> None:
        """Code the batch in one call (the code function of its first item) and split the result."""
        code = batch[0][2]
        items = batch[0][0] if len(batch) == 1 else [x for part, _, _ in batch for x in part]
        try:
            coded = self._call(code, items, len(items))
        except Exception as exc:  # noqa: BLE001 - retry one by one so only the faulty request fails
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for part, future, fn in batch:
                try:
                    future.set_result(self._call(fn, part, len(part)))
                except Exception as item_exc:  # noqa: BLE001 - handed to the waiting request
                    future.set_exception(item_exc)
            return
        start = 0
        for part, future, _ in batch:
            future.set_result(list(coded[start : start + len(part)]))
            start += len(part)

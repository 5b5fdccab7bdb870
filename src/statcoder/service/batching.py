"""Micro-batching: concurrent coding requests on the same model share one coder call.

A model call has a fixed cost (feature pipeline, sparse products, frame building) that dwarfs
the per-record cost at small sizes. Requests for the same key (project, model version, text
columns, top_k) queue under that key; the model thread codes everything queued under a key in
ONE call, hands each request its own rows and starts over. While a call runs the next batch
gathers, so the batch size follows the load: 50 concurrent 1-record requests cost a handful
of model calls, not 50. Keys never share a call.

One model thread per process (by default) serves all keys, least recently served first: a
project with a single request waits at most for the call in progress, never behind another
project's stream of batches, and model calls do not fight each other for the interpreter lock.

Payloads are plain lists (one item per record); the code function maps a list to a sequence
of the same length, item for item (a list, or anything sliceable such as the service's column
arrays); each call gets its own slice. A lone request is coded at once (no gather wait unless
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
Item = tuple[list[Any], Future, CodeFn]
IDLE_EXIT_S = 60.0


class MicroBatcher:
    """Codes concurrent calls with the same key together (up to ``max_records`` per call).

    ``threads`` model threads (default 1 per process) serve the keys; a key is never coded by
    two threads at once, and when several keys wait the one served least recently goes first,
    so a project with one request is not held behind another project's stream of batches.
    ``enabled=False`` turns batching off: each call runs in its caller's thread. ``wait_s``
    is an optional gather time before each call (0: code what is queued at once).
    """

    def __init__(
        self, *, wait_s: float = 0.0, max_records: int = 2000, enabled: bool = True, threads: int = 1,
        on_call: Callable[[int, float], None] | None = None,
    ) -> None:
        self.wait_s = max(0.0, wait_s)
        self.on_call = on_call  # told (records, seconds) after each call, e.g. for metrics
        self.max_records = max_records
        self.enabled = enabled
        self.threads = max(1, threads)
        self.calls = 0  # model calls made (batched or not); read by tests and the benchmark
        self.records = 0  # records coded through those calls
        self.busy_s = 0.0  # wall time spent inside code functions
        self._queues: dict[Hashable, deque[Item]] = {}  # keys with calls waiting
        self._busy: set[Hashable] = set()  # keys being coded now
        self._served: dict[Hashable, int] = {}  # key -> turn it was last served at
        self._turn = 0
        self._running = 0  # live model threads
        self._ready = threading.Condition()

    def run(self, key: Hashable, items: list[Any], code: CodeFn) -> list[Any]:
        """Return ``code(items)``, computed together with concurrent calls of the same key."""
        return self.submit(key, items, code).result()

    def run_now(self, key: Hashable, items: list[Any], code: CodeFn, *, beside: bool = False) -> Sequence[Any] | None:
        """Return ``code(items)`` computed in the caller's thread if no call is queued or running, else None.

        With ``beside=True`` it runs while the model thread codes other keys (the caller gives it
        priority over their queue), as long as its own key is neither queued nor being coded.
        Always None with batching off or a gather time (``wait_s > 0``).

        The lone request's path: with nothing to batch with, the hand-over to the model thread
        (and back) is pure cost. A call submitted meanwhile by another thread waits its turn as
        if this one ran in the model thread. Errors are raised to the caller.
        """
        if not self.enabled or self.wait_s:  # a gather time asks for every call to wait for others
            return None
        with self._ready:
            if (key in self._queues or key in self._busy) if beside else (self._queues or self._busy):
                return None
            self._busy.add(key)
        try:
            return self._call(code, list(items), len(items))
        finally:
            with self._ready:
                self._busy.discard(key)
                self._ready.notify()

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
        with self._ready:
            self._queues.setdefault(key, deque()).append((items, future, code))
            if self._running < self.threads:
                self._running += 1
                threading.Thread(target=self._serve, name="statcoder-model", daemon=True).start()
            self._ready.notify()
        return future

    def _next_key(self) -> Hashable | None:
        """The waiting key (not being coded) served least recently; None if there is none."""
        waiting = [k for k in self._queues if k not in self._busy]
        if not waiting:
            return None
        return min(waiting, key=lambda k: self._served.get(k, -1))

    def _take(self, key: Hashable) -> list[Item]:
        queue = self._queues[key]
        taken, n = [], 0
        while queue and (not taken or n + len(queue[0][0]) <= self.max_records):
            item = queue.popleft()
            taken.append(item)
            n += len(item[0])
        if not queue:
            del self._queues[key]
        return taken

    def _serve(self) -> None:
        while True:
            with self._ready:
                if not self._ready.wait_for(lambda: self._next_key() is not None, timeout=IDLE_EXIT_S):
                    self._running -= 1  # idle: retire (submit starts a new thread when needed)
                    return
                key = self._next_key()
                self._busy.add(key)
                self._turn += 1
                if len(self._served) > 10_000:
                    self._served.clear()
                self._served[key] = self._turn
            try:
                if self.wait_s:
                    threading.Event().wait(self.wait_s)  # let a burst of requests gather
                with self._ready:
                    batch = self._take(key)
                self._execute(batch)
            finally:
                with self._ready:
                    self._busy.discard(key)
                    self._ready.notify()

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
        if len(batch) == 1:
            batch[0][1].set_result(coded if not isinstance(coded, tuple) else list(coded))
            return
        start = 0
        for part, future, _ in batch:
            piece = coded[start : start + len(part)]
            future.set_result(list(piece) if isinstance(piece, tuple) else piece)
            start += len(part)

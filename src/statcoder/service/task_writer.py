"""Group commit of review/audit task rows from concurrent coding requests.

Each ``POST /code`` that queues tasks used to open its own write transaction; under load the
requests then queue on the database's write lock (SQLite has one per database) and every
commit pays its own round trip. Here one writer thread takes everything queued since its last
commit and inserts it in ONE transaction, then hands each request its task ids. A lone request
writes in its own thread (``write_now``, no hand-over) when nothing is queued or being written; under load the number of transactions grows with the writer's
pace, not with the request rate. If a shared transaction fails, the requests are retried one
by one so only the faulty one fails (the same rule as the micro-batcher).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from statcoder.store import Database
from statcoder.store.review import ReviewRepository
from statcoder.store.task_connection import TaskInserter

Rows = list[dict[str, Any]]
#: a write of up to this many rows goes in through the writer's kept connection (PostgreSQL: one
#: autocommitted INSERT ... unnest, no BEGIN/COMMIT round trips); larger groups through an ORM
#: session's transaction
KEPT_CONNECTION_ROWS = 500


class TaskWriter:
    """Inserts task rows of many requests per transaction; ``submit`` returns a future of the ids."""

    def __init__(self, db: Database, *, max_rows: int = 5000) -> None:
        self.db = db
        self.max_rows = max_rows
        self._pending: list[tuple[Rows, Future]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._writing = False  # a transaction of this writer is open (its thread's or write_now's)
        self._inserter = TaskInserter(db)  # used by one write at a time (the _writing flag)
        #: PostgreSQL: a second kept connection, for a light request's write beside a group commit
        self._beside = TaskInserter(db) if not db.is_sqlite else None
        self._beside_lock = threading.Lock()

    def submit(self, rows: Rows) -> Future:
        """Queue ``rows`` for insertion; the future yields their ids in order."""
        future: Future = Future()
        if not rows:
            future.set_result([])
            return future
        with self._ready:
            if self._closed:
                raise RuntimeError("the task writer is closed")
            self._pending.append((rows, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="statcoder-task-writer", daemon=True)
                self._thread.start()
            self._ready.notify()
        return future

    def write_now(self, rows: Rows, *, wait: bool = True,
                  meanwhile: Callable[[], object] | None = None) -> list[int] | None:
        """Insert ``rows`` in the caller's thread when nothing is queued or being written; else None.

        The lone request's path: no thread hand-over. ``wait=False`` also returns None instead of
        waiting for another process's write (SQLite's writers' turn): the path of another
        project's request while a busy project writes, which must not block the event loop.
        ``meanwhile`` (run only when the rows are written here, i.e. not when None is returned)
        runs while PostgreSQL executes the insert, after it on SQLite: the caller builds its
        answer during the round trip. Errors are raised to the caller.
        """
        with self._ready:
            if self._pending or self._writing or self._closed:
                return None
            self._writing = True
        try:
            with self.db.writer_turn(block=wait) as held:
                return self._insert(rows, meanwhile=meanwhile) if held else None
        finally:
            with self._ready:
                self._writing = False
                self._ready.notify()

    def write_beside(self, rows: Rows) -> list[int] | None:
        """Insert ``rows`` now, beside the group commit in progress; None where that cannot be.

        The path of a light project's request while a busy project's tasks are being written:
        on PostgreSQL, writes run side by side, so it need not wait for a group it has no part
        in. None on SQLite (one writer per file: the writers take turns), when the beside
        connection is in use, or for a write too large for it. Errors are raised to the caller.
        """
        if self._beside is None or len(rows) > KEPT_CONNECTION_ROWS or not self._beside.supported:
            return None
        if not self._beside_lock.acquire(blocking=False):
            return None
        try:
            if self._closed:
                return None
            return self._beside.insert(rows)
        finally:
            self._beside_lock.release()

    def _insert(self, rows: Rows, *, meanwhile: Callable[[], object] | None = None) -> list[int]:
        if len(rows) <= KEPT_CONNECTION_ROWS and self._inserter.supported:
            with self.db.writer_turn():  # held already by write_now; the group commit takes it here
                return self._inserter.insert(rows, meanwhile=meanwhile)
        with self.db.write() as session:
            ids = ReviewRepository(session).add_many(rows, return_ids=True)
        if meanwhile is not None:
            meanwhile()
        return ids

    def write(self, rows: Rows) -> list[int]:
        """Insert ``rows`` (with the next group) and return their ids; blocks."""
        return self.submit(rows).result()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the thread and give the kept connection back."""
        with self._ready:
            self._closed = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._ready:
            if self._ready.wait_for(lambda: not self._writing, timeout):
                self._inserter.close()
        if self._beside is not None and self._beside_lock.acquire(timeout=timeout):
            try:
                self._beside.close()
            finally:
                self._beside_lock.release()

    def _take(self) -> list[tuple[Rows, Future]]:
        taken, n = [], 0
        while self._pending and (not taken or n + len(self._pending[0][0]) <= self.max_rows):
            item = self._pending.pop(0)
            taken.append(item)
            n += len(item[0])
        return taken

    def _serve(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: (self._pending or self._closed) and not self._writing)
                if not self._pending:
                    self._thread = None
                    return
                group = self._take()
                self._writing = True
            try:
                self._commit(group)
            finally:
                with self._ready:
                    self._writing = False

    def _commit(self, group: list[tuple[Rows, Future]]) -> None:
        try:
            ids = self._insert([r for rows, _ in group for r in rows])
        except Exception as exc:  # noqa: BLE001 - retry one by one so only the faulty request fails
            if len(group) == 1:
                group[0][1].set_exception(exc)
                return
            for rows, future in group:
                try:
                    future.set_result(self._insert(rows))
                except Exception as item_exc:  # noqa: BLE001 - handed to the waiting request
                    future.set_exception(item_exc)
            return
        start = 0
        for rows, future in group:
            future.set_result(ids[start : start + len(rows)])
            start += len(rows)

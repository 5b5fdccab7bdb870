"""Review-task inserts through one database connection kept for them (the hot path of ``POST /code``).

A pooled connection per write costs a pool checkout (on PostgreSQL a pre-ping round trip),
an ORM session and SQLAlchemy's statement handling: for a 100-record request that queues 78
tasks, more than half of what the insert itself costs. The service's task writer does one
write at a time per process, so it keeps one DB-API connection and talks to the driver
directly:

* SQLite: ``BEGIN IMMEDIATE``, ids following the largest one, one ``executemany``, ``COMMIT``
  (the caller holds the writers' turn, :meth:`Database.writer_turn`);
* PostgreSQL (psycopg 3): one autocommitted ``INSERT ... unnest(...) RETURNING id`` with the
  column arrays in binary, atomic and durable when it returns.

A PostgreSQL connection idle for more than ``idle_ping_s``, or one the server has written to
while idle (it does so when it ends the session, e.g. on a restart: seen with one poll of the
socket, no round trip), is pinged before use (what the pool's pre-ping does on every checkout)
and replaced when the ping fails; a connection that broke during an insert is replaced at the
next one. Driver errors come out as SQLAlchemy's
(``sqlalchemy.exc.OperationalError`` ...), which the API answers as it answers any store error.
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

from statcoder.store.database import Database
from statcoder.store.review_insert import Rows, sqlite_insert, unnest_insert

log = logging.getLogger(__name__)


def _has_input(driver: Any) -> bool:
    """True when the server sent something to an idle connection (it does so when it ends the
    session: a FATAL message, then end of file); one poll of the socket, no round trip."""
    try:
        ready, _, _ = select.select([driver.pgconn.socket], [], [], 0)
    except Exception:  # noqa: BLE001 - no socket (closed connection) or an unusable one: check it
        return True
    return bool(ready)


class TaskInserter:
    """Insert task rows with their ids through a kept DB-API connection; one caller at a time."""

    def __init__(self, db: Database, *, idle_ping_s: float = 1.0) -> None:
        self.db = db
        self.idle_ping_s = idle_ping_s
        self._fairy: Any = None  # SQLAlchemy's pooled-connection proxy, checked out while kept
        self._used_at = 0.0
        dialect = db.engine.dialect
        self._kind = dialect.name if dialect.driver in ("pysqlite", "psycopg") else None

    @property
    def supported(self) -> bool:
        """True for SQLite (sqlite3) and PostgreSQL (psycopg 3); others use the ORM session."""
        return self._kind is not None

    def insert(self, rows: Rows, *, meanwhile: Callable[[], object] | None = None) -> list[int]:
        """Insert ``rows`` in one transaction; returns their ids in row order (ascending).

        ``meanwhile`` (optional) is run once: on PostgreSQL while the server executes the
        insert, on SQLite after it. Its exceptions are the caller's (the insert stands).
        """
        if not rows:
            if meanwhile is not None:
                meanwhile()
            return []
        driver = self._driver()
        try:
            if self._kind == "sqlite":
                ids = self._sqlite(driver, rows)
                if meanwhile is not None:
                    meanwhile()
                return ids
            return unnest_insert(driver, rows, meanwhile=meanwhile)
        except self.db.engine.dialect.loaded_dbapi.Error as exc:
            if self._broken(driver):
                self.close()
            raise DBAPIError.instance("INSERT INTO review_tasks", None, exc,
                                      self.db.engine.dialect.loaded_dbapi.Error) from exc
        finally:
            self._used_at = time.monotonic()

    def _sqlite(self, driver: Any, rows: Rows) -> list[int]:
        cursor = driver.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                start = cursor.execute("SELECT coalesce(max(id), 0) FROM review_tasks").fetchone()[0]
                ids = list(range(start + 1, start + len(rows) + 1))
                cursor.executemany(*sqlite_insert(self.db.engine.dialect, self.db.url, rows, ids))
                cursor.execute("COMMIT")
            except BaseException:
                if driver.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
            return ids
        finally:
            cursor.close()

    def _driver(self) -> Any:
        """Return the kept driver connection: opened on first use, pinged after idling, replaced when broken."""
        if self._fairy is not None and self._kind == "postgresql":
            driver = self._fairy.driver_connection
            if self._broken(driver):
                log.info("the review-task connection was broken; opening a new one")
                self.close()
            elif time.monotonic() - self._used_at > self.idle_ping_s or _has_input(driver):
                try:
                    driver.execute("SELECT 1")
                except self.db.engine.dialect.loaded_dbapi.Error as exc:
                    log.info("the database ended the review-task connection (%s); opening a new one",
                             type(exc).__name__)
                    self.close()
        if self._fairy is None:
            self._fairy = self.db.engine.raw_connection()
            if self._kind == "postgresql":
                self._fairy.driver_connection.autocommit = True
        return self._fairy.driver_connection

    def _broken(self, driver: Any) -> bool:
        if self._kind == "postgresql":
            return bool(driver.closed or driver.broken)
        return False

    def close(self) -> None:
        """Give the connection back (PostgreSQL: discarded, it was in autocommit); idempotent."""
        fairy, self._fairy = self._fairy, None
        if fairy is None:
            return
        try:
            if self._kind == "postgresql":
                fairy.invalidate()  # closed, not pooled: the pool's connections are never in autocommit
            else:
                fairy.close()
        except Exception as exc:  # noqa: BLE001 - closing a broken connection may fail; it is gone either way
            log.debug("closing the task connection failed (%s)", type(exc).__name__)

"""Engines, sessions and schema migrations for the service store.

SQLite runs in WAL mode (readers never block the writer) with ``BEGIN IMMEDIATE`` for write
transactions, so two writers queue on the busy timeout instead of failing on a stale snapshot.
Writers of a database file take turns through :class:`WriterTurn` first (a lock file the
kernel hands to the next waiter at once), so under load a write never sleeps in SQLite's busy
handler (1, 2, 5, 10, ... ms backoff) while another process's transaction is already over.
PostgreSQL is used through psycopg 3 (``postgresql+psycopg://...``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from statcoder.errors import ConfigurationError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def utc(moment: datetime | None) -> datetime | None:
    """Return ``moment`` as an aware UTC datetime (SQLite hands back naive ones), or None."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def make_engine(url: str, *, busy_timeout_s: float = 30.0,
                background_checkpoints: Callable[[], bool] | None = None) -> Engine:
    """Create an engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    A write waits at most ``busy_timeout_s`` for a lock (SQLite's busy timeout, PostgreSQL's
    ``lock_timeout``) and then fails with OperationalError, which the API answers with 503.
    SQLite connections opened while ``background_checkpoints()`` is true have automatic WAL
    checkpoints off (a :class:`Checkpointer` runs them). Raises ConfigurationError for a URL
    that SQLAlchemy cannot parse or a driver not supported.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            "the database URL cannot be parsed",
            where="STATCODER_DATABASE_URL",
            hint="use sqlite:///path/to/file.db or postgresql+psycopg://user@host:port/db",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite_files(Path(parsed.database))
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": busy_timeout_s}, pool_size=20,
            max_overflow=20,
        )
        _configure_sqlite(engine, busy_timeout_ms=int(busy_timeout_s * 1000),
                          background_checkpoints=background_checkpoints)
        return engine
    if parsed.get_backend_name() == "postgresql":
        lock_ms = int(busy_timeout_s * 1000)
        return create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True,
                             connect_args={"options": f"-c lock_timeout={lock_ms}"})
    raise ConfigurationError(
        f"unsupported database backend {parsed.get_backend_name()!r}",
        where="STATCODER_DATABASE_URL",
        hint="use SQLite (the default) or PostgreSQL via postgresql+psycopg://",
    )


def private_sqlite_files(database: Path) -> None:
    """Create the SQLite file (and its directory) readable by the service's user only.

    The file is created 0600 before SQLite opens it (SQLite gives its ``-wal`` and ``-shm``
    files the database's mode); existing files are narrowed to 0600. Review tasks hold record
    texts, so no other local user may read them.
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(database, os.O_CREAT | os.O_RDWR, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = database.with_name(database.name + suffix)
        try:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
        except FileNotFoundError:
            pass


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int = 30000,
                      background_checkpoints: Callable[[], bool] | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so BEGIN can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if background_checkpoints is not None and background_checkpoints():  # a Checkpointer does them
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


class Checkpointer:
    """Background WAL checkpoints of a SQLite database, so no commit pays for one.

    SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages: that
    request pays for copying the WAL into the database and its fsync. Here a daemon thread runs
    ``PRAGMA wal_checkpoint(PASSIVE)`` (never waits for readers or writers) every
    ``interval_s`` on its own connection; the engine's connections have automatic checkpoints
    off. Committed data is in the WAL either way: checkpoints change nothing about durability.
    """

    def __init__(self, engine: Engine, *, interval_s: float = 0.5) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.checkpoints = 0  # completed checkpoints; read by tests
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="statcoder-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                connection = self.engine.raw_connection()
                try:
                    connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                finally:
                    connection.close()
            except Exception as exc:  # noqa: BLE001 - retried at the next interval; never fatal
                log.warning("WAL checkpoint failed (%s); retrying", type(exc).__name__)

    def stop(self) -> None:
        """Stop the thread after one last checkpoint."""
        self._stop.set()
        self._thread.join(5)
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # noqa: BLE001 - the next opener checkpoints
            log.warning("last WAL checkpoint failed (%s)", type(exc).__name__)


try:  # POSIX; elsewhere SQLite writers wait in SQLite's busy handler as before
    import fcntl  # noqa: F401

    _HAS_FLOCK = True
except ImportError:  # pragma: no cover - Windows
    _HAS_FLOCK = False


class WriterTurn:
    """One writer at a time per SQLite file across threads and processes, woken as soon as the
    previous transaction ends (``flock`` on ``<database>-writers.lock``).

    SQLite's own lock is taken without waiting and retried after growing sleeps (its busy
    handler): a write finding the lock busy sleeps 1 + 2 + 5 + 10 ms ... even when the holder's
    transaction took one millisecond. Waiting here instead blocks in the kernel until the lock
    file is released. SQLite's busy timeout still bounds a transaction that meets a lock held
    outside the service (a backup, a sqlite3 shell): that write fails as before (503).
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._threads = threading.Lock()  # flock is per open file: threads of a process queue here

    def acquire(self, *, block: bool = True) -> bool:
        """Take the turn (waiting for it, or only if free with ``block=False``); True when taken."""
        import fcntl

        if not self._threads.acquire(blocking=block):
            return False
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            self._threads.release()
            return False
        except BaseException:
            self._threads.release()
            raise
        return True

    def release(self) -> None:
        """Give the turn to the next writer."""
        import fcntl

        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        """Close the lock file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class Database:
    """An engine plus two session factories: ``read()`` and ``write()`` transactions."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0) -> None:
        self.url = url
        #: WAL checkpoints off the commit path (SQLite files of a server process; start_checkpoints)
        self.checkpointer: Checkpointer | None = None
        self.engine = make_engine(url, busy_timeout_s=busy_timeout_s,
                                  background_checkpoints=lambda: self.checkpointer is not None)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)
        database = self.engine.url.database if self.is_sqlite else None
        #: SQLite files: writers take turns here before BEGIN IMMEDIATE (see WriterTurn)
        self.turn = (WriterTurn(Path(f"{database}-writers.lock"))
                     if database not in (None, "", ":memory:") and _HAS_FLOCK else None)
        self._depth = threading.local()  # nested write() calls of a thread hold the turn once

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reads; never committed. Loaded objects stay usable after it closes."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Yield a session in one write transaction, committed on success, rolled back on error."""
        with self.writer_turn(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def writer_turn(self, *, block: bool = True) -> Iterator[bool]:
        """Hold the SQLite writers' turn for the body (see :class:`WriterTurn`); yields True when held.

        ``block=False`` does not wait: it yields False when another writer has the turn. Write
        transactions of the body (``write()``) run within the turn held; other databases have no
        turn and always yield True.
        """
        if self.turn is None or getattr(self._depth, "n", 0):
            yield True
            return
        if not self.turn.acquire(block=block):
            yield False
            return
        self._depth.n = 1
        try:
            yield True
        finally:
            self._depth.n = 0
            self.turn.release()

    def ping(self) -> bool:
        """Return True when the database answers ``SELECT 1``."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    def upgrade(self) -> None:
        """Bring the schema to the latest Alembic revision (creates it in an empty database)."""
        upgrade(self.engine)

    def start_checkpoints(self, *, interval_s: float = 0.5) -> None:
        """Run WAL checkpoints in a background thread from now on (SQLite files; else nothing).

        Pooled connections are reopened so that every connection has automatic checkpoints off.
        """
        if not self.is_sqlite or self.checkpointer is not None or self.engine.url.database in (None, "", ":memory:"):
            return
        self.checkpointer = Checkpointer(self.engine, interval_s=interval_s)
        self.engine.dispose()

    def dispose(self) -> None:
        """Stop background checkpoints and close every pooled connection (the writers' lock file stays open)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.engine.dispose()


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic config pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` on ``engine``."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the Alembic revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

"""Bulk insert of review tasks with their ids, in one statement (the hot path of ``POST /code``).

The ids are allocated first and written explicitly, so the rows go in at once: no RETURNING,
which SQLAlchemy runs row by row on SQLite to keep the order. On SQLite the rows go straight
to the driver's ``executemany`` with SQLAlchemy's own value conversions (its statement
compilation and per-row parameter handling cost more than the insert itself).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from statcoder.store import pg_arrays
from statcoder.store.tables import ReviewTask

Rows = list[dict[str, Any]]
TASKS = ReviewTask.__table__
#: PostgreSQL: up to this many rows go in through one INSERT ... unnest (one round trip), more
#: through nextval + COPY (cheaper per row, more round trips)
UNNEST_ROWS = 16


def insert_with_ids(session: Session, rows: Rows) -> list[int]:
    """Insert task rows in one bulk operation inside the session's write transaction; returns their ids.

    On PostgreSQL a few rows go in through one ``INSERT ... SELECT FROM unnest(...) RETURNING id``
    (one round trip); more get their ids from the table's sequence (``nextval``, safe beside
    concurrent writers), then one ``COPY`` (psycopg 3; one executemany with other drivers); on SQLite they
    follow the largest id, with one executemany, which is safe because the write transaction
    (``BEGIN IMMEDIATE``, :meth:`Database.write`) holds the database's write lock until commit.
    Ids ascend in row order.
    """
    if not rows:
        return []
    n = len(rows)
    if session.get_bind().dialect.name == "postgresql":
        ids = _pg_unnest(session, rows) if n <= UNNEST_ROWS else None
        if ids is not None:
            return ids
        ids = sorted(session.scalars(text(
            "SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
            {"sequence": _sequence(session), "n": n}))
        if _copy(session, rows, ids):
            return ids
    else:
        start = session.scalar(select(func.coalesce(func.max(TASKS.c.id), 0)))
        ids = list(range(start + 1, start + n + 1))
        if session.get_bind().dialect.name == "sqlite" and _sqlite_executemany(session, rows, ids):
            return ids
    session.execute(insert(TASKS), [{**row, "id": task_id} for row, task_id in zip(rows, ids, strict=True)])
    return ids


_SEQUENCES: dict[str, str] = {}


def _sequence(session: Session) -> str:
    """Return the name of the PostgreSQL sequence behind ``review_tasks.id`` (looked up once per database)."""
    url = str(session.get_bind().url)
    if url not in _SEQUENCES:
        _SEQUENCES[url] = session.scalar(text("SELECT pg_get_serial_sequence('review_tasks', 'id')"))
    return _SEQUENCES[url]


def _copy(session: Session, rows: Rows, ids: list[int]) -> bool:
    """Write ``rows`` with ids through PostgreSQL ``COPY`` on the session's connection; False if unsupported."""
    driver = session.connection().connection.driver_connection
    cursor = driver.cursor()
    if not hasattr(cursor, "copy"):  # not psycopg 3
        cursor.close()
        return False
    cursor.close()
    _copy_rows(driver, rows, ids)
    return True


def _task_columns(rows: Rows) -> list[str]:
    """Return the review_tasks columns the rows carry, in first-seen order; ValueError (a
    programming error, never user input) for a key that is not a column."""
    first = rows[0].keys()
    if all(row.keys() == first for row in rows):  # the usual case: every row has the same columns
        columns = list(first)
    else:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    unknown = [c for c in columns if c not in TASKS.c]
    if unknown:
        raise ValueError(f"unknown review task column(s): {', '.join(unknown)}")
    return columns


def _row_values(rows: Rows, columns: list[str] | tuple[str, ...]) -> list[tuple]:
    """Return each row's values in ``columns`` order (None where a row lacks a column); one C
    call per row when every row has every column (the usual case)."""
    if all(len(row) == len(columns) for row in rows):
        get = itemgetter(*columns)
        return [get(row) for row in rows] if len(columns) > 1 else [(get(row),) for row in rows]
    return [tuple(row.get(c) for c in columns) for row in rows]


def _copy_rows(driver: Any, rows: Rows, ids: list[int]) -> None:
    """``COPY`` ``rows`` with ``ids`` into review_tasks on a psycopg 3 connection."""
    columns = _task_columns(rows)
    names = ", ".join(f'"{c}"' for c in ("id", *columns))
    with driver.cursor() as cursor, cursor.copy(f"COPY review_tasks ({names}) FROM STDIN") as copy:
        for values, task_id in zip(_row_values(rows, columns), ids, strict=True):
            copy.write_row((task_id, *values))


_PROCESSORS: dict[tuple[str, tuple[str, ...]], tuple[str, list]] = {}


def _sqlite_executemany(session: Session, rows: Rows, ids: list[int]) -> bool:
    """Insert ``rows`` with ``ids`` through the sqlite3 driver's ``executemany``; False if not sqlite3."""
    driver = session.connection().connection.driver_connection
    if not hasattr(driver, "executemany") or type(driver).__module__ != "sqlite3":
        return False
    driver.executemany(*sqlite_insert(session.get_bind().dialect, str(session.get_bind().url), rows, ids))
    return True


def sqlite_insert(dialect: Any, url: str, rows: Rows, ids: list[int]) -> tuple[str, list[tuple]]:
    """Return (INSERT statement, parameter rows) for the sqlite3 driver's ``executemany``.

    Values are converted by the columns' own SQLAlchemy bind processors (e.g. aware datetimes to
    the text SQLAlchemy stores), so the rows read back exactly as if SQLAlchemy wrote them.
    """
    columns = tuple(_task_columns(rows))
    key = (url, columns)
    if key not in _PROCESSORS:
        names = ", ".join(f'"{c}"' for c in ("id", *columns))
        marks = ", ".join("?" for _ in range(len(columns) + 1))
        _PROCESSORS[key] = (f"INSERT INTO review_tasks ({names}) VALUES ({marks})",
                            [TASKS.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns])
    sql, processors = _PROCESSORS[key]
    convert = [(k + 1, fn) for k, fn in enumerate(processors) if fn is not None]  # +1: after the id
    values = [(task_id, *row) for row, task_id in zip(_row_values(rows, columns), ids, strict=True)]
    if convert:
        done: dict[tuple[int, int], Any] = {}  # (column, id of value) -> converted (e.g. one created_at)
        for r, value_row in enumerate(values):
            converted = list(value_row)
            for k, fn in convert:
                value = converted[k]
                if value is not None:
                    memo = (k, id(value))
                    if memo not in done:
                        done[memo] = (value, fn(value))  # the value is kept alive: its id stays unique
                    converted[k] = done[memo][1]
            values[r] = tuple(converted)
    return sql, values


#: PostgreSQL element type of each column type the review-task table uses (others: text)
_PG_TYPES = {"INTEGER": "int4", "FLOAT": "float8", "DATETIME": "timestamptz"}
_ENCODED: weakref.WeakSet = weakref.WeakSet()  # psycopg connections that pass pg_arrays' parameters


def _pg_unnest(session: Session, rows: Rows) -> list[int] | None:
    """Insert ``rows`` in ONE statement (one round trip): column arrays, ``unnest``, ids drawn in row
    order by the table's default, ``RETURNING id``; returns the ids in row order. None if not psycopg 3.

    The rows are numbered (``WITH ORDINALITY``) and inserted in that order, so the sequence hands
    out ascending ids in row order; the returned ids are sorted to be independent of the order
    ``RETURNING`` lists them in.
    """
    driver = session.connection().connection.driver_connection
    if type(driver).__module__.split(".")[0] != "psycopg":
        return None
    return unnest_insert(driver, rows)


def unnest_insert(driver: Any, rows: Rows, *, meanwhile: Callable[[], object] | None = None) -> list[int]:
    """ONE ``INSERT ... SELECT FROM unnest(column arrays) WITH ORDINALITY ... RETURNING id`` on a
    psycopg 3 connection; the arrays travel in binary (no text parsing in the server); returns
    the ids in row order.

    ``meanwhile`` (optional) runs while the server executes the statement (sent in pipeline
    mode, its result read afterwards): the caller's own work overlaps the round trip.
    """
    sql, values = _unnest_statement(driver, rows)
    with driver.cursor() as cursor:
        if meanwhile is None:
            cursor.execute(sql, values)
            return sorted(r[0] for r in cursor.fetchall())
        with driver.pipeline() as pipeline:
            cursor.execute(sql, values)  # sent; the server works while the caller does
            meanwhile()
            pipeline.sync()
            return sorted(r[0] for r in cursor.fetchall())


def _unnest_statement(driver: Any, rows: Rows) -> tuple[str, list]:
    """Return (INSERT ... unnest statement, parameters) for ``rows``.

    A column holding the same object in every row (the project, the model version, the
    status, the creation time of one request's tasks) goes as one scalar parameter; the others
    as binary arrays (:mod:`statcoder.store.pg_arrays`), so neither the driver nor the server
    handles a value per row that one value would do.
    """
    if driver not in _ENCODED:
        pg_arrays.register(driver)
        _ENCODED.add(driver)
    columns = _task_columns(rows)
    by_column = list(zip(*_row_values(rows, columns), strict=True))
    shared = [len(rows) > 1 and all(v is col[0] for v in col) for col in by_column]
    if all(shared):  # identical rows: unnest needs one array
        shared[0] = False
    items, arrays, unnested, scalars, encoded = [], [], [], [], []
    for name, col, one in zip(columns, by_column, shared, strict=True):
        kind = _PG_TYPES.get(type(TASKS.c[name].type).__name__.upper(), "text")
        if one:
            items.append(f"%s::{kind}")
            scalars.append(col[0])
            continue
        items.append(f't."{name}"')
        unnested.append(f'"{name}"')
        arrays.append(f"%b::{kind}[]")
        encoded.append(pg_arrays.encode(kind, col) if kind in pg_arrays.KINDS else list(col))
    names = ", ".join(f'"{c}"' for c in columns)
    sql = (f"INSERT INTO review_tasks ({names}) SELECT {', '.join(items)} FROM unnest({', '.join(arrays)}) "
           f"WITH ORDINALITY AS t({', '.join(unnested)}, row_number) ORDER BY row_number RETURNING id")
    return sql, scalars + encoded

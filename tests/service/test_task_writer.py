"""Group commit of review tasks: ids go back to the right request; one bad request fails alone."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from statcoder.service import projects
from statcoder.store import utcnow
from statcoder.store.review import ReviewRepository


def _row(project_id: str, record_id: str) -> dict:
    return {"project_id": project_id, "job_id": None, "record_id": record_id, "text": f"text {record_id}",
            "reason": "review", "predicted_code": "11", "predicted_level": 2, "confidence": 0.5,
            "decision": "review", "candidates": "[]", "model_version": "m", "status": "open", "created_at": utcnow()}


def test_concurrent_requests_get_their_own_task_ids(ctx, classification_csv):
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    results: dict[int, list[int]] = {}
    barrier = threading.Barrier(12)

    def request(i: int) -> None:
        barrier.wait()
        results[i] = ctx.task_writer.write([_row("lfs", f"{i}-{j}") for j in range(i % 3 + 1)])

    threads = [threading.Thread(target=request, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with ctx.db.read() as session:
        repo = ReviewRepository(session)
        for i, ids in results.items():
            assert [repo.get("lfs", task_id).record_id for task_id in ids] == [f"{i}-{j}" for j in range(i % 3 + 1)]
    assert len({task_id for ids in results.values() for task_id in ids}) == sum(i % 3 + 1 for i in range(12))


def test_a_failing_request_does_not_fail_the_others_in_its_group(ctx, classification_csv):
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    good = [ctx.task_writer.submit([_row("lfs", "a")]), None, ctx.task_writer.submit([_row("lfs", "b")])]
    good[1] = ctx.task_writer.submit([_row("no-such-project", "x")])  # foreign key violation
    assert len(good[0].result(30)) == 1 and len(good[2].result(30)) == 1
    with pytest.raises(Exception):  # noqa: B017 - the store's integrity error, whichever driver
        good[1].result(30)


@pytest.mark.parametrize("n", [3, 40, 600])  # kept connection (binary unnest on PostgreSQL); past 500 rows a session
def test_the_bulk_insert_reads_back_as_the_orm_would_have_written_it(ctx, classification_csv, n):
    """SQLite's driver-level executemany and PostgreSQL's unnest/COPY store what an ORM insert stores."""
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    rows = [_row("lfs", f"r{i}") | {"fields": '{"age": "41"}' if i else None, "margin": 0.25 * i}
            for i in range(n)]
    ids = ctx.task_writer.write(rows)
    assert ids == sorted(ids) and len(set(ids)) == n
    _stored(ctx, "lfs", ids, rows)


def _stored(ctx, project_id: str, ids: list[int], rows: list[dict]) -> None:
    with ctx.db.read() as session:
        repo = ReviewRepository(session)
        for task_id, row in zip(ids, rows, strict=True):
            task = repo.get(project_id, task_id)
            for name, value in row.items():
                stored = getattr(task, name)
                if name == "created_at":
                    assert stored.replace(tzinfo=None) == value.replace(tzinfo=None)
                else:
                    assert stored == value, name


def test_values_shared_by_every_row_and_values_that_vary_read_back_exactly(ctx, classification_csv):
    """On PostgreSQL a value every row shares goes as one scalar and the rest as binary arrays:
    NULLs, non-ASCII text, the empty string, signed and fractional numbers read back as sent."""
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    now = utcnow()  # one object for every row: a shared scalar
    texts = ["Krankenpfleger*in", "", "éàü – 医生 🚑", "a\tb\nc", "x" * 5000]
    rows = [_row("lfs", f"r{i}") | {"created_at": now, "text": texts[i % len(texts)],
                                     "record_id": None if i % 4 == 0 else f"r{i}",
                                     "predicted_level": (i % 4) + 1, "confidence": i / 7 - 1.0,
                                     "margin": None if i % 3 == 0 else -0.5 * i}
            for i in range(12)]
    _stored(ctx, "lfs", ctx.task_writer.write(rows), rows)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_identical_rows_and_a_single_row_are_stored(ctx, classification_csv, n):
    """Every column shared (the same row object repeated), or one row: nothing varies to unnest."""
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    row = _row("lfs", "same")
    ids = ctx.task_writer.write([row] * n)
    assert ids == sorted(ids) and len(set(ids)) == n
    _stored(ctx, "lfs", ids, [row] * n)


def test_write_now_writes_in_the_caller_s_thread_only_when_the_writer_is_idle(ctx, classification_csv):
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    ids = ctx.task_writer.write_now([_row("lfs", "alone")])
    assert ids is not None and ctx.task_writer._thread is None  # no writer thread was needed
    ctx.task_writer._writing = True  # as while the writer thread commits a group
    try:
        assert ctx.task_writer.write_now([_row("lfs", "busy")]) is None
    finally:
        ctx.task_writer._writing = False
    with ctx.db.read() as session:
        assert ReviewRepository(session).get("lfs", ids[0]).record_id == "alone"


def test_sqlite_writers_take_turns_across_processes_and_a_light_write_never_waits(ctx, classification_csv):
    from statcoder.store import Database

    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    if ctx.db.turn is None:  # PostgreSQL: no writers' turn; the write goes in at once
        assert ctx.task_writer.write_now([_row("lfs", "pg")], wait=False) is not None
        return
    other = Database(ctx.db.url)  # another server process's handle on the same file
    try:
        with other.writer_turn() as held:
            assert held
            with ctx.db.writer_turn(block=False) as mine:
                assert not mine  # taken elsewhere: not ours until released
            # a light request's write does not wait on the event loop: None, the group commit takes it
            assert ctx.task_writer.write_now([_row("lfs", "x")], wait=False) is None
            done = ctx.task_writer.submit([_row("lfs", "y")])
            assert not done.done()  # the writer thread waits for its turn ...
        assert len(done.result(timeout=30)) == 1  # ... and writes once the turn is free
        with other.write() as session:  # write() holds the turn; nested writes in the thread hold it once
            with other.writer_turn(block=False) as again:
                assert again
            session.execute(text("SELECT 1"))
        ids = ctx.task_writer.write_now([_row("lfs", "z")], wait=False)
        assert ids is not None and len(ids) == 1
    finally:
        other.turn.close()
        other.dispose()


def test_a_light_write_goes_in_beside_a_group_commit_on_postgresql_only(ctx, classification_csv):
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    ctx.task_writer._writing = True  # as while the writer thread commits a busy project's group
    try:
        assert ctx.task_writer.write_now([_row("lfs", "light")], wait=False) is None
        ids = ctx.task_writer.write_beside([_row("lfs", "light")])
    finally:
        ctx.task_writer._writing = False
    if ctx.db.is_sqlite:  # one writer per file: the light request's rows join the group commit
        assert ids is None
        return
    assert ids is not None and len(ids) == 1
    with ctx.db.read() as session:
        assert ReviewRepository(session).get("lfs", ids[0]).record_id == "light"
    with ctx.task_writer._beside_lock:  # the beside connection in use: not waited for
        assert ctx.task_writer.write_beside([_row("lfs", "other")]) is None


def test_the_kept_connection_survives_a_failed_insert_and_reports_a_store_error(ctx, classification_csv):
    from sqlalchemy.exc import IntegrityError

    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    with pytest.raises(IntegrityError):  # a foreign-key violation comes out as SQLAlchemy's error
        ctx.task_writer.write_now([_row("no-such-project", "x")])
    ids = ctx.task_writer.write_now([_row("lfs", "after")])  # the same kept connection, usable again
    with ctx.db.read() as session:
        assert ReviewRepository(session).get("lfs", ids[0]).record_id == "after"
        assert session.scalar(text("SELECT count(*) FROM review_tasks WHERE project_id = 'no-such-project'")) == 0


def test_a_kept_connection_the_server_dropped_is_replaced(ctx, classification_csv, caplog):
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    inserter = ctx.task_writer._inserter
    ctx.task_writer.write_now([_row("lfs", "first")])
    kept = inserter._fairy.driver_connection
    ctx.task_writer.write_now([_row("lfs", "second")])
    assert inserter._fairy.driver_connection is kept  # one connection for the writes, not one each
    if ctx.db.is_sqlite:
        return
    pid = kept.info.backend_pid
    with ctx.db.engine.connect() as conn:  # as when PostgreSQL restarts or an operator ends the session
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    inserter._used_at -= inserter.idle_ping_s + 1  # idle long enough to be pinged before use
    ids = ctx.task_writer.write_now([_row("lfs", "after restart")])
    assert inserter._fairy.driver_connection is not kept
    with ctx.db.read() as session:
        assert ReviewRepository(session).get("lfs", ids[0]).record_id == "after restart"
    from sqlalchemy.exc import OperationalError

    kept = inserter._fairy.driver_connection
    with ctx.db.engine.connect() as conn:  # dropped between two writes, too soon for a timed ping:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": kept.info.backend_pid})
    time.sleep(0.2)  # the server's goodbye (FATAL, then end of file) reaches the socket
    with caplog.at_level("INFO", logger="statcoder.store.task_connection"):
        ids = ctx.task_writer.write_now([_row("lfs", "seen dropped")])  # noticed without a round trip
    assert inserter._fairy.driver_connection is not kept and len(ids) == 1
    assert "ended the review-task connection (AdminShutdown)" in caplog.text  # operators see why

    kept = inserter._fairy.driver_connection
    kept.execute("SET lock_timeout = '100ms'")  # instead of the 30 s STATCODER_DB_BUSY_TIMEOUT_SECONDS
    with ctx.db.engine.begin() as conn:  # the table locked by someone else for longer than that
        conn.execute(text("LOCK TABLE review_tasks IN EXCLUSIVE MODE"))
        with pytest.raises(OperationalError):  # SQLAlchemy's error: the API answers 503 with Retry-After
            ctx.task_writer.write_now([_row("lfs", "locked out")])
    assert ctx.task_writer.write_now([_row("lfs", "retried")]) is not None
    assert inserter._fairy.driver_connection is kept  # a store error does not cost the connection


@pytest.mark.parametrize("n", [0, 2, 600])  # nothing to write, the kept connection, a session
def test_work_meanwhile_runs_once_with_the_write_and_not_when_the_write_is_not_taken(ctx, classification_csv, n):
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    calls = []
    ids = ctx.task_writer.write_now([_row("lfs", f"m{i}") for i in range(n)], meanwhile=lambda: calls.append(1))
    assert calls == [1] and len(ids) == n
    with ctx.db.read() as session:
        assert [ReviewRepository(session).get("lfs", i).record_id for i in ids] == [f"m{i}" for i in range(n)]
    ctx.task_writer._writing = True  # busy: the caller does its work itself, after None
    try:
        assert ctx.task_writer.write_now([_row("lfs", "x")], meanwhile=lambda: calls.append(2)) is None
    finally:
        ctx.task_writer._writing = False
    assert calls == [1]

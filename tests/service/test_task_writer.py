"""Group commit of review tasks: ids go back to the right request; one bad request fails alone."""

from __future__ import annotations

import threading

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


@pytest.mark.parametrize("n", [3, 40])  # PostgreSQL: one INSERT ... unnest, then nextval + COPY
def test_the_bulk_insert_reads_back_as_the_orm_would_have_written_it(ctx, classification_csv, n):
    """SQLite's driver-level executemany and PostgreSQL's unnest/COPY store what an ORM insert stores."""
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    rows = [_row("lfs", f"r{i}") | {"fields": '{"age": "41"}' if i else None, "margin": 0.25 * i}
            for i in range(n)]
    ids = ctx.task_writer.write(rows)
    assert ids == sorted(ids) and len(set(ids)) == n
    with ctx.db.read() as session:
        repo = ReviewRepository(session)
        for task_id, row in zip(ids, rows, strict=True):
            task = repo.get("lfs", task_id)
            for name, value in row.items():
                stored = getattr(task, name)
                if name == "created_at":
                    assert stored.replace(tzinfo=None) == value.replace(tzinfo=None)
                else:
                    assert stored == value, name


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

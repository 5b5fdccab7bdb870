"""Group commit of review tasks: ids go back to the right request; one bad request fails alone."""

from __future__ import annotations

import threading

import pytest

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

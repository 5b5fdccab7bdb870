"""A request alone in its process is coded and its tasks written without thread hand-overs;
SQLite WAL checkpoints run in the background; accepted review tasks survive kill -9."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from apikit import make_tenant
from sqlalchemy import create_engine, text

from statcoder.service.context import ServiceContext
from statcoder.service.settings import ServiceSettings

TEXTS = ["baker bread oven", "butcher meat", "zz qq unknown words", "carpenter wood", "qq xx yy"]


def _body(i: int, n: int = 1) -> dict:
    return {"records": [{"id": f"{i}-{j}", "text": TEXTS[(i + j) % len(TEXTS)]} for j in range(n)]}


def test_a_lone_request_is_answered_without_the_model_and_writer_threads(client, ctx, tenant):
    calls = ctx.batcher.calls
    for i in range(6):
        response = client.post(f"/v1/projects/{tenant.id}/code", json=_body(i, n=3), headers=tenant.headers("code"))
        assert response.status_code == 200
    # coded and written on the event loop: neither the model thread nor the writer thread ran
    assert ctx.batcher._running == 0 and ctx.task_writer._thread is None
    assert ctx.batcher.calls == calls + 6
    queued = [r["review_task_id"] for r in response.json()["records"] if r["review_task_id"] is not None]
    listed = client.get(f"/v1/projects/{tenant.id}/review/tasks", params={"limit": 500},
                        headers=tenant.headers("review")).json()
    assert set(queued) <= {t["id"] for t in listed["tasks"]}


def test_concurrent_requests_still_share_model_calls_and_get_their_own_answers(client, ctx, tenant):
    def post(i: int):
        return client.post(f"/v1/projects/{tenant.id}/code", json=_body(i, n=2), headers=tenant.headers("code"))

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(24)))
    assert all(r.status_code == 200 for r in responses)
    for i, r in enumerate(responses):
        assert [rec["id"] for rec in r.json()["records"]] == [f"{i}-0", f"{i}-1"]
    task_ids = [rec["review_task_id"] for r in responses for rec in r.json()["records"] if rec["review_task_id"]]
    assert len(task_ids) == len(set(task_ids))


def test_sqlite_wal_checkpoints_run_in_the_background(tmp_path):
    ctx = ServiceContext(ServiceSettings(data_dir=tmp_path / "data"))
    ctx.start()
    try:
        checkpointer = ctx.db.checkpointer
        assert checkpointer is not None
        with ctx.db.engine.connect() as conn:  # the service's connections never checkpoint on commit
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        deadline = time.monotonic() + 30
        while checkpointer.checkpoints == 0:
            assert time.monotonic() < deadline, "no background checkpoint"
            time.sleep(0.05)
    finally:
        ctx.close()
    assert ctx.db.checkpointer is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_review_tasks_of_answered_requests_survive_kill_9(tmp_path, model_dir, db_url):
    """Every review_task_id in a 200 answer is in the database after the server is killed with -9."""
    data = tmp_path / "data"
    setup = ServiceContext(ServiceSettings(data_dir=data, database_url=db_url))
    setup.start()
    tenant = make_tenant(setup, "alpha", tmp_path / "cls", model_dir)
    setup.close()
    port = _free_port()
    env = {**os.environ, "STATCODER_PRELOAD_MODELS": "false", "STATCODER_DATABASE_URL": db_url}
    command = [str(Path(sys.executable).parent / "statcoder"), "serve", "--port", str(port), "--data-dir", str(data)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1/projects/alpha/code"
    answered: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.3)
        with httpx.Client(timeout=60) as http:
            for i in range(10):  # one at a time: the lone path (written on the event loop)
                r = http.post(base, json=_body(i, n=5), headers=tenant.headers("code"))
                assert r.status_code == 200
                answered += [rec["review_task_id"] for rec in r.json()["records"] if rec["review_task_id"]]

        def post(i: int) -> list[int]:  # concurrent: the group-commit path
            with httpx.Client(timeout=60) as http:
                r = http.post(base, json=_body(i, n=3), headers=tenant.headers("code"))
                assert r.status_code == 200
                return [rec["review_task_id"] for rec in r.json()["records"] if rec["review_task_id"]]

        with ThreadPoolExecutor(8) as pool:
            for ids in pool.map(post, range(100, 140)):
                answered += ids
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)
    assert answered
    engine = create_engine(db_url)
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(text("SELECT id FROM review_tasks"))}
    engine.dispose()
    assert set(answered) <= stored

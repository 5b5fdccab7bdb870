"""Reproducible 500s of the red-team run are now 4xx/503 JSON errors (issue 15)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import contextmanager

import pandas as pd
from apikit import error_code

from statcoder.service.context import ServiceContext

SURROGATE = "\\ud800"  # a JSON escape of a lone surrogate: valid JSON, not valid UTF-8 text


def _post_raw(client, url, tenant, scope, body: str):
    return client.post(url, content=body.encode(), headers={**tenant.headers(scope), "Content-Type": "application/json"})


def test_a_lone_surrogate_in_any_field_is_a_422(client, ctx, tenant):
    base = f"/v1/projects/{tenant.id}"
    cases = [
        (f"{base}/code", "code", '{"records": [{"id": "1", "text": "baker SUR"}]}'),
        (f"{base}/code", "code", '{"records": [{"id": "1", "text": "baker", "xSUR": "a"}]}'),
        (f"{base}/code", "code", '{"records": [{"id": "SUR", "text": "baker"}]}'),
        (f"{base}/code", "code", '{"records": [{"id": "1", "text": "baker"}], "text_columns": ["tSUR"]}'),
        (f"{base}/jobs/from-path", "code", '{"path": "/tmp/SUR.csv"}'),
        (f"{base}/keys", "admin", '{"name": "kSUR", "scopes": ["code"]}'),
    ]
    for url, scope, body in cases:
        r = _post_raw(client, url, tenant, scope, body.replace("SUR", SURROGATE))
        assert r.status_code == 422, (url, body, r.status_code, r.text)
        assert error_code(r) == "invalid_input", (url, body, r.text)  # one code for a bad value, wherever it is
    # the connection and the server are fine afterwards
    assert client.post(f"{base}/code", json={"records": [{"text": "baker"}]},
                       headers=tenant.headers("code")).status_code == 200


def test_training_on_two_or_three_rows_is_a_422(client, tenant):
    for n in (2, 3):
        frame = pd.DataFrame({"text": ["baker bread", "carpenter wood", "butcher meat"][:n], "code": ["11", "21", "12"][:n]})
        r = client.post(f"/v1/projects/{tenant.id}/models/train", headers=tenant.headers("admin"),
                        files={"file": ("train.csv", frame.to_csv(index=False).encode())})
        assert r.status_code == 422 and error_code(r) == "invalid_input", r.text


@contextmanager
def another_writer_holds_the_lock(db_url: str, project_id: str):
    """Hold a write lock from another connection: SQLite's database-wide lock, PostgreSQL's row lock."""
    if db_url.startswith("sqlite"):
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as other:
        other.execute(text("SELECT id FROM projects WHERE id = :p FOR UPDATE"), {"p": project_id})
        try:
            yield
        finally:
            other.rollback()
    engine.dispose()


def test_a_write_locked_database_is_a_503_with_retry_after(client, ctx, tenant, db_url):
    from statcoder.store import Database

    ctx.db.engine.dispose()
    ctx.settings.db_busy_timeout_seconds = 0.2  # SQLite busy timeout / PostgreSQL lock_timeout
    ctx.db = Database(ctx.db.url, busy_timeout_s=0.2)
    with another_writer_holds_the_lock(ctx.db.url, tenant.id):
        r = client.patch(f"/v1/projects/{tenant.id}", json={"audit_rate": 0.5}, headers=tenant.headers("admin"))
        assert r.status_code == 503 and error_code(r) == "store_unavailable", r.text
        assert r.headers["Retry-After"] == "5"
        reads = client.get(f"/v1/projects/{tenant.id}", headers=tenant.headers("admin"))
        assert reads.status_code == 200  # readers are not blocked
    r = client.patch(f"/v1/projects/{tenant.id}", json={"audit_rate": 0.5}, headers=tenant.headers("admin"))
    assert r.status_code == 200


def test_a_server_started_while_the_database_is_locked_waits_for_it(tmp_path):
    from statcoder.service.settings import ServiceSettings

    db_path = tmp_path / "data" / "statcoder.db"
    db_path.parent.mkdir()
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_tool (x)")  # e.g. a restore still writing
    release = threading.Timer(1.5, lambda: (holder.execute("COMMIT"), holder.close()))
    release.start()
    ctx = ServiceContext(ServiceSettings(data_dir=tmp_path / "data", db_busy_timeout_seconds=0.2,
                                         startup_retry_seconds=30))
    started = time.monotonic()
    try:
        ctx.start()  # before: OperationalError ("database is locked") and the server exited
        assert time.monotonic() - started >= 1.0
        from statcoder.store.database import current_revision

        assert current_revision(ctx.db.engine) is not None
    finally:
        release.join()
        ctx.close()


def test_an_unexpected_fault_is_a_json_500_logged_without_its_message(client, tenant, caplog, monkeypatch):
    from statcoder.service import coding

    def broken(*_args, **_kwargs):
        raise RuntimeError("baker bread secret text of a respondent")

    monkeypatch.setattr(coding, "render", broken)
    with caplog.at_level(logging.DEBUG):
        r = client.post(f"/v1/projects/{tenant.id}/code", json={"records": [{"text": "baker"}]},
                        headers=tenant.headers("code"))
    assert r.status_code == 500 and error_code(r) == "internal_error"
    logged = "\n".join(rec.getMessage() + (rec.exc_text or "") for rec in caplog.records)
    assert "RuntimeError" in logged and "test_server_faults.py" in logged
    assert "secret text" not in logged and "Exception in ASGI application" not in logged

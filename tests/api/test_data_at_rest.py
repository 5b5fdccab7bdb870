"""Data at rest and provenance (issue 15): file modes, retention purge, CSV formulas, paths, audit sample."""

from __future__ import annotations

import csv
import io
import os
import stat
from datetime import timedelta

import numpy as np
import pandas as pd
from apikit import error_code, run_jobs
from typer.testing import CliRunner

from statcoder.cli import app as cli_app
from statcoder.service import projects
from statcoder.service.review import select_for_review
from statcoder.store import utcnow

FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_directory_is_0700_and_sqlite_files_0600(tmp_path):
    from statcoder.service.context import ServiceContext
    from statcoder.service.settings import ServiceSettings

    old = os.umask(0o022)  # a typical umask: without care, files would be world-readable
    try:
        ctx = ServiceContext(ServiceSettings(data_dir=tmp_path / "data"))
        ctx.start()
        projects_dir = ctx.data_dir
        with ctx.db.write() as session:  # make SQLite create its -wal / -shm files
            from sqlalchemy import text

            session.execute(text("CREATE TABLE IF NOT EXISTS probe (x)"))
        assert _mode(projects_dir) == 0o700
        for name in ("statcoder.db", "statcoder.db-wal", "statcoder.db-shm"):
            assert (projects_dir / name).exists(), name
            assert _mode(projects_dir / name) == 0o600, name
        ctx.close()
        os.chmod(projects_dir, 0o755)
        os.chmod(projects_dir / "statcoder.db", 0o644)
        again = ServiceContext(ServiceSettings(data_dir=tmp_path / "data"))  # an existing, too-open store
        again.start()
        assert _mode(projects_dir) == 0o700 and _mode(projects_dir / "statcoder.db") == 0o600
        again.close()
    finally:
        os.umask(old)


def test_retention_purges_old_job_data_and_review_texts_with_an_audit_event(client, ctx, tenant, settings, db_url):
    base = f"/v1/projects/{tenant.id}"
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    frame = pd.DataFrame({"rid": ["a", "b"], "text": ["baker bread", "carpenter wood"],
                          "note": ["told us her name is Ann", "lives in Leeds"]})  # other fields: free text too
    job_id = client.post(f"{base}/jobs", headers=tenant.headers("code"),
                         files={"file": ("in.csv", frame.to_csv(index=False).encode())},
                         data={"id_column": "rid"}).json()["id"]
    run_jobs(ctx)
    tasks = client.get(f"{base}/review/tasks", headers=tenant.headers("review")).json()["tasks"]
    assert all(t["fields"] and "note" in t["fields"] for t in tasks)
    decided = tasks[0]["id"]
    assert client.post(f"{base}/review/tasks/{decided}/submit", json={"code": "11"},
                       headers=tenant.headers("review")).status_code == 200
    r = client.patch(base, json={"retention_days": 30}, headers=tenant.headers("admin"))
    assert r.status_code == 200 and r.json()["retention_days"] == 30
    assert client.patch(base, json={"retention_days": 0}, headers=tenant.headers("admin")).status_code == 422

    runner = CliRunner()
    common = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url()]
    r = runner.invoke(cli_app, ["admin", "purge", *common])  # nothing is old enough yet
    assert r.exit_code == 0 and "purged 0 job(s)" in r.output, r.output
    assert client.get(f"{base}/jobs/{job_id}/result", headers=tenant.headers("code")).status_code == 200

    from statcoder.service.retention import purge

    results = purge(ctx, actor="cli:test", now=utcnow() + timedelta(days=31))
    assert [(x.project_id, x.jobs, x.task_texts) for x in results] == [(tenant.id, 1, 1)]
    assert results[0].chunks >= 1
    r = client.get(f"{base}/jobs/{job_id}/result", headers=tenant.headers("code"))
    assert r.status_code == 410 and error_code(r) == "purged"
    job = client.get(f"{base}/jobs/{job_id}", headers=tenant.headers("code")).json()
    assert job["status"] == "succeeded" and job["purged_at"] is not None and job["n_done"] == 2
    assert not (ctx.data_dir / "jobs" / job_id).exists()
    task = client.get(f"{base}/review/tasks/{decided}", headers=tenant.headers("review")).json()
    assert task["text"] == "" and not task["fields"] and task["code"] == "11"  # decision kept, text and fields gone
    still_open = client.get(f"{base}/review/tasks/{tasks[1]['id']}", headers=tenant.headers("review")).json()
    assert still_open["text"] != "" and still_open["fields"]  # open tasks keep them (coders need them)
    events = client.get(f"{base}/audit", params={"action": "retention.purge"},
                        headers=tenant.headers("admin")).json()["events"]
    assert events[0]["details"]["jobs"] == 1 and events[0]["details"]["task_texts"] == 1


def test_every_csv_export_neutralises_formulas(client, ctx, tenant):
    base = f"/v1/projects/{tenant.id}"
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    frame = pd.DataFrame({"rid": FORMULAS, "text": [f"baker {f}" if i % 2 else f for i, f in enumerate(FORMULAS)]})
    job_id = client.post(f"{base}/jobs", headers=tenant.headers("code"),
                         files={"file": ("in.csv", frame.to_csv(index=False).encode())},
                         data={"id_column": "rid"}).json()["id"]
    run_jobs(ctx)
    out = client.get(f"{base}/jobs/{job_id}/result", headers=tenant.headers("code")).text
    cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert "'=HYPERLINK(\"http://x\")" in cells
    parquet = client.get(f"{base}/jobs/{job_id}/result", params={"format": "parquet"}, headers=tenant.headers("code"))
    assert pd.read_parquet(io.BytesIO(parquet.content))["rid"].tolist()[:4] == FORMULAS[:4]  # data unchanged
    for task in client.get(f"{base}/review/tasks", params={"limit": 500}, headers=tenant.headers("review")).json()["tasks"]:
        client.post(f"{base}/review/tasks/{task['id']}/submit", json={"code": "11"}, headers=tenant.headers("review"))
    export = client.get(f"{base}/review/export", headers=tenant.headers("review")).text
    cells = [c for row in csv.reader(io.StringIO(export)) for c in row]
    assert any(c.startswith("'@SUM") for c in cells)
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)


def test_error_messages_never_show_server_paths(client, tenant, ctx):
    r = client.post(f"/v1/projects/{tenant.id}/models/train", headers=tenant.headers("admin"),
                    files={"file": ("train.parquet", b"this is not parquet")})
    assert r.status_code == 422, r.text
    assert str(ctx.data_dir) not in r.text and "/tmp" not in r.text


def test_partial_decisions_are_sampled_for_audit_at_every_level():
    decisions = ["auto", "partial", "review"] * 2000
    chosen = select_for_review(decisions, audit_rate=0.1, rng=np.random.default_rng(0))
    by = {}
    for i, reason in chosen:
        by.setdefault((decisions[i], reason), 0)
        by[(decisions[i], reason)] += 1
    assert by[("review", "review")] == 2000
    assert 140 <= by[("partial", "audit")] <= 260 and 140 <= by[("auto", "audit")] <= 260


def test_a_carriage_return_inside_a_cell_cannot_start_a_row_of_a_csv_export(client, ctx, tenant):
    """A bare CR was written unquoted: pandas and spreadsheets started a new row there, whose first
    cell (=1+2) no apostrophe guarded."""
    base = f"/v1/projects/{tenant.id}"
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    texts = ["nurse\r=1+2", "baker\r\n@SUM(A1)", "carpenter"]
    frame = pd.DataFrame({"rid": ["a", "b", "c"], "text": texts})
    job_id = client.post(f"{base}/jobs", headers=tenant.headers("code"),
                         files={"file": ("in.parquet", _parquet(frame))}, data={"id_column": "rid"}).json()["id"]
    run_jobs(ctx)
    out = client.get(f"{base}/jobs/{job_id}/result", headers=tenant.headers("code")).content
    read = pd.read_csv(io.BytesIO(out), dtype=str, keep_default_na=False)
    assert read["rid"].tolist() == ["a", "b", "c"] and read["text"].tolist() == texts  # one row per record
    for task in client.get(f"{base}/review/tasks", params={"limit": 500}, headers=tenant.headers("review")).json()["tasks"]:
        client.post(f"{base}/review/tasks/{task['id']}/submit", json={"code": "11"}, headers=tenant.headers("review"))
    export = pd.read_csv(io.BytesIO(client.get(f"{base}/review/export", headers=tenant.headers("review")).content),
                         dtype=str, keep_default_na=False)
    assert sorted(export["record_id"]) == ["a", "b", "c"]
    assert not export.map(lambda c: c.startswith(("=", "+", "-", "@"))).any().any()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()

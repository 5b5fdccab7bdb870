"""Batch jobs: upload or allowed path, worker, progress, results, cancel, failures."""

from __future__ import annotations

import io
import os

import pandas as pd
from apikit import error_code, inbox, run_jobs

from statcoder.service import projects
from statcoder.store import utcnow

TEXTS = ["baker bread oven", "butcher meat", "carpenter wood", "electrician cable", "qq zz"]


def records(n: int) -> pd.DataFrame:
    return pd.DataFrame({"rid": [f"r{i:05d}" for i in range(n)], "text": [TEXTS[i % 5] for i in range(n)]})


def submit_csv(client, tenant, frame: pd.DataFrame, **form):
    return client.post(
        f"/v1/projects/{tenant.id}/jobs", headers=tenant.headers("code"),
        files={"file": ("in.csv", frame.to_csv(index=False).encode())},
        data={"text_columns": "text", "id_column": "rid", **form},
    )


def test_csv_job_runs_to_completion_with_one_row_per_record(client, ctx, tenant):
    frame = records(260)  # 11 chunks of 25 (the last has 10)
    r = submit_csv(client, tenant, frame)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    job_id = r.json()["id"]
    early = client.get(f"/v1/projects/{tenant.id}/jobs/{job_id}/result", headers=tenant.headers("code"))
    assert early.status_code == 409 and error_code(early) == "conflict"
    assert run_jobs(ctx) == 1
    status = client.get(f"/v1/projects/{tenant.id}/jobs/{job_id}", headers=tenant.headers("code")).json()
    assert status["status"] == "succeeded" and status["n_records"] == 260 and status["n_done"] == 260
    assert status["progress"] == 1.0 and sum(status["decisions"].values()) == 260
    out = pd.read_csv(io.StringIO(client.get(
        f"/v1/projects/{tenant.id}/jobs/{job_id}/result", headers=tenant.headers("code")).text), dtype=str)
    assert out["rid"].tolist() == frame["rid"].tolist()  # every record once, in input order
    assert {"predicted_code", "predicted_level", "confidence", "decision", "source", "candidates",
            "model_version"} <= set(out.columns)
    assert out["decision"].value_counts().to_dict() == {k: v for k, v in status["decisions"].items() if v}
    parquet = client.get(f"/v1/projects/{tenant.id}/jobs/{job_id}/result", params={"format": "parquet"},
                         headers=tenant.headers("code"))
    assert pd.read_parquet(io.BytesIO(parquet.content))["rid"].tolist() == frame["rid"].tolist()
    listed = client.get(f"/v1/projects/{tenant.id}/jobs", headers=tenant.headers("code")).json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]


def test_review_tasks_of_a_job_carry_the_job_and_record_id(client, ctx, tenant):
    from statcoder.service import projects

    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    job_id = submit_csv(client, tenant, records(30)).json()["id"]
    run_jobs(ctx)
    status = client.get(f"/v1/projects/{tenant.id}/jobs/{job_id}", headers=tenant.headers("code")).json()
    tasks = client.get(f"/v1/projects/{tenant.id}/review/tasks", params={"limit": 500},
                       headers=tenant.headers("review")).json()["tasks"]
    assert len(tasks) == status["decisions"]["auto"] + status["decisions"]["review"]
    assert all(t["job_id"] == job_id and t["record_id"].startswith("r") for t in tasks)


def test_parquet_job_from_an_allowed_path(client, ctx, tenant, settings, tmp_path):
    path = inbox(settings, tenant.id) / "in.parquet"
    records(60).to_parquet(path)
    r = client.post(f"/v1/projects/{tenant.id}/jobs/from-path", headers=tenant.headers("code"),
                    json={"path": str(path), "id_column": "rid"})
    assert r.status_code == 202, r.text
    run_jobs(ctx)
    status = client.get(f"/v1/projects/{tenant.id}/jobs/{r.json()['id']}", headers=tenant.headers("code")).json()
    assert status["status"] == "succeeded" and status["n_done"] == 60
    assert path.exists()  # a server-side input is never deleted


def test_paths_outside_the_allowed_directories_are_refused(client, tenant, settings, tmp_path):
    outside = tmp_path / "secret.csv"
    records(3).to_csv(outside, index=False)
    link = inbox(settings, tenant.id) / "link.csv"
    os.symlink(outside, link)
    url = f"/v1/projects/{tenant.id}/jobs/from-path"
    for path in (str(outside), str(link), str(inbox(settings, tenant.id) / ".." / ".." / "secret.csv")):
        r = client.post(url, headers=tenant.headers("code"), json={"path": path})
        assert r.status_code == 403 and error_code(r) == "path_not_allowed", path
    r = client.post(url, headers=tenant.headers("code"), json={"path": "relative.csv"})
    assert r.status_code == 422
    r = client.post(url, headers=tenant.headers("code"), json={"path": str(inbox(settings, tenant.id) / "none.csv")})
    assert r.status_code == 422


def test_bad_inputs_fail_the_job_cleanly(client, ctx, tenant):
    r = client.post(f"/v1/projects/{tenant.id}/jobs", headers=tenant.headers("code"),
                    files={"file": ("in.txt", b"hello")})
    assert r.status_code == 422 and error_code(r) == "invalid_input"
    r = submit_csv(client, tenant, pd.DataFrame({"rid": ["1"], "label": ["x"]}))
    run_jobs(ctx)
    status = client.get(f"/v1/projects/{tenant.id}/jobs/{r.json()['id']}", headers=tenant.headers("code")).json()
    assert status["status"] == "failed" and status["error"]["code"] == "invalid_input"
    error = status["error"]  # what was wrong and where in the message, what to do in the hint
    assert error["message"] == "text column(s) 'text' not found (job input)", error
    assert error["hint"].startswith("the columns are: rid, label")


def test_a_byte_that_is_not_utf8_flags_its_record_and_fails_nothing(client, ctx, tenant):
    """One Latin-1 byte failed the whole CSV job; a Parquet bytes column failed it as an internal error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    body = records(6).to_csv(index=False).encode().replace(b"r00003,", b"r00003,caf\xe9 ")
    r = client.post(f"/v1/projects/{tenant.id}/jobs", headers=tenant.headers("code"),
                    files={"file": ("in.csv", body)}, data={"text_columns": "text", "id_column": "rid"})
    table = pa.table({"rid": ["a", "b"], "text": pa.array([b"baker bread", b"caf\xe9 owner"], pa.binary())})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    p = client.post(f"/v1/projects/{tenant.id}/jobs", headers=tenant.headers("code"),
                    files={"file": ("in.parquet", buffer.getvalue())}, data={"text_columns": "text", "id_column": "rid"})
    run_jobs(ctx)
    for job, n, bad in ((r, 6, "r00003"), (p, 2, "b")):
        job_id = job.json()["id"]
        status = client.get(f"/v1/projects/{tenant.id}/jobs/{job_id}", headers=tenant.headers("code")).json()
        assert status["status"] == "succeeded" and status["n_done"] == n, status
        out = pd.read_csv(io.BytesIO(client.get(f"/v1/projects/{tenant.id}/jobs/{job_id}/result",
                                                headers=tenant.headers("code")).content), dtype=str, keep_default_na=False)
        flagged = out[out["problem"] == "invalid_encoding"]
        assert flagged["rid"].tolist() == [bad] and (flagged["decision"] == "review").all()
        assert (out.loc[out["rid"] != bad, "problem"] == "").all()


def test_input_columns_named_like_outputs_fail_the_job_and_task_fields_hold_only_the_records_own(client, ctx, tenant):
    """A job silently overwrote an input column named decision (POST /code refuses it); its review
    tasks listed the outputs problem and model_version as the record's other fields."""
    clash = submit_csv(client, tenant, records(3).assign(decision="mine", problem="x"))
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    fine = submit_csv(client, tenant, records(3).assign(region="North"))
    run_jobs(ctx)
    status = client.get(f"/v1/projects/{tenant.id}/jobs/{clash.json()['id']}", headers=tenant.headers("code")).json()
    assert status["status"] == "failed" and status["error"]["code"] == "invalid_input"
    assert status["error"]["message"] == "the input already has output column(s) decision, problem (job input)"
    tasks = client.get(f"/v1/projects/{tenant.id}/review/tasks", headers=tenant.headers("review")).json()["tasks"]
    mine = [t for t in tasks if t["job_id"] == fine.json()["id"]]
    assert mine and all(t["fields"] == {"region": "North"} for t in mine), mine[0]["fields"]


def test_cancel(client, ctx, tenant):
    job_id = submit_csv(client, tenant, records(100)).json()["id"]
    r = client.post(f"/v1/projects/{tenant.id}/jobs/{job_id}/cancel", headers=tenant.headers("code"))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert run_jobs(ctx) == 0
    again = client.post(f"/v1/projects/{tenant.id}/jobs/{job_id}/cancel", headers=tenant.headers("code"))
    assert again.status_code == 409


def test_worker_resumes_a_job_without_redoing_committed_chunks(client, ctx, tenant):
    """In-process version of the crash test: a worker stops after 3 chunks, another finishes."""
    from statcoder.service.worker import JobWorker
    from statcoder.store.jobs import JobRepository

    frame = records(200)
    job_id = submit_csv(client, tenant, frame).json()["id"]
    first = JobWorker(ctx, worker_id="first")
    committed = []
    original = JobRepository.commit_chunk

    def stop_after_three(self, *args, **kwargs):
        ok = original(self, *args, **kwargs)
        committed.append(kwargs["chunk_index"])
        if len(committed) == 3:
            first._stop.set()  # as if the process went away after its third commit
        return ok

    JobRepository.commit_chunk = stop_after_three
    try:
        first.run_once()
    finally:
        JobRepository.commit_chunk = original
    with ctx.db.read() as session:
        assert JobRepository(session).done_chunks(job_id) == {0, 1, 2}
    with ctx.db.write() as session:  # the lease of the vanished worker runs out
        JobRepository(session).holds(job_id, "first", lease_until=utcnow())
    assert run_jobs(ctx) == 1
    out = pd.read_csv(io.StringIO(client.get(
        f"/v1/projects/{tenant.id}/jobs/{job_id}/result", headers=tenant.headers("code")).text), dtype=str)
    assert out["rid"].tolist() == frame["rid"].tolist()

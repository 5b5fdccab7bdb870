"""``POST /jobs/from-path``: what was checked at submission is what the job reads (issue 15)."""

from __future__ import annotations

import io
import os

import pandas as pd
from apikit import error_code, inbox, run_jobs


def _result(client, tenant, job_id) -> pd.DataFrame:
    r = client.get(f"/v1/projects/{tenant.id}/jobs/{job_id}/result", headers=tenant.headers("code"))
    assert r.status_code == 200, r.text
    return pd.read_csv(io.StringIO(r.text), dtype=str)


def test_swapping_the_file_for_a_symlink_after_submission_changes_nothing(client, ctx, tenant, settings, tmp_path):
    path = inbox(settings, tenant.id) / "in.csv"
    pd.DataFrame({"rid": ["a1", "a2"], "text": ["baker bread", "carpenter wood"]}).to_csv(path, index=False)
    secret = tmp_path / "secret.csv"
    pd.DataFrame({"rid": ["s1"], "text": ["butcher meat secret"]}).to_csv(secret, index=False)
    r = client.post(f"/v1/projects/{tenant.id}/jobs/from-path", headers=tenant.headers("code"),
                    json={"path": str(path), "id_column": "rid"})
    assert r.status_code == 202, r.text
    # The race: between the 202 and the worker, the checked file becomes a link to a secret.
    path.unlink()
    os.symlink(secret, path)
    run_jobs(ctx)
    out = _result(client, tenant, r.json()["id"])
    assert out["rid"].tolist() == ["a1", "a2"]  # the checked content, never the secret
    assert secret.exists() and path.is_symlink()  # server-side files are left alone


def test_another_projects_staged_input_is_never_readable(client, ctx, tenant, other_tenant, settings, tmp_path):
    # Project beta has a staged job input under the data directory.
    frame = pd.DataFrame({"rid": ["b1"], "text": ["electrician cable"]})
    r = client.post(f"/v1/projects/{other_tenant.id}/jobs", headers=other_tenant.headers("code"),
                    files={"file": ("in.csv", frame.to_csv(index=False).encode())}, data={"id_column": "rid"})
    run_jobs(ctx)
    staged = ctx.data_dir / "jobs" / r.json()["id"] / "input.parquet"
    assert staged.is_file()
    # Even when an operator lists the data directory among the allowed ones, it stays off limits,
    # directly or through a link in an allowed directory.
    settings.allowed_job_dirs.append(ctx.data_dir)
    link = inbox(settings, tenant.id) / "b.parquet"
    os.symlink(staged, link)
    url = f"/v1/projects/{tenant.id}/jobs/from-path"
    for path in (str(staged), str(link)):
        r = client.post(url, headers=tenant.headers("code"), json={"path": path})
        assert r.status_code == 403 and error_code(r) == "path_not_allowed", path
        assert str(ctx.data_dir) not in r.text


def test_an_over_long_file_name_is_a_clear_4xx(client, tenant, settings):
    url = f"/v1/projects/{tenant.id}/jobs/from-path"
    for path in (str(inbox(settings, tenant.id) / ("x" * 300 + ".csv")),
                 str(inbox(settings, tenant.id) / "/".join(["d" * 200] * 4) / "a.csv")):
        r = client.post(url, headers=tenant.headers("code"), json={"path": path})
        assert r.status_code == 422 and error_code(r) == "invalid_input", r.text
        assert str(settings.allowed_job_dirs[0]) not in r.text


def test_a_fifo_or_directory_is_refused_without_blocking(client, tenant, settings):
    allowed = inbox(settings, tenant.id)
    os.mkfifo(allowed / "pipe.csv")
    r = client.post(f"/v1/projects/{tenant.id}/jobs/from-path", headers=tenant.headers("code"),
                    json={"path": str(allowed / "pipe.csv")})
    assert r.status_code == 422 and error_code(r) == "invalid_input"


def test_a_project_reads_only_its_own_directory_of_the_inbox(client, ctx, tenant, other_tenant, settings):
    """An inbox shared by all projects let any tenant code (and download) the file placed for another."""
    theirs = inbox(settings, other_tenant.id) / "survey.csv"
    pd.DataFrame({"rid": ["b1"], "text": ["electrician cable"]}).to_csv(theirs, index=False)
    shared = settings.allowed_job_dirs[0] / "shared.csv"  # the root itself belongs to no project
    pd.DataFrame({"rid": ["s1"], "text": ["baker bread"]}).to_csv(shared, index=False)
    url = f"/v1/projects/{tenant.id}/jobs/from-path"
    for path in (theirs, shared, inbox(settings, tenant.id) / ".." / other_tenant.id / "survey.csv"):
        r = client.post(url, headers=tenant.headers("code"), json={"path": str(path)})
        assert r.status_code == 403 and error_code(r) == "path_not_allowed", r.text
        assert f"<dir>/{tenant.id}/" in r.json()["error"]["hint"] and str(settings.allowed_job_dirs[0]) not in r.text
    # a missing file of another project's directory is refused the same way: no probing for names
    r = client.post(url, headers=tenant.headers("code"), json={"path": str(theirs.with_name("none.csv"))})
    assert r.status_code == 403
    mine = client.post(f"/v1/projects/{other_tenant.id}/jobs/from-path", headers=other_tenant.headers("code"),
                       json={"path": str(theirs), "id_column": "rid"})
    assert mine.status_code == 202, mine.text


def test_a_hard_link_to_another_projects_staged_input_is_refused(client, ctx, tenant, other_tenant, settings):
    frame = pd.DataFrame({"rid": ["b1"], "text": ["electrician cable"]})
    r = client.post(f"/v1/projects/{other_tenant.id}/jobs", headers=other_tenant.headers("code"),
                    files={"file": ("in.csv", frame.to_csv(index=False).encode())}, data={"id_column": "rid"})
    run_jobs(ctx)
    staged = ctx.data_dir / "jobs" / r.json()["id"] / "input.parquet"
    link = inbox(settings, tenant.id) / "looks-mine.parquet"
    os.link(staged, link)  # a hard link passes every check of its path
    r = client.post(f"/v1/projects/{tenant.id}/jobs/from-path", headers=tenant.headers("code"),
                    json={"path": str(link)})
    assert r.status_code == 403 and "hard links" in r.json()["error"]["message"], r.text

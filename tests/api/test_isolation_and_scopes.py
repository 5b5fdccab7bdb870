"""Tenant isolation on every project route, and the scope each route needs.

ROUTES lists every operation of the OpenAPI document under /v1/projects/{project_id}; a test
checks the list is complete, so a new route cannot skip these checks.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from apikit import Tenant, error_code, inbox, make_tenant
from kit import WORDS, labelled_frame

from statcoder.service import projects
from statcoder.service.review import list_tasks


@dataclass
class Resources:
    """Real ids of one tenant's resources."""

    job_id: str
    task_id: int
    version: str
    key_id: str
    allowed_csv: str
    run_id: int


def seed(client, ctx, tenant: Tenant, model_dir: Path) -> Resources:
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    client.post(f"/v1/projects/{tenant.id}/code", headers=tenant.headers("code"),
                json={"records": [{"id": "1", "text": "baker bread"}, {"id": "2", "text": "zz"}]})
    job = client.post(f"/v1/projects/{tenant.id}/jobs", headers=tenant.headers("code"),
                      files={"file": ("a.csv", b"text\nbaker\n")}).json()
    version = client.get(f"/v1/projects/{tenant.id}", headers=tenant.headers()).json()["active_model_version"]
    task_id = list_tasks(ctx, tenant.id, status=None)[0].id
    allowed_csv = inbox(ctx.settings, tenant.id) / "in.csv"
    allowed_csv.write_text("text\nbaker\n", encoding="utf-8")
    run = client.post(f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers("admin"),
                      **monitoring_request(None, None))
    assert run.status_code == 201, run.text
    run = run.json()
    return Resources(job_id=job["id"], task_id=task_id, version=version, key_id=tenant.key_ids["code"],
                     allowed_csv=str(allowed_csv), run_id=run["id"])


def model_zip(model_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in model_dir.rglob("*"):
            if path.is_file():
                zf.write(path, path.relative_to(model_dir))
    return buffer.getvalue()


TRAIN_CSV = pd.DataFrame({"text": ["baker", "butcher", "joiner", "cable"] * 10,
                          "code": ["11", "12", "21", "22"] * 10}).to_csv(index=False).encode()
MONITOR_REFERENCE = labelled_frame(WORDS, per_code=15, seed=3).to_csv(index=False).encode()
MONITOR_CURRENT = labelled_frame(WORDS, per_code=5, seed=4).drop(columns=["code"]).to_csv(index=False).encode()


def monitoring_request(_r, _m) -> dict:
    return {"files": {"reference": ("ref.csv", MONITOR_REFERENCE), "current": ("cur.csv", MONITOR_CURRENT)}}


# (method, path template, scope needed (None = any scope), request kwargs builder)
ROUTES = [
    ("GET", "/v1/projects/{project_id}", None, lambda r, m: {}),
    ("PATCH", "/v1/projects/{project_id}", "admin", lambda r, m: {"json": {"audit_rate": 0.5}}),
    ("GET", "/v1/projects/{project_id}/keys", "admin", lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/keys", "admin", lambda r, m: {"json": {"scopes": ["code"]}}),
    ("DELETE", "/v1/projects/{project_id}/keys/{key_id}", "admin", lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/audit", "admin", lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/models", None, lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/models", "admin",
     lambda r, m: {"files": {"file": ("m.zip", model_zip(m))}}),
    ("GET", "/v1/projects/{project_id}/models/{version}", None, lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/models/train", "admin",
     lambda r, m: {"files": {"file": ("t.csv", TRAIN_CSV)}}),
    ("POST", "/v1/projects/{project_id}/models/{version}/promote", "admin", lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/models/rollback", "admin", lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/code", "code", lambda r, m: {"json": {"records": [{"text": "baker"}]}}),
    ("POST", "/v1/projects/{project_id}/jobs", "code",
     lambda r, m: {"files": {"file": ("a.csv", b"text\nbaker\n")}}),
    ("POST", "/v1/projects/{project_id}/jobs/from-path", "code", lambda r, m: {"json": {"path": r.allowed_csv}}),
    ("GET", "/v1/projects/{project_id}/jobs", "code", lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/jobs/{job_id}", "code", lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/jobs/{job_id}/cancel", "code", lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/jobs/{job_id}/result", "code", lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/review/tasks", "review", lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/review/tasks/{task_id}", "review", lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/review/tasks/{task_id}/claim", "review",
     lambda r, m: {"json": {}}),  # the coder is the calling key (issue 15)
    ("POST", "/v1/projects/{project_id}/review/tasks/{task_id}/submit", "review",
     lambda r, m: {"json": {"code": "11"}}),
    ("GET", "/v1/projects/{project_id}/review/export", "review", lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/monitoring", "admin", monitoring_request),
    ("GET", "/v1/projects/{project_id}/monitoring", None, lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/monitoring/{run_id}", None, lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/monitoring/{run_id}/report", None, lambda r, m: {}),
    ("GET", "/v1/projects/{project_id}/accounts", "admin", lambda r, m: {}),
    ("POST", "/v1/projects/{project_id}/accounts", "admin",
     lambda r, m: {"json": {"username": "eve.coder", "password": "a long pass phrase", "role": "coder"}}),
]


def url(template: str, project_id: str, res: Resources) -> str:
    return template.format(project_id=project_id, job_id=res.job_id, task_id=res.task_id,
                           version=res.version, key_id=res.key_id, run_id=res.run_id)


def test_routes_table_covers_every_project_route(client):
    spec = client.get("/openapi.json").json()["paths"]
    documented = {(method.upper(), path) for path, ops in spec.items() if path.startswith("/v1/projects/")
                  for method in ops}
    assert documented == {(m, p) for m, p, _, _ in ROUTES}


@pytest.fixture
def two_tenants(client, ctx, tmp_path, model_dir, second_model_dir):
    a = make_tenant(ctx, "alpha", tmp_path / "cls-a", model_dir)
    b = make_tenant(ctx, "beta", tmp_path / "cls-b", model_dir)
    return a, seed(client, ctx, a, second_model_dir), b, seed(client, ctx, b, second_model_dir)


def test_a_key_of_another_project_gets_404_on_every_route(client, ctx, two_tenants, second_model_dir):
    a, _, b, b_res = two_tenants
    before = snapshot(client, b)
    for method, template, _, build in ROUTES:
        r = client.request(method, url(template, b.id, b_res), headers=a.headers("all"),
                           **build(b_res, second_model_dir))
        assert r.status_code == 404, (method, template, r.status_code, r.text)
        assert error_code(r) == "not_found"
        assert "beta" not in r.json()["error"]["hint"]
    assert snapshot(client, b) == before  # nothing of beta changed


def snapshot(client, tenant: Tenant) -> dict:
    h = tenant.headers()
    base = f"/v1/projects/{tenant.id}"
    return {
        "project": client.get(base, headers=h).json(),
        "keys": client.get(f"{base}/keys", headers=h).json(),
        "models": client.get(f"{base}/models", headers=h).json(),
        "jobs": client.get(f"{base}/jobs", headers=h).json(),
        "tasks": client.get(f"{base}/review/tasks", params={"status": "all"}, headers=h).json(),
        "audit": client.get(f"{base}/audit", headers=h).json(),
        "monitoring": client.get(f"{base}/monitoring", headers=h).json(),
    }


def test_listings_never_show_another_project(client, two_tenants):
    a, _, _, b_res = two_tenants
    assert [p["id"] for p in client.get("/v1/projects", headers=a.headers("code")).json()["projects"]] == ["alpha"]
    keys = client.get("/v1/projects/alpha/keys", headers=a.headers("admin")).json()["keys"]
    assert {k["id"] for k in keys} == set(a.key_ids.values())
    assert all("secret_hash" not in k and "key" not in k for k in keys)
    jobs = client.get("/v1/projects/alpha/jobs", headers=a.headers("code")).json()["jobs"]
    assert b_res.job_id not in {j["id"] for j in jobs}
    tasks = client.get("/v1/projects/alpha/review/tasks", params={"status": "all"}, headers=a.headers("review")).json()
    assert b_res.task_id not in {t["id"] for t in tasks["tasks"]}
    audit = client.get("/v1/projects/alpha/audit", headers=a.headers("admin")).json()["events"]
    assert all(b_res.job_id != e["target"] and b_res.key_id != e["target"] for e in audit)


@pytest.mark.parametrize("scope", ["admin", "code", "review"])
def test_each_scope_opens_exactly_its_routes(client, two_tenants, second_model_dir, scope):
    a, a_res, _, _ = two_tenants
    for method, template, needed, build in ROUTES:
        r = client.request(method, url(template, a.id, a_res), headers=a.headers(scope),
                           **build(a_res, second_model_dir))
        if needed is None or needed == scope:
            assert r.status_code != 403, (scope, method, template, r.text)
            assert r.status_code < 500, (scope, method, template, r.text)
        else:
            assert r.status_code == 403 and error_code(r) == "forbidden", (scope, method, template, r.status_code)

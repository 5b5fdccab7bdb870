"""Model-monitoring routes: a run on the active model is created, listed, fetched and reported.

The model is the small real coder of the fixtures (tests/service/kit.py); the reference is
fresh labelled records of the same vocabulary, the current file has two periods, the second
written with words of one code only (a planted shift in the predicted-code mix).
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from apikit import error_code
from kit import WORDS, labelled_frame

from statcoder.service.audit import read_log


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    reference = labelled_frame(WORDS, per_code=20, seed=11)
    stable = labelled_frame(WORDS, per_code=15, seed=12).assign(period="2026-01")
    shifted = labelled_frame({"11": WORDS["11"]}, per_code=60, seed=13).assign(period="2026-02")
    current = pd.concat([stable, shifted], ignore_index=True).drop(columns=["code"])
    return {"reference": _csv(reference), "current": _csv(current)}


def _create(client, tenant, files, scope: str = "admin", **form):
    return client.post(
        f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers(scope),
        files={"reference": ("ref.csv", files["reference"]), "current": ("cur.csv", files["current"])},
        data={"period_column": "period", **form},
    )


def test_a_run_is_created_listed_fetched_and_reported(client, ctx, tenant, files):
    r = _create(client, tenant, files)
    assert r.status_code == 201, r.text
    run = r.json()
    active = client.get(f"/v1/projects/{tenant.id}", headers=tenant.headers()).json()["active_model_version"]
    assert run["model_version"] == active
    assert [p["period"] for p in run["periods"]] == ["2026-01", "2026-02"]
    assert [p["n_records"] for p in run["periods"]] == [60, 60]
    assert run["n_periods"] == 2 and run["n_alerts"] == len(run["alerts"])
    # the second period predicts almost only code 11: the output mix has drifted from the reference
    assert any(a["period"] == "2026-02" for a in run["alerts"]), run["alerts"]

    second = _create(client, tenant, files, estimator="average_confidence")
    assert second.status_code == 201, second.text
    listed = client.get(f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers("review")).json()["runs"]
    assert [x["id"] for x in listed] == [second.json()["id"], run["id"]]  # newest first
    assert listed[1]["n_alerts"] == run["n_alerts"] and listed[1]["alerts"] == run["alerts"]
    assert listed[1]["model_version"] == active and listed[1]["created_at"]

    full = client.get(f"/v1/projects/{tenant.id}/monitoring/{run['id']}", headers=tenant.headers("code"))
    assert full.status_code == 200
    body = full.json()
    assert body["run"]["id"] == run["id"]
    assert body["result"]["period_order"] == ["2026-01", "2026-02"]
    assert body["result"]["alerts"] == run["alerts"]
    assert body["result"]["reference"]["n_records"] == 80
    assert body["result"]["policy"]["estimator"] == "cbpe"
    assert any(s["signal"].startswith("accuracy_cbpe") for s in body["result"]["signals"])

    report = client.get(f"/v1/projects/{tenant.id}/monitoring/{run['id']}/report", headers=tenant.headers("code"))
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "<html" in report.text.lower() and f"run {run['id']}" in report.text
    assert "2026-02" in report.text

    events = [e for e in read_log(ctx, tenant.id, action="monitoring.run")]
    assert [e.target for e in events] == [str(second.json()["id"]), str(run["id"])]
    details = json.loads(events[-1].details)
    assert details == {"model_version": active, "n_reference": 80, "n_current": 120, "n_periods": 2,
                       "n_alerts": run["n_alerts"]}


def test_chunks_or_one_period_without_a_period_column(client, tenant, files):
    r = _create(client, tenant, files, period_column="", chunk_size="40")
    assert r.status_code == 201, r.text
    assert [p["n_records"] for p in r.json()["periods"]] == [40, 40, 40]
    r = _create(client, tenant, files, period_column="")
    assert r.status_code == 201, r.text
    assert [p["n_records"] for p in r.json()["periods"]] == [120]


def test_parquet_files_are_accepted(client, tenant, files):
    parquet = {}
    for role in ("reference", "current"):
        buffer = io.BytesIO()
        pd.read_csv(io.BytesIO(files[role]), dtype=str).to_parquet(buffer, index=False)
        parquet[role] = buffer.getvalue()
    r = client.post(
        f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers("admin"),
        files={"reference": ("ref.parquet", parquet["reference"]), "current": ("cur.parquet", parquet["current"])},
        data={"period_column": "period"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["n_periods"] == 2


def test_a_key_of_another_project_gets_404(client, tenant, other_tenant, files):
    run_id = _create(client, tenant, files).json()["id"]
    base = f"/v1/projects/{tenant.id}/monitoring"
    for path in (base, f"{base}/{run_id}", f"{base}/{run_id}/report"):
        r = client.get(path, headers=other_tenant.headers("all"))
        assert r.status_code == 404 and error_code(r) == "not_found", path
    # beta's own listing does not show alpha's run, and alpha's run id is unknown under beta
    assert client.get(f"/v1/projects/{other_tenant.id}/monitoring", headers=other_tenant.headers()).json() == {"runs": []}
    r = client.get(f"/v1/projects/{other_tenant.id}/monitoring/{run_id}", headers=other_tenant.headers())
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = client.post(base, headers=other_tenant.headers("admin"),
                    files={"reference": ("ref.csv", files["reference"]), "current": ("cur.csv", files["current"])})
    assert r.status_code == 404


@pytest.mark.parametrize("scope", ["code", "review"])
def test_only_admin_keys_create_runs(client, tenant, files, scope):
    r = _create(client, tenant, files, scope=scope)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    assert client.get(f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers()).json() == {"runs": []}


@pytest.mark.parametrize(("reference", "name", "form", "status", "code", "fragment"), [
    (b"text,code\n\"unclosed,11\nbaker,11\n", "ref.csv", {}, 422, "invalid_input", "reference file"),
    (b"\xff\xfe\x00garbage", "ref.parquet", {}, 422, "invalid_input", "reference file"),
    (None, "ref.xlsx", {}, 422, "invalid_input", "reference file"),
    (None, "ref.csv", {"label_column": "nope"}, 422, "invalid_input", "reference file"),
    (b"text,code\nbaker bread,11\n", "ref.csv", {}, 422, "invalid_input", "reference"),
    (None, "ref.csv", {"period_column": "month"}, 422, "invalid_input", "current file"),
])
def test_bad_files_are_4xx_json_errors(client, tenant, files, reference, name, form, status, code, fragment):
    body = files["reference"] if reference is None else reference
    r = client.post(
        f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers("admin"),
        files={"reference": (name, body), "current": ("cur.csv", files["current"])},
        data={"period_column": "period", **form},
    )
    assert r.status_code == status, r.text
    assert error_code(r) == code
    error = r.json()["error"]
    assert fragment in error["message"] and error["hint"]
    assert str(client.app.state.context.data_dir) not in error["message"]  # no server paths
    assert "baker" not in error["message"]  # no record text echoed


def test_no_active_model_is_a_conflict(client, ctx, tmp_path, files):
    from apikit import make_tenant

    bare = make_tenant(ctx, "gamma", tmp_path / "cls-gamma")
    r = _create(client, bare, files)
    assert r.status_code == 409 and error_code(r) == "no_active_model"


def test_unknown_run_is_404(client, tenant):
    r = client.get(f"/v1/projects/{tenant.id}/monitoring/12345", headers=tenant.headers())
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_a_one_column_current_csv_is_one_period(client, tenant, files):
    current = labelled_frame(WORDS, per_code=10, seed=21)[["text"]]  # texts with spaces, no commas
    r = client.post(
        f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers("admin"),
        files={"reference": ("ref.csv", files["reference"]), "current": ("cur.csv", _csv(current))},
    )
    assert r.status_code == 201, r.text
    assert [p["n_records"] for p in r.json()["periods"]] == [40]


def test_a_period_without_any_text_is_422(client, tenant, files):
    current = labelled_frame(WORDS, per_code=5, seed=22)[["text"]].assign(text="")
    r = client.post(
        f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers("admin"),
        files={"reference": ("ref.csv", files["reference"]), "current": ("cur.csv", _csv(current))},
    )
    assert r.status_code == 422 and error_code(r) == "invalid_input"
    assert "no text" in r.json()["error"]["message"]


def test_too_many_periods_is_413(client, tenant, files):
    current = labelled_frame(WORDS, per_code=60, seed=23)[["text"]]
    current["period"] = [f"p{i:03d}" for i in range(len(current))]  # 240 periods of one record
    r = client.post(
        f"/v1/projects/{tenant.id}/monitoring", headers=tenant.headers("admin"),
        files={"reference": ("ref.csv", files["reference"]), "current": ("cur.csv", _csv(current))},
        data={"period_column": "period"},
    )
    assert r.status_code == 413 and error_code(r) == "payload_too_large"

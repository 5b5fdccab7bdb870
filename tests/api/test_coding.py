"""POST /v1/projects/{p}/code: the coded-output contract, model version, review queue."""

from __future__ import annotations

from statcoder.coder import Coder
from statcoder.service import projects

CONTRACT = {"predicted_code", "predicted_level", "confidence", "decision", "source", "candidates"}


def test_output_contract_and_model_version(client, tenant, model_dir):
    records = [{"id": "r1", "text": "baker bread oven", "region": "north"},
               {"id": "r2", "text": "electrician wiring cable", "region": "south"}]
    r = client.post(f"/v1/projects/{tenant.id}/code", json={"records": records, "top_k": 3},
                    headers=tenant.headers("code"))
    assert r.status_code == 200
    body = r.json()
    coder = Coder.load(model_dir)
    assert body["model_version"] == coder.version
    expected = coder.code(records_frame(records), text_columns=["text"], top_k=3)
    for rec, sent, exp in zip(body["records"], records, expected.to_dict("records"), strict=True):
        assert CONTRACT <= set(rec)
        assert {k: rec[k] for k in sent} == sent  # input fields kept
        assert rec["predicted_code"] == exp["predicted_code"]
        assert rec["predicted_level"] == exp["predicted_level"] and rec["decision"] == exp["decision"]
        assert abs(rec["confidence"] - exp["confidence"]) < 1e-9
        assert rec["decision"] in {"auto", "partial", "review"} and rec["source"] in {"index", "model"}
        assert 1 <= len(rec["candidates"]) <= 3
        assert set(rec["candidates"][0]) == {"code", "title", "p"}
        ps = [c["p"] for c in rec["candidates"]]
        assert ps == sorted(ps, reverse=True)
    assert body["records"][0]["predicted_code"].startswith("1")
    assert body["records"][1]["predicted_code"].startswith("2")


def records_frame(records):
    import pandas as pd

    return pd.DataFrame(records, dtype=object)


def test_review_decisions_and_the_audit_sample_become_tasks(client, ctx, tenant):
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")  # audit every auto record
    records = [{"id": str(i), "text": t} for i, t in enumerate(
        ["baker bread oven", "zzz qqq", "electrician wiring", "meat", "cabinet timber joiner"])]
    r = client.post(f"/v1/projects/{tenant.id}/code", json={"records": records}, headers=tenant.headers("code"))
    coded = r.json()["records"]
    tasks = client.get(f"/v1/projects/{tenant.id}/review/tasks", params={"status": "all"},
                       headers=tenant.headers("review")).json()["tasks"]
    queued = [c for c in coded if c["decision"] in ("review", "auto")]
    assert len(tasks) == len(queued)
    assert all(c["review_task_id"] is not None for c in queued)
    assert all(c["review_task_id"] is None for c in coded if c["decision"] == "partial")
    by_id = {t["id"]: t for t in tasks}
    for c in queued:
        task = by_id[c["review_task_id"]]
        assert task["reason"] == ("review" if c["decision"] == "review" else "audit")
        assert task["record_id"] == c["id"] and task["text"] == c["text"]
        assert task["predicted_code"] == c["predicted_code"] and task["candidates"] == c["candidates"]


def test_no_tasks_when_rate_is_zero_and_nothing_to_review(client, ctx, tenant):
    projects.update_settings(ctx, tenant.id, audit_rate=0.0, actor="t")
    r = client.post(f"/v1/projects/{tenant.id}/code", json={"records": [{"text": "baker bread"}] * 50},
                    headers=tenant.headers("code"))
    coded = r.json()["records"]
    n_review = sum(c["decision"] == "review" for c in coded)
    counts = client.get(f"/v1/projects/{tenant.id}/review/tasks", headers=tenant.headers("review")).json()["counts"]
    assert counts["open"] == n_review


def test_several_text_fields_and_no_queue(client, tenant):
    r = client.post(f"/v1/projects/{tenant.id}/code", headers=tenant.headers("code"), json={
        "records": [{"title": "baker", "tasks": "bread oven", "n": 3}], "text_columns": ["title", "tasks"],
        "queue_review": False})
    assert r.status_code == 200
    rec = r.json()["records"][0]
    assert rec["n"] == "3" and rec["review_task_id"] is None


def test_project_without_active_model_is_409(client, ctx, tmp_path):
    from apikit import make_tenant

    bare = make_tenant(ctx, "bare", tmp_path / "cls-bare")
    r = client.post("/v1/projects/bare/code", json={"records": [{"text": "x"}]}, headers=bare.headers("code"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_active_model"


def test_concurrent_requests_get_their_own_results(client, tenant):
    """Requests coded together (micro-batching) must each get exactly their own records."""
    from concurrent.futures import ThreadPoolExecutor

    texts = ["baker bread oven", "butcher meat", "carpenter wood", "electrician cable", "zz qq"]
    bodies = [{"records": [{"id": f"{i}-{j}", "text": texts[(i + j) % 5]} for j in range(1 + i % 3)],
               "queue_review": False} for i in range(24)]
    url, headers = f"/v1/projects/{tenant.id}/code", tenant.headers("code")
    alone = [client.post(url, json=b, headers=headers).json()["records"] for b in bodies]
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(lambda b: client.post(url, json=b, headers=headers).json()["records"], bodies))
    assert together == alone


def test_the_api_spells_decisions_as_the_output_contract_does(client):
    from statcoder.contract import DECISIONS

    spec = client.get("/openapi.json").json()["components"]["schemas"]
    assert spec["Decision"]["enum"] == list(DECISIONS)
    for model in ("CodedRecord", "TaskOut"):
        assert spec[model]["properties"]["decision"] == {"$ref": "#/components/schemas/Decision"}

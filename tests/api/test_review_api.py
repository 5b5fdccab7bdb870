"""Review queue over HTTP: list, claim, submit, export as labelled data."""

from __future__ import annotations

import csv
import io

from apikit import error_code


def queue_some(client, ctx, tenant, n: int = 6) -> list[dict]:
    from statcoder.service import projects

    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    texts = ["baker bread", "meat butcher", "wood joiner", "cable voltage", "zz qq", "oven dough"]
    client.post(f"/v1/projects/{tenant.id}/code", headers=tenant.headers("code"),
                json={"records": [{"id": f"x{i}", "text": t} for i, t in enumerate(texts[:n])]})
    return client.get(f"/v1/projects/{tenant.id}/review/tasks", headers=tenant.headers("review")).json()["tasks"]


def test_list_claim_submit_export(client, ctx, tenant):
    tasks = queue_some(client, ctx, tenant)
    assert tasks
    base = f"/v1/projects/{tenant.id}/review/tasks"
    page = client.get(base, params={"limit": 1}, headers=tenant.headers("review")).json()
    assert len(page["tasks"]) == 1 and page["next_after_id"] == tasks[0]["id"]
    task_id = tasks[0]["id"]
    ana, bob = tenant.headers("review"), tenant.headers("all")  # two keys with the review scope
    ana_id = f"key:{tenant.key_ids['review']}"
    r = client.post(f"{base}/{task_id}/claim", json={}, headers=ana)
    assert r.status_code == 200 and r.json()["status"] == "claimed" and r.json()["claimed_by"] == ana_id
    r = client.post(f"{base}/{task_id}/claim", json={}, headers=bob)
    assert r.status_code == 409 and error_code(r) == "conflict"
    # a client cannot act as another coder: the identity is the key's
    r = client.post(f"{base}/{task_id}/submit", json={"code": "12", "coder_id": ana_id}, headers=bob)
    assert r.status_code == 403 and error_code(r) == "forbidden"
    r = client.post(f"{base}/{task_id}/submit", json={"code": "12", "coder_id": "ana"}, headers=ana)
    assert r.status_code == 403
    r = client.post(f"{base}/{task_id}/submit", json={"code": "99"}, headers=ana)
    assert r.status_code == 422 and error_code(r) == "unknown_code"
    r = client.post(f"{base}/{task_id}/submit", json={"code": "12", "coder_id": ana_id, "time_spent_s": 8.5},
                    headers=ana)
    assert r.status_code == 200
    done = r.json()
    assert (done["status"], done["code"], done["coder_id"], done["time_spent_s"]) == ("done", "12", ana_id, 8.5)
    assert done["submitted_at"] is not None
    export = client.get(f"/v1/projects/{tenant.id}/review/export", headers=tenant.headers("review"))
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 1 and rows[0]["code"] == "12" and rows[0]["text"] == tasks[0]["text"]
    assert rows[0]["coder_id"] == ana_id and rows[0]["record_id"] == tasks[0]["record_id"]
    remaining = client.get(base, headers=tenant.headers("review")).json()
    assert remaining["counts"]["done"] == 1 and task_id not in [t["id"] for t in remaining["tasks"]]
    events = client.get(f"/v1/projects/{tenant.id}/audit", params={"action": "review.submit"},
                        headers=tenant.headers("admin")).json()["events"]
    assert len(events) == 1 and events[0]["details"]["code"] == "12" and events[0]["target"] == str(task_id)

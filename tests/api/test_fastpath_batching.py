"""The lean ``POST /code`` path and micro-batching through the real app (SQLite and PostgreSQL).

Batched requests each get exactly their own records' results, projects never share a model
call, one request's failure does not fail the others in its batch, the fast path answers
what the FastAPI route answers, revocations take effect at once, and /metrics counts it all.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from apikit import error_code, make_tenant
from fastapi.testclient import TestClient

from statcoder.api.app import create_app
from statcoder.api.fastpath import FastCode
from statcoder.service import keys

TEXTS = ["baker bread oven", "butcher meat", "carpenter wood", "electrician cable", "zz qq", "pastry cook"]
COMPARED = ("predicted_code", "predicted_level", "confidence", "decision", "source", "candidates")


def fast_path(app) -> FastCode:
    """Return the app's FastCode middleware instance (the stack is built on the first request)."""
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, FastCode):
        layer = getattr(layer, "app", None)
    assert layer is not None, "FastCode is not in the middleware stack"
    return layer


@pytest.fixture
def gathering_client(settings):
    """An app whose model threads let requests gather for 50 ms, so concurrent requests batch."""
    app = create_app(settings.model_copy(update={"batch_wait_ms": 50.0}), start_worker=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def body(i: int, n: int = 1, *, queue: bool = True) -> dict:
    return {"records": [{"id": f"{i}-{j}", "text": TEXTS[(i + j) % len(TEXTS)], "extra": i} for j in range(n)],
            "queue_review": queue}


def outputs(records: list[dict]) -> list[tuple]:
    return [tuple(str(r[c]) for c in ("id", "extra", *COMPARED)) for r in records]


def test_batched_requests_of_two_projects_each_get_their_own_models_results(
        gathering_client, tmp_path, model_dir, second_model_dir):
    client = gathering_client
    ctx = client.app.state.context
    a = make_tenant(ctx, "alpha", tmp_path / "cls-a", model_dir)
    b = make_tenant(ctx, "beta", tmp_path / "cls-b", second_model_dir)
    work = [(t, i, 1 + i % 3) for i in range(16) for t in (a, b)]

    def post(item):
        tenant, i, n = item
        r = client.post(f"/v1/projects/{tenant.id}/code", json=body(i, n, queue=False),
                        headers=tenant.headers("code"))
        assert r.status_code == 200, r.text
        return r.json()

    alone = [post(item) for item in work]
    calls_before = ctx.batcher.calls
    with ThreadPoolExecutor(16) as pool:
        together = list(pool.map(post, work))
    for (tenant, _, _), one, both in zip(work, alone, together, strict=True):
        assert outputs(both["records"]) == outputs(one["records"])
        assert both["model_version"] == one["model_version"]
    # The two projects' models differ, so a shared call would have shown in the comparison;
    # and the 32 concurrent requests were coded in far fewer model calls.
    assert outputs(alone[0]["records"]) != outputs(alone[1]["records"]) or alone[0]["model_version"] != \
        alone[1]["model_version"]
    assert ctx.batcher.calls - calls_before < len(work) / 2


def test_review_tasks_of_a_batch_land_in_each_request_s_own_project(gathering_client, tmp_path, model_dir):
    client = gathering_client
    ctx = client.app.state.context
    a = make_tenant(ctx, "alpha", tmp_path / "cls-a", model_dir)
    b = make_tenant(ctx, "beta", tmp_path / "cls-b", model_dir)
    for t in (a, b):  # every auto record audited too, so every record becomes a task
        assert client.patch(f"/v1/projects/{t.id}", json={"audit_rate": 1.0}, headers=t.headers("admin")).status_code == 200
    work = [(t, i) for i in range(10) for t in (a, b)]

    def post(item):
        tenant, i = item
        r = client.post(f"/v1/projects/{tenant.id}/code", json=body(i, 2), headers=tenant.headers("code"))
        assert r.status_code == 200, r.text
        return tenant, i, r.json()["records"]

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(post, work))
    for tenant, i, records in results:
        for rec in records:
            task = client.get(f"/v1/projects/{tenant.id}/review/tasks/{rec['review_task_id']}",
                              headers=tenant.headers("review"))
            assert task.status_code == 200, task.text
            assert task.json()["record_id"] == rec["id"] and task.json()["text"] == rec["text"]
            other = b if tenant is a else a
            r = client.get(f"/v1/projects/{other.id}/review/tasks/{rec['review_task_id']}",
                           headers=other.headers("review"))
            assert r.status_code == 404


def test_a_failing_request_does_not_fail_the_others_in_its_batch(gathering_client, tmp_path, model_dir):
    client = gathering_client
    ctx = client.app.state.context
    a = make_tenant(ctx, "alpha", tmp_path / "cls-a", model_dir)
    assert client.post(f"/v1/projects/{a.id}/code", json=body(0), headers=a.headers("code")).status_code == 200
    coder = next(iter(ctx.models._coders.values()))
    real_code = coder.code_texts

    def code(texts, **kwargs):  # a model fault that one record triggers (e.g. a bad text)
        if "poison record" in texts:
            raise ValueError("model fault")
        return real_code(texts, **kwargs)

    coder.code_texts = code
    bodies = [body(i) for i in range(8)]
    bodies[3] = {"records": [{"id": "p", "text": "poison record"}]}
    barrier = threading.Barrier(8)

    def post(b):
        barrier.wait()
        return client.post(f"/v1/projects/{a.id}/code", json=b, headers=a.headers("code"))

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, bodies))
    assert [r.status_code for r in responses] == [200, 200, 200, 500, 200, 200, 200, 200]
    assert error_code(responses[3]) == "internal_error"
    for b, r in zip(bodies, responses, strict=True):
        if r.status_code == 200:
            assert [rec["id"] for rec in r.json()["records"]] == [rec["id"] for rec in b["records"]]


def test_the_fast_path_answers_what_the_route_answers(client, tenant):
    url, headers = f"/v1/projects/{tenant.id}/code", tenant.headers("code")
    first = client.post(url, json=body(1, 3, queue=False), headers=headers)
    fast = fast_path(client.app)
    served = fast.served
    via_fast = client.post(url, json=body(1, 3, queue=False), headers=headers)
    assert fast.served == served + 1
    fast.enabled = False
    try:
        via_route = client.post(url, json=body(1, 3, queue=False), headers=headers)
    finally:
        fast.enabled = True
    assert fast.served == served + 1
    assert first.status_code == via_fast.status_code == via_route.status_code == 200
    assert via_fast.json() == via_route.json()
    assert via_fast.headers["content-type"] == via_route.headers["content-type"] == "application/json"


@pytest.mark.parametrize("case", ["bad_json", "invalid", "no_key", "wrong_key", "other_project", "text_plain",
                                  "too_many"])
def test_requests_the_fast_path_declines_get_the_route_s_answer(client, tenant, other_tenant, case):
    url, headers = f"/v1/projects/{tenant.id}/code", tenant.headers("code")
    client.post(url, json=body(0), headers=headers)  # key and project now cached
    fast = fast_path(client.app)
    requests = {
        "bad_json": {"content": b'{"records": [', "headers": {**headers, "Content-Type": "application/json"}},
        "invalid": {"json": {"records": [], "top_k": 0}, "headers": headers},
        "no_key": {"json": body(0)},
        "wrong_key": {"json": body(0), "headers": {"X-API-Key": "sc_nope_nope"}},
        "other_project": {"json": body(0), "headers": other_tenant.headers("code")},
        "text_plain": {"content": b'{"records": [{"text": "baker"}]}', "headers": {**headers, "Content-Type": "text/plain"}},
        "too_many": {"json": {"records": [{"text": "x"}] * 2000}, "headers": headers},
    }[case]
    responses = []
    for enabled in (True, False):
        fast.enabled = enabled
        try:
            responses.append(client.post(url, **requests))
        finally:
            fast.enabled = True
    with_fast, route_only = responses
    assert with_fast.status_code == route_only.status_code and with_fast.status_code >= 400
    assert with_fast.json() == route_only.json()
    assert error_code(with_fast)


def test_a_revoked_key_is_refused_at_once_on_the_fast_path(client, ctx, tenant):
    url, headers = f"/v1/projects/{tenant.id}/code", tenant.headers("code")
    assert client.post(url, json=body(0), headers=headers).status_code == 200  # cached now
    keys.revoke_key(ctx, tenant.id, tenant.key_ids["code"], actor="cli:test")
    r = client.post(url, json=body(0), headers=headers)
    assert r.status_code == 401 and error_code(r) == "revoked_key"


def test_metrics_count_fast_path_requests_and_model_calls(client, tenant):
    url, headers = f"/v1/projects/{tenant.id}/code", tenant.headers("code")
    for i in range(5):
        assert client.post(url, json=body(i, 2), headers=headers).status_code == 200
    text = client.get("/metrics").text
    counted = re.search(r'statcoder_http_requests_total\{method="POST",route="/v1/projects/\{project_id\}/code",'
                        r'status="200"\} (\S+)', text)
    assert counted is not None and float(counted.group(1)) >= 5
    calls = re.search(r"^statcoder_model_call_records_count (\S+)$", text, re.MULTILINE)
    records = re.search(r"^statcoder_model_call_records_sum (\S+)$", text, re.MULTILINE)
    assert calls is not None and float(calls.group(1)) >= 1
    assert records is not None and float(records.group(1)) >= 10

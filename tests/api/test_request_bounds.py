"""``POST /code`` bounds the work of every request and shares the server fairly (issue 15)."""

from __future__ import annotations

import threading

import pytest
from apikit import error_code

from statcoder.api.app import create_app


def _code(client, tenant, records, **more):
    return client.post(f"/v1/projects/{tenant.id}/code", json={"records": records, **more},
                       headers=tenant.headers("code"))


def test_auxiliary_fields_stay_with_their_record(client, tenant):
    records = [{"id": "1", "text": "baker bread", "a": "x"}, {"id": "2", "text": "carpenter wood", "b": 7}]
    r = _code(client, tenant, records)
    assert r.status_code == 200, r.text
    first, second = r.json()["records"]
    assert first["a"] == "x" and "b" not in first  # no widening to the union of the batch
    assert second["b"] == "7" and "a" not in second


def test_fields_per_record_and_distinct_names_per_batch_are_bounded(client, tenant, settings):
    wide = {"id": "1", "text": "baker", **{f"f{i}": "v" for i in range(settings.max_record_fields)}}
    r = _code(client, tenant, [wide])
    assert r.status_code == 413 and error_code(r) == "payload_too_large"
    # the red-team shape: many records, each with its own field names
    records = [{"text": "baker", **{f"r{i}_{j}": "v" for j in range(20)}} for i in range(50)]
    r = _code(client, tenant, records)
    assert r.status_code == 413 and "distinct field names" in r.json()["error"]["message"]
    r = _code(client, tenant, [{"text": "baker", "x" * 201: "v"}])
    assert r.status_code == 422


def test_the_answer_size_is_bounded(tmp_path, settings, tenant_factory):
    small = settings.model_copy(update={"max_response_bytes": 2000})
    with tenant_factory(small) as (client, tenant):
        r = _code(client, tenant, [{"id": str(i), "text": "baker bread"} for i in range(20)], top_k=4)
        assert r.status_code == 413 and error_code(r) == "payload_too_large"
        assert _code(client, tenant, [{"id": "1", "text": "baker"}], top_k=1).status_code == 200


def test_one_projects_full_share_does_not_delay_another_project(client, ctx, tenant, other_tenant):
    """Fair share at small scale: with alpha's whole share in flight, alpha's next request
    waits while beta's request is answered; alpha's follows once capacity frees up."""
    gate = ctx.gate
    ticket = client.portal.call(gate.acquire, tenant.id, ctx.settings.project_records_in_flight)
    answers: dict[str, int] = {}
    started = threading.Event()

    def alpha():
        started.set()
        answers["alpha"] = _code(client, tenant, [{"text": "baker"}]).status_code

    thread = threading.Thread(target=alpha)
    thread.start()
    started.wait()
    for _ in range(200):  # until alpha's request is queued at the gate
        if client.portal.call(lambda: gate.waiting(tenant.id)):
            break
        threading.Event().wait(0.01)
    assert client.portal.call(lambda: gate.waiting(tenant.id)) == 1
    assert _code(client, other_tenant, [{"text": "carpenter"}]).status_code == 200
    assert "alpha" not in answers  # still waiting for its project's share
    client.portal.call(gate.release, tenant.id, ticket)
    thread.join(30)
    assert answers == {"alpha": 200}


@pytest.fixture
def tenant_factory(tmp_path, model_dir):
    from contextlib import contextmanager

    from apikit import make_tenant
    from fastapi.testclient import TestClient

    @contextmanager
    def factory(settings):
        with TestClient(create_app(settings, start_worker=False), raise_server_exceptions=False) as client:
            yield client, make_tenant(client.app.state.context, "alpha", tmp_path / "cls-a", model_dir)

    return factory

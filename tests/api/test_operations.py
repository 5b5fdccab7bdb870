"""Health, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations


def test_health_and_ready(client, tenant):
    assert client.get("/health").json() == {"status": "ok", "checks": {}}
    r = client.get("/ready")
    assert r.status_code == 200 and r.json()["checks"] == {"database": True, "models": True}


def test_ready_is_503_when_an_active_model_cannot_be_loaded(client, ctx, tenant):
    import shutil

    version = client.get(f"/v1/projects/{tenant.id}", headers=tenant.headers()).json()["active_model_version"]
    ctx.models._coders.clear()  # as after a restart, with the model files gone
    shutil.rmtree(ctx.data_dir / "models" / tenant.id / version)
    r = client.get("/ready")
    assert r.status_code == 503 and r.json() == {"status": "unavailable", "checks": {"database": True, "models": False}}


def test_metrics_count_requests_latency_and_decisions(client, tenant):
    body = {"records": [{"text": "baker bread"}, {"text": "electrician wiring"}, {"text": "?"}]}
    decisions = [r["decision"] for r in client.post(
        f"/v1/projects/{tenant.id}/code", json=body, headers=tenant.headers("code")).json()["records"]]
    text = client.get("/metrics").text
    assert 'statcoder_http_requests_total{method="POST",route="/v1/projects/{project_id}/code",status="200"} 1.0' in text
    assert 'statcoder_http_request_duration_seconds_bucket{le="0.05",method="POST",route="/v1/projects/{project_id}/code"}' in text
    for decision in set(decisions):
        expected = float(decisions.count(decision))
        assert f'statcoder_records_coded_total{{decision="{decision}",via="sync"}} {expected}' in text
    assert "alpha" not in text  # the unauthenticated endpoint does not name tenants


def test_openapi_and_docs_are_served(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/projects/{project_id}/code" in spec["paths"]
    assert client.get("/docs").status_code == 200

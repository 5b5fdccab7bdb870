"""Client mistakes get the right 4xx with {"error": {code, message, hint}}; never a 500."""

from __future__ import annotations

import logging
from datetime import timedelta

from apikit import error_code

from statcoder.service import keys
from statcoder.store import utcnow
from statcoder.store.projects import KeyRepository

SECRET_TEXT = "zz-personal-text-marker-4711"


def code_url(tenant) -> str:
    return f"/v1/projects/{tenant.id}/code"


def test_malformed_json_is_400(client, tenant):
    r = client.post(code_url(tenant), content=b'{"records": [', headers={
        **tenant.headers("code"), "Content-Type": "application/json"})
    assert r.status_code == 400 and error_code(r) == "malformed_json"


def test_wrong_types_are_422_without_echoing_values(client, tenant):
    r = client.post(code_url(tenant), json={"records": "nope " + SECRET_TEXT}, headers=tenant.headers("code"))
    assert r.status_code == 422 and error_code(r) == "invalid_request"
    assert SECRET_TEXT not in r.text
    r = client.post(code_url(tenant), json={"records": [{"text": ["a"]}]}, headers=tenant.headers("code"))
    assert r.status_code == 422
    r = client.post(code_url(tenant), json={"records": [{"text": "a"}], "top_k": 0}, headers=tenant.headers("code"))
    assert r.status_code == 422


def test_missing_text_field_is_422(client, tenant):
    r = client.post(code_url(tenant), json={"records": [{"label": "x"}]}, headers=tenant.headers("code"))
    assert r.status_code == 422 and error_code(r) == "invalid_input"
    assert "records[0]" in r.json()["error"]["message"]


def test_unknown_project_and_route(client, tenant):
    r = client.post("/v1/projects/nope/code", json={"records": [{"text": "a"}]}, headers=tenant.headers("code"))
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = client.get("/v1/nothing-here", headers=tenant.headers())
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = client.put(code_url(tenant), headers=tenant.headers())
    assert r.status_code == 405 and error_code(r) == "method_not_allowed"


def test_missing_invalid_expired_and_revoked_keys_are_401(client, ctx, tenant):
    body = {"records": [{"text": "baker"}]}
    r = client.post(code_url(tenant), json=body)
    assert r.status_code == 401 and error_code(r) == "missing_key"
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.post(code_url(tenant), json=body, headers={"Authorization": "Bearer sc_abc_def"})
    assert r.status_code == 401 and error_code(r) == "invalid_key"
    r = client.post(code_url(tenant), json=body, headers={"X-API-Key": "garbage"})
    assert r.status_code == 401 and error_code(r) == "invalid_key"
    issued = keys.issue_key(ctx, tenant.id, scopes=["code"], actor="t", expires_at=utcnow() + timedelta(hours=1))
    assert client.post(code_url(tenant), json=body, headers={"X-API-Key": issued.secret}).status_code == 200
    with ctx.db.write() as session:
        KeyRepository(session).get(issued.key.id).expires_at = utcnow() - timedelta(seconds=1)
    ctx.auth_cache.clear()  # as after STATCODER_AUTH_CACHE_SECONDS: the change was made out of band
    r = client.post(code_url(tenant), json=body, headers={"X-API-Key": issued.secret})
    assert r.status_code == 401 and error_code(r) == "expired_key"
    r = client.delete(f"/v1/projects/{tenant.id}/keys/{tenant.key_ids['code']}", headers=tenant.headers("admin"))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = client.post(code_url(tenant), json=body, headers=tenant.headers("code"))
    assert r.status_code == 401 and error_code(r) == "revoked_key"


def test_batch_and_text_limits(client, tenant, settings):
    ok = client.post(code_url(tenant), json={"records": [{"text": "baker"}] * 1000}, headers=tenant.headers("code"))
    assert ok.status_code == 200 and len(ok.json()["records"]) == 1000
    r = client.post(code_url(tenant), json={"records": [{"text": "b"}] * 1001}, headers=tenant.headers("code"))
    assert r.status_code == 413 and error_code(r) == "payload_too_large"
    r = client.post(code_url(tenant), json={"records": []}, headers=tenant.headers("code"))
    assert r.status_code == 422
    long_text = "x" * (settings.max_text_length + 1)
    r = client.post(code_url(tenant), json={"records": [{"text": long_text}]}, headers=tenant.headers("code"))
    assert r.status_code == 413 and error_code(r) == "payload_too_large"


def test_oversize_bodies_are_413_with_or_without_content_length(client, tenant, settings):
    big = b'{"records": [{"text": "' + b"a" * settings.max_request_bytes + b'"}]}'
    r = client.post(code_url(tenant), content=big, headers={**tenant.headers("code"), "Content-Type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "payload_too_large"

    def chunks():
        for _ in range(10):
            yield b"a" * (settings.max_request_bytes // 5)

    r = client.post(code_url(tenant), content=chunks(), headers={**tenant.headers("code"), "Content-Type": "application/json"})
    assert r.status_code == 413 and error_code(r) == "payload_too_large"


def test_record_texts_never_reach_the_logs(client, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    texts = [{"id": "1", "text": f"baker {SECRET_TEXT}"}]
    assert client.post(code_url(tenant), json={"records": texts}, headers=tenant.headers("code")).status_code == 200
    client.post(code_url(tenant), json={"records": [{"text": SECRET_TEXT * 100}]}, headers=tenant.headers("code"))
    client.post(code_url(tenant), json={"records": [{"wrong": SECRET_TEXT}]}, headers=tenant.headers("code"))
    assert SECRET_TEXT not in caplog.text


def test_the_access_log_shows_no_query_string_and_no_free_text_in_paths():
    """A careless client puts its key in the query string or free text in a path: uvicorn's access
    line printed both."""
    import logging

    from statcoder.api.server import AccessLogFilter, configure_logging, loggable_path

    assert loggable_path("/v1/projects/pa/jobs?api_key=sc_0877abc_secret") == "/v1/projects/pa/jobs?…"
    assert loggable_path("/v1/projects/pa/jobs/SECRETX%20John%20Smith%20HIV") == "/v1/projects/pa/jobs/…"
    assert loggable_path("/v1/projects/lfs-isco/review/tasks/123") == "/v1/projects/lfs-isco/review/tasks/123"
    assert loggable_path("/v1/projects/p/jobs/" + "a" * 65) == "/v1/projects/p/jobs/…"
    assert loggable_path("/v1/projects/p1/jobs/sc_0e1ae10fa79f_8xI-secret") == "/v1/projects/p1/jobs/…"  # a key
    ours, access = logging.getLogger("statcoder"), logging.getLogger("uvicorn.access")
    saved = (list(ours.handlers), ours.level, ours.propagate, list(access.filters))
    ours.handlers.clear()
    try:
        configure_logging("warning")
        configure_logging("warning")  # once per process: no second filter
        filters = [f for f in access.filters if isinstance(f, AccessLogFilter)]
        assert len(filters) == 1
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                                   ("127.0.0.1:5", "GET", "/v1/projects/pa/jobs?api_key=sc_x_y", "1.1", 200), None)
        assert filters[0].filter(record) and "sc_x_y" not in record.getMessage()
    finally:  # this pytest process's other tests read statcoder's records through the root logger
        ours.handlers[:], access.filters[:] = saved[0], saved[3]
        ours.setLevel(saved[1])
        ours.propagate = saved[2]


def test_a_not_found_message_never_echoes_free_text_sent_as_an_id(client, tenant):
    base = f"/v1/projects/{tenant.id}"
    r = client.get(f"{base}/jobs/SECRETX John Smith HIV", headers=tenant.headers("code"))
    assert r.status_code == 404 and "SECRETX" not in r.text and "job with that id not found" in r.text
    r = client.get(f"{base}/jobs/0123abcd", headers=tenant.headers("code"))
    assert r.status_code == 404 and "'0123abcd'" in r.text  # a plain id is shown
    r = client.post(f"{base}/models/Smith%20HIV/promote", headers=tenant.headers("admin"))
    assert r.status_code in (404, 422) and "Smith" not in r.text


def test_a_trailing_slash_is_a_json_404_not_a_redirect_to_the_host_the_client_names(client, tenant):
    r = client.post(f"/v1/projects/{tenant.id}/code/", json={"records": [{"text": "baker"}]},
                    headers={**tenant.headers("code"), "Host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 404 and error_code(r) == "not_found" and "location" not in r.headers

"""What a client sends is what is stored and answered, or a clear 4xx (SQLite and PostgreSQL).

Found by a new-user tryout of the service: auxiliary fields of ``POST /code`` records were not
kept with their review tasks, task ids past 32 bits gave a misleading error on PostgreSQL only,
an integer past 64 bits was answered differently by the fast path and the route, NaN was
accepted and stored as "nan", long record ids were cut silently, and a body that is not UTF-8
or not JSON got a vague answer.
"""

from __future__ import annotations

import pytest
from apikit import error_code
from test_fastpath_batching import fast_path

from statcoder.service import projects


def _code(client, tenant, payload: dict):
    return client.post(f"/v1/projects/{tenant.id}/code", json=payload, headers=tenant.headers("code"))


def test_a_queued_record_keeps_its_other_fields_and_the_task_shows_them(client, ctx, tenant):
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")  # every record is queued
    records = [{"id": "a1", "text": "baker bread", "region": "Nörth", "age": 41, "remote": True, "note": None},
               {"id": "a2", "text": "carpenter wood"}]
    r = _code(client, tenant, {"records": records})
    assert r.status_code == 200, r.text
    answered = r.json()["records"]
    base = f"/v1/projects/{tenant.id}/review/tasks"
    with_fields = client.get(f"{base}/{answered[0]['review_task_id']}", headers=tenant.headers("review")).json()
    # the text and the id are the task's text and record_id; the rest are its auxiliary fields, as text
    assert with_fields["fields"] == {"region": "Nörth", "age": "41", "remote": "true", "note": ""}
    assert with_fields["record_id"] == "a1"
    assert answered[0]["remote"] == "true"  # the answer and the task say true/false as JSON does
    p = [c["p"] for c in answered[0]["candidates"]]
    assert with_fields["margin"] == pytest.approx(p[0] - (p[1] if len(p) > 1 else 0.0), abs=1e-3)
    without = client.get(f"{base}/{answered[1]['review_task_id']}", headers=tenant.headers("review")).json()
    assert without["fields"] is None


def test_a_request_without_other_fields_stores_none(client, ctx, tenant):
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    r = _code(client, tenant, {"records": [{"id": str(i), "text": "baker bread"} for i in range(5)]})
    assert r.status_code == 200
    tasks = client.get(f"/v1/projects/{tenant.id}/review/tasks", headers=tenant.headers("review")).json()["tasks"]
    assert len(tasks) == 5 and all(t["fields"] is None for t in tasks)


@pytest.mark.parametrize(("path", "params"), [
    ("/review/tasks/2147483648", {}), ("/review/tasks", {"after_id": 2**40}),
    ("/monitoring/2147483648", {}), ("/audit", {"before_id": 2**31}),
])
def test_ids_past_32_bits_are_refused_alike_on_both_stores(client, tenant, path, params):
    r = client.get(f"/v1/projects/{tenant.id}{path}", params=params, headers=tenant.headers("all"))
    assert r.status_code == 422 and error_code(r) == "invalid_request", r.text
    assert "2147483647" in r.json()["error"]["message"]
    inside = client.get(f"/v1/projects/{tenant.id}/review/tasks/2147483647", headers=tenant.headers("review"))
    assert inside.status_code == 404


def test_an_integer_past_64_bits_is_answered_exactly_with_or_without_the_fast_path(client, tenant):
    payload = {"records": [{"id": 10**25, "text": "baker bread", "n": 2**64}], "queue_review": False}
    fast = fast_path(client.app)
    answers = []
    for enabled in (True, False):
        fast.enabled = enabled
        try:
            answers.append(_code(client, tenant, payload))
        finally:
            fast.enabled = True
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].json() == answers[1].json()
    record = answers[0].json()["records"][0]
    assert (record["id"], record["n"]) == (str(10**25), str(2**64))


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_are_refused(client, tenant, token):
    body = b'{"records": [{"id": "1", "text": "baker", "x": ' + token + b"}]}"
    r = client.post(f"/v1/projects/{tenant.id}/code", content=body,
                    headers={**tenant.headers("code"), "Content-Type": "application/json"})
    assert r.status_code == 422 and error_code(r) == "invalid_request", r.text
    message = r.json()["error"]["message"]
    # one problem for the one value, not its failure against each type a value may have
    assert message.endswith("records.0.x: must be a finite number (NaN and infinities are not accepted)"), message
    assert ";" not in message


@pytest.mark.parametrize("value", [[1], {"a": 1}])
def test_a_field_value_that_is_no_scalar_gets_one_message(client, tenant, value):
    r = _code(client, tenant, {"records": [{"id": "1", "text": "baker"}, {"id": "2", "text": "cook", "x": value}]})
    assert r.status_code == 422 and error_code(r) == "invalid_request", r.text
    assert r.json()["error"]["message"] == "body.records.1.x: must be text, a number, true/false or null"


def test_a_boolean_id_is_written_as_json_writes_it(client, ctx, tenant):
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    r = _code(client, tenant, {"records": [{"id": True, "text": "baker bread"}]})
    record = r.json()["records"][0]
    assert record["id"] == "true"
    task = client.get(f"/v1/projects/{tenant.id}/review/tasks/{record['review_task_id']}",
                      headers=tenant.headers("review")).json()
    assert task["record_id"] == "true"


def test_a_boolean_option_takes_a_boolean_only(client, tenant):
    r = _code(client, tenant, {"records": [{"text": "baker"}], "queue_review": "yes"})
    assert r.status_code == 422 and "queue_review" in r.json()["error"]["message"]


def test_a_record_id_too_long_to_store_is_refused_not_cut(client, tenant):
    r = _code(client, tenant, {"records": [{"id": "ok", "text": "baker"}, {"id": "x" * 201, "text": "baker"}]})
    assert r.status_code == 422 and error_code(r) == "invalid_input"
    error = r.json()["error"]
    assert "records[1].id" in error["message"] and "200" in error["message"] and "x" * 20 not in error["message"]
    assert _code(client, tenant, {"records": [{"id": "x" * 200, "text": "baker"}]}).status_code == 200
    r = _code(client, tenant, {"records": [{"id": 10**210, "text": "baker"}]})  # a number as long
    assert r.status_code == 422 and error_code(r) == "invalid_input"


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b'{"records": [{"text": "b\xe4cker"}]}', "application/json", 400, "malformed_json"),  # Latin-1, not UTF-8
    (b'{"records": [{"text": "baker"}]}', "text/plain", 415, "unsupported_media_type"),
    (b"records=baker", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"records": [{"text": "baker"}]}', "application/jsonx", 415, "unsupported_media_type"),
])
def test_a_body_that_is_not_json_says_so(client, tenant, body, content_type, status, code):
    r = client.post(f"/v1/projects/{tenant.id}/code", content=body,
                    headers={**tenant.headers("code"), "Content-Type": content_type})
    assert r.status_code == status and error_code(r) == code, r.text
    assert "application/json" in r.json()["error"]["hint"]


def test_a_record_without_an_id_has_a_null_record_id_on_its_task(client, ctx, tenant):
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")
    r = _code(client, tenant, {"records": [{"text": "baker bread"}, {"id": None, "text": "baker bread"},
                                           {"id": 7, "text": "baker bread"}]})
    assert r.status_code == 200
    base = f"/v1/projects/{tenant.id}/review/tasks"
    got = [client.get(f"{base}/{rec['review_task_id']}", headers=tenant.headers("review")).json()["record_id"]
           for rec in r.json()["records"]]
    assert got == [None, None, "7"]


def test_a_malformed_upload_is_a_400_that_does_not_speak_of_json(client, tenant):
    r = client.post(f"/v1/projects/{tenant.id}/jobs", content=b"garbage without a boundary",
                    headers={**tenant.headers("code"), "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400 and error_code(r) == "bad_request", r.text
    error = r.json()["error"]
    assert "JSON" not in error["message"] + error["hint"] and "multipart/form-data" in error["hint"]


def test_a_non_finite_time_spent_is_refused_as_such(client, tenant):
    r = client.post(f"/v1/projects/{tenant.id}/review/tasks/1/submit", content=b'{"code": "11", "time_spent_s": NaN}',
                    headers={**tenant.headers("review"), "Content-Type": "application/json"})
    assert r.status_code == 422 and "finite number" in r.json()["error"]["message"], r.text

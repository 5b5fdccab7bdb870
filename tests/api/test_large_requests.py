"""Large ``POST /code`` requests (SQLite and PostgreSQL): the event-loop path (up to 200 records)
and the thread-pool path give exactly ``Coder.code``'s answers, and their review tasks hold
exactly the records decided ``review``, with ids in record order (the bulk insert allocates ids
up front)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from kit import WORDS

from statcoder.api.routers.coding import INLINE_RECORDS
from statcoder.coder import Coder
from statcoder.service import projects
from statcoder.service.review import candidate_margin
from statcoder.store.review import ReviewRepository

OUTPUTS = ("predicted_code", "predicted_level", "decision", "source")


def texts(n: int) -> list[str]:
    """Varied texts: clear ones, mixed ones (two codes) and unknown words, so every decision occurs."""
    words = [w for ws in WORDS.values() for w in ws]
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(f"{words[i % len(words)]} {words[(i * 7) % len(words)]}")
        elif kind == 1:
            out.append(words[i % len(words)])
        elif kind == 2:
            out.append(f"zq{i} xv{i * 3}")
        else:
            out.append(f"{words[(i * 5) % len(words)]} helper {i}")
    return out


@pytest.mark.parametrize("n", [150, INLINE_RECORDS + 100])
def test_large_requests_answer_what_coder_code_answers_and_queue_exactly_the_review_records(
        client, ctx, tenant, model_dir, n):
    projects.update_settings(ctx, tenant.id, audit_rate=0.0, actor="t")  # tasks: exactly the reviews
    records = [{"id": f"r{i}", "text": t, "wave": str(i % 3)} for i, t in enumerate(texts(n))]
    r = client.post(f"/v1/projects/{tenant.id}/code", json={"records": records}, headers=tenant.headers("code"))
    assert r.status_code == 200, r.text
    coded = r.json()["records"]
    expected = Coder.load(model_dir).code(pd.DataFrame({"text": [x["text"] for x in records]}),
                                          text_columns=["text"], top_k=5).to_dict("records")
    assert len(coded) == n
    for got, sent, exp in zip(coded, records, expected, strict=True):
        assert {k: got[k] for k in sent} == sent
        assert {c: got[c] for c in OUTPUTS} == {c: exp[c] for c in OUTPUTS}
        assert got["confidence"] == pytest.approx(exp["confidence"], abs=1e-12)
        assert got["candidates"] == json.loads(exp["candidates"])
    reviews = [i for i, e in enumerate(expected) if e["decision"] == "review"]
    assert reviews and len(reviews) < n  # the texts give both kinds
    ids = [coded[i]["review_task_id"] for i in reviews]
    assert all(c["review_task_id"] is None for i, c in enumerate(coded) if i not in set(reviews))
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    with ctx.db.read() as session:
        repo = ReviewRepository(session)
        assert repo.counts(tenant.id) == {"open": len(reviews)}
        for i, task_id in zip(reviews, ids, strict=True):
            task, exp = repo.get(tenant.id, task_id), expected[i]
            assert (task.record_id, task.text, task.reason, task.status) == (f"r{i}", records[i]["text"], "review",
                                                                             "open")
            assert (task.predicted_code, task.predicted_level, task.decision) == (
                exp["predicted_code"], exp["predicted_level"], "review")
            assert task.confidence == pytest.approx(exp["confidence"], abs=1e-12)
            assert task.candidates == exp["candidates"] and task.job_id is None
            assert task.margin == pytest.approx(candidate_margin(exp["candidates"]))
            assert task.model_version == r.json()["model_version"] and task.created_at is not None


def test_two_requests_tasks_keep_their_own_ids_and_continue_the_sequence(client, ctx, tenant):
    projects.update_settings(ctx, tenant.id, audit_rate=1.0, actor="t")  # every record becomes a task
    first, second = ({"records": [{"id": f"{tag}{i}", "text": t} for i, t in enumerate(texts(120))]}
                     for tag in ("a", "b"))
    a = client.post(f"/v1/projects/{tenant.id}/code", json=first, headers=tenant.headers("code")).json()
    b = client.post(f"/v1/projects/{tenant.id}/code", json=second, headers=tenant.headers("code")).json()
    ids_a = [x["review_task_id"] for x in a["records"]]
    ids_b = [x["review_task_id"] for x in b["records"]]
    assert None not in ids_a and None not in ids_b
    assert ids_a == sorted(ids_a) and ids_b == sorted(ids_b) and max(ids_a) < min(ids_b)
    with ctx.db.read() as session:
        repo = ReviewRepository(session)
        assert [repo.get(tenant.id, i).record_id for i in ids_a + ids_b] == [
            x["id"] for x in a["records"] + b["records"]]

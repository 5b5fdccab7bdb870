"""Review queue: selection of review + audit-sample records, claim, submit, export."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from statcoder.errors import UnknownCodeError
from statcoder.service import audit, projects, review
from statcoder.service.errors import ConflictError, NotFoundError
from statcoder.store.review import ReviewRepository


def test_every_review_record_is_selected_and_auto_records_at_the_audit_rate():
    decisions = ["review"] * 100 + ["auto"] * 20_000 + ["partial"] * 50
    chosen = review.select_for_review(decisions, audit_rate=0.02, rng=np.random.default_rng(1))
    reasons = [reason for _, reason in chosen]
    assert reasons.count("review") == 100
    n_audit = reasons.count("audit")
    # Binomial(20000, 0.02): mean 400, sd 19.8; +-5 sd bounds never fail by chance in practice.
    assert 300 < n_audit < 500
    assert all(decisions[i] in ("auto", "partial") for i, r in chosen if r == "audit")  # partial: issue 15
    assert not review.select_for_review(["auto"] * 1000, audit_rate=0.0, rng=np.random.default_rng(2))


@pytest.fixture
def queued(ctx, classification_csv):
    project = projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    coded = pd.DataFrame({
        "predicted_code": ["11", "2", "12"], "predicted_level": [2, 1, 2],
        "confidence": [0.4, 0.5, 0.99], "decision": ["review", "review", "auto"],
        "candidates": [json.dumps([{"code": "11", "title": "Bakers", "p": 0.4}])] * 3,
    })
    rows, tasks = review.build_tasks(
        project, coded, ["bread maker", "joinery", "butcher shop"], record_ids=["a", "b", "c"],
        model_version="m-1", job_id=None, rng=np.random.default_rng(0),
    )
    assert rows == [0, 1]
    with ctx.db.write() as session:
        ids = ReviewRepository(session).add_many(tasks, return_ids=True)
    return project, ids


def test_claim_submit_and_export(ctx, queued):
    project, (first, second) = queued
    listed = review.list_tasks(ctx, "lfs")
    assert [t.id for t in listed] == [first, second] and listed[0].text == "bread maker"
    review.claim_task(ctx, "lfs", first, coder_id="ana", actor="key:k1")
    with pytest.raises(ConflictError):
        review.claim_task(ctx, "lfs", first, coder_id="bob", actor="key:k2")
    with pytest.raises(ConflictError):
        review.submit_task(ctx, project, first, code="11", coder_id="bob", time_spent_s=3, actor="key:k2")
    with pytest.raises(UnknownCodeError):
        review.submit_task(ctx, project, first, code="99", coder_id="ana", time_spent_s=3, actor="key:k1")
    done = review.submit_task(ctx, project, first, code="11", coder_id="ana", time_spent_s=12.5, actor="key:k1")
    assert (done.status, done.code, done.coder_id, done.time_spent_s) == ("done", "11", "ana", 12.5)
    assert done.submitted_at is not None
    with pytest.raises(ConflictError):  # a decision is final
        review.submit_task(ctx, project, first, code="12", coder_id="ana", time_spent_s=1, actor="key:k1")
    assert review.queue_counts(ctx, "lfs") == {"open": 1, "claimed": 0, "done": 1}
    rows = list(csv.DictReader(io.StringIO("".join(review.export_labelled_csv(ctx, "lfs")))))
    assert len(rows) == 1
    assert (rows[0]["text"], rows[0]["code"], rows[0]["coder_id"], rows[0]["record_id"]) == (
        "bread maker", "11", "ana", "a")
    actions = [e.action for e in audit.read_log(ctx, "lfs")]
    assert actions[:2] == ["review.submit", "review.claim"]
    # the audit log keeps ids and codes, never the record text
    assert all("bread" not in e.details for e in audit.read_log(ctx, "lfs"))


def test_tasks_of_another_project_are_not_found(ctx, queued, classification_csv):
    _, (first, _) = queued
    other = projects.create_project(ctx, "other", name="O", classification_csv=classification_csv, actor="t")
    assert review.list_tasks(ctx, "other") == []
    with pytest.raises(NotFoundError):
        review.claim_task(ctx, "other", first, coder_id="x", actor="t")
    with pytest.raises(NotFoundError):
        review.submit_task(ctx, other, first, code="11", coder_id="x", time_spent_s=1, actor="t")
    with pytest.raises(NotFoundError):
        review.get_task(ctx, "other", first)

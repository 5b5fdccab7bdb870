"""Queue, leases, decisions, undo, double coding and adjudication — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from webkit import account, queue

from statcoder.errors import InputError, UnknownCodeError
from statcoder.service.errors import ConflictError, NotFoundError
from statcoder.service.review import get_task
from statcoder.service.workbench import queue as wq
from statcoder.service.workbench import stats
from statcoder.service.workbench.decisions import (
    CodeTooDeepError,
    StaleTaskError,
    decide,
    resolve,
    undo_last,
    validate,
)
from statcoder.store import utcnow
from statcoder.store.workbench_tables import TaskClaim, TaskDecision


def _decisions(ctx, task_id=None):
    with ctx.db.read() as session:
        query = select(TaskDecision).order_by(TaskDecision.id)
        if task_id is not None:
            query = query.where(TaskDecision.task_id == task_id)
        return list(session.scalars(query))


def _code(ctx, project, who, task_id, code, **more):
    choice = validate(ctx, project, action="code", code=code, **more)
    return decide(ctx, project, who, task_id, choice, time_spent_s=3.0)


def test_two_coders_never_hold_the_same_task_and_leases_expire(ctx, project):
    ids = queue(ctx, project, ["bread oven", "wiring cable"])
    ana, bob, cy = (account(ctx, "alpha", u) for u in ("ana", "bob", "cy"))
    first = wq.next_task(ctx, "alpha", ana)
    assert wq.next_task(ctx, "alpha", ana) == first  # a reload shows the same record
    second = wq.next_task(ctx, "alpha", bob)
    assert {first, second} == set(ids)
    assert wq.next_task(ctx, "alpha", cy) is None  # both held
    assert not wq.open_task(ctx, "alpha", cy, first)  # not by address either
    # ana closes the tab: her lease runs out, cy may take the record
    with ctx.db.write() as session:
        session.execute(update(TaskClaim).where(TaskClaim.task_id == first)
                        .values(lease_until=utcnow() - timedelta(seconds=1)))
    assert wq.next_task(ctx, "alpha", cy) == first
    # ana's stale page submits: refused with a clear message, nothing stored
    with pytest.raises(StaleTaskError, match="another coder has it now"):
        _code(ctx, project, ana, first, "11")
    assert _decisions(ctx, first) == []
    assert _code(ctx, project, cy, first, "11") == "done"
    with pytest.raises(StaleTaskError, match="already finished"):
        _code(ctx, project, ana, first, "12")
    task = get_task(ctx, "alpha", first)
    assert (task.status, task.code, task.coder_id) == ("done", "11", "cy")
    # cy's answer was lost and the page sends the same decision again: stored once, no error
    assert _code(ctx, project, cy, first, "11") == "done"
    assert [(d.username, d.code) for d in _decisions(ctx, first)] == [("cy", "11")]
    with pytest.raises(StaleTaskError, match="you have already decided this record") as exc:
        _code(ctx, project, cy, first, "12")
    assert "Undo" in exc.value.hint
    assert [(d.username, d.code) for d in _decisions(ctx, first)] == [("cy", "11")]


def test_expired_lease_nobody_took_still_accepts_the_decision(ctx, project):
    (task_id,) = queue(ctx, project, ["timber joiner"])
    ana = account(ctx, "alpha", "ana")
    assert wq.next_task(ctx, "alpha", ana) == task_id
    with ctx.db.write() as session:
        session.execute(update(TaskClaim).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert _code(ctx, project, ana, task_id, "21") == "done"


def test_bad_input_is_refused_with_the_field_named_and_nothing_stored(ctx, project, tmp_path, model_dir):
    from webkit import make_project

    make_project(ctx, "beta", tmp_path / "cls-beta", model_dir)
    (task_id,) = queue(ctx, project, ["bread oven"])
    (foreign,) = queue(ctx, make_project.__globals__["projects"].get_project(ctx, "beta"), ["meat"])
    ana = account(ctx, "alpha", "ana")
    wq.next_task(ctx, "alpha", ana)
    with pytest.raises(UnknownCodeError) as unknown:
        validate(ctx, project, action="code", code="99")
    assert unknown.value.where == "code"
    with pytest.raises(InputError) as empty:
        validate(ctx, project, action="code", code="  ")
    assert empty.value.where == "code"
    with pytest.raises(CodeTooDeepError) as deep:
        validate(ctx, project, action="code", code="111")
    assert deep.value.where == "code" and "deeper" in deep.value.message
    with pytest.raises(InputError) as level:
        validate(ctx, project, action="code", code="1", level=2)
    assert level.value.where == "level"
    with pytest.raises(InputError) as reason:
        validate(ctx, project, action="uncodable", reason="")
    assert reason.value.where == "reason"
    with pytest.raises(NotFoundError):  # a task id of another project
        decide(ctx, project, ana, foreign, validate(ctx, project, action="code", code="11"))
    assert _decisions(ctx) == []
    assert get_task(ctx, "alpha", task_id).status == "claimed"


def test_higher_level_uncodable_refer_and_undo(ctx, project):
    a, b, c = queue(ctx, project, ["bread oven", "something vague", "cable"])
    ana, boss = account(ctx, "alpha", "ana"), account(ctx, "alpha", "boss", "supervisor")
    assert wq.next_task(ctx, "alpha", ana) == a
    assert _code(ctx, project, ana, a, "11", level=1) == "done"  # coded at level 1
    assert get_task(ctx, "alpha", a).code == "1"
    assert wq.next_task(ctx, "alpha", ana) == b
    choice = validate(ctx, project, action="uncodable", reason="too vague", note="one word")
    assert decide(ctx, project, ana, b, choice) == "uncodable"
    # undo the uncodable: the record comes back to ana, the decision row is kept and marked
    assert undo_last(ctx, project, ana) == b
    assert get_task(ctx, "alpha", b).status == "claimed"
    assert _decisions(ctx, b)[0].undone_at is not None
    assert _code(ctx, project, ana, b, "12") == "done"
    assert wq.next_task(ctx, "alpha", ana) == c
    assert decide(ctx, project, ana, c, validate(ctx, project, action="refer", note="?")) == "referred"
    assert resolve(ctx, project, boss, c, validate(ctx, project, action="code", code="22")) == "done"
    # the supervisor acted after ana: her refer can no longer be undone
    with pytest.raises(ConflictError):
        undo_last(ctx, project, ana)
    kinds = [(d.username, d.kind, d.code) for d in _decisions(ctx, c)]
    assert kinds == [("ana", "refer", None), ("boss", "adjudication", "22")]


def test_double_coding_disagreement_goes_to_adjudication_and_keeps_both_codes(ctx, project):
    wq.update_settings(ctx, "alpha", double_coding_rate=1.0, active_learning=False, lease_seconds=600, actor="t")
    t1, t2 = queue(ctx, project, ["bread oven", "wiring cable"])
    ana, bob = account(ctx, "alpha", "ana"), account(ctx, "alpha", "bob")
    boss = account(ctx, "alpha", "boss", "supervisor")
    assert wq.next_task(ctx, "alpha", ana) == t1
    assert wq.next_task(ctx, "alpha", bob) == t1  # the second coder of a double-coded task
    assert _code(ctx, project, ana, t1, "11") == "claimed"  # bob still holds it
    assert _code(ctx, project, ana, t1, "11") == "claimed"  # resent: still one decision of ana's
    assert _code(ctx, project, bob, t1, "12") == "adjudicate"
    assert resolve(ctx, project, boss, t1, validate(ctx, project, action="code", code="11")) == "done"
    task = get_task(ctx, "alpha", t1)
    assert (task.code, task.coder_id) == ("11", "boss")
    assert [(d.username, d.code) for d in _decisions(ctx, t1)] == [("ana", "11"), ("bob", "12"), ("boss", "11")]
    # agreement on the second record: final without a supervisor
    assert wq.next_task(ctx, "alpha", ana) == t2 and wq.next_task(ctx, "alpha", bob) == t2
    _code(ctx, project, ana, t2, "22")
    assert _code(ctx, project, bob, t2, "22") == "done"
    figures = stats.agreement(ctx, project)
    deepest = [r for r in figures["by_pair"] if r["level"] == 2]
    assert deepest[0]["name"] == "ana / bob" and deepest[0]["n"] == 2 and deepest[0]["percent"].k == 1
    top = next(r for r in figures["by_pair"] if r["level"] == 1)
    assert top["percent"].k == 2  # 11 vs 12 agree at level 1


def test_active_learning_orders_by_margin_and_assignment_comes_first(ctx, project):
    ids = queue(ctx, project, ["bread oven", "wood meat", "bread meat"])
    with ctx.db.read() as session:
        from statcoder.service.review import candidate_margin
        from statcoder.store.tables import ReviewTask

        margins = {i: candidate_margin(c) for i, c in session.execute(
            select(ReviewTask.id, ReviewTask.candidates)).all()}
    assert len(set(margins.values())) == 3
    ana, bob = account(ctx, "alpha", "ana"), account(ctx, "alpha", "bob")
    wq.update_settings(ctx, "alpha", double_coding_rate=0.0, active_learning=True, lease_seconds=600, actor="t")
    assert wq.next_task(ctx, "alpha", ana) == min(ids, key=lambda i: (margins[i], i))
    wq.assign_batch(ctx, "alpha", username="bob", n=1, actor="t")
    with ctx.db.read() as session:
        from statcoder.store.tables import ReviewTask

        assigned = session.scalars(select(ReviewTask.id).where(ReviewTask.assigned_to == bob.user_id)).all()
    assert len(assigned) == 1
    assert wq.next_task(ctx, "alpha", bob) == assigned[0]
    with pytest.raises(InputError):
        wq.assign_batch(ctx, "alpha", username="nobody", n=1, actor="t")


def test_audit_accuracy_follows_blind_audit_decisions(ctx, project):
    ids = queue(ctx, project, ["bread oven", "wiring cable", "timber joiner"], reason="audit", decision="auto")
    ana = account(ctx, "alpha", "ana")
    predicted = {i: get_task(ctx, "alpha", i).predicted_code for i in ids}
    for _ in ids:
        task_id = wq.next_task(ctx, "alpha", ana)
        # the coder agrees with the machine on all but the last record
        code = predicted[task_id] if task_id != ids[-1] else ("22" if predicted[task_id] != "22" else "11")
        _code(ctx, project, ana, task_id, code)
    rows = {(r["period"], r["level"]): r["rate"] for r in stats.audit_accuracy(ctx, project)}
    assert rows[("all", 2)].n == 3 and rows[("all", 2)].k == 2
    lo, hi = rows[("all", 2)].lower, rows[("all", 2)].upper
    assert lo == pytest.approx(0.0943, abs=1e-3) and hi == pytest.approx(0.9916, abs=1e-3)  # exact CP 2/3


def test_coders_asking_at_the_same_moment_get_different_records(ctx, project):
    from concurrent.futures import ThreadPoolExecutor

    ids = queue(ctx, project, [f"bread oven {i}" for i in range(8)])
    coders = [account(ctx, "alpha", f"c{i}") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda who: wq.next_task(ctx, "alpha", who), coders))
    assert None not in got and len(set(got)) == 6 and set(got) <= set(ids)
    with ctx.db.read() as session:
        live = session.scalars(select(TaskClaim).where(TaskClaim.lease_until > utcnow())).all()
    assert sorted(c.task_id for c in live) == sorted(got)


def test_api_claims_have_a_lease_that_the_workbench_respects(ctx, project):
    from statcoder.service import review
    from statcoder.store.tables import ReviewTask

    (task_id,) = queue(ctx, project, ["bread oven"])
    review.claim_task(ctx, "alpha", task_id, coder_id="api-coder", actor="key:k")
    ana = account(ctx, "alpha", "ana")
    assert wq.next_task(ctx, "alpha", ana) is None  # held through the API
    with pytest.raises(ConflictError):
        review.claim_task(ctx, "alpha", task_id, coder_id="other", actor="key:k")
    with ctx.db.write() as session:
        session.execute(update(ReviewTask).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert wq.next_task(ctx, "alpha", ana) == task_id  # the API lease ran out
    with pytest.raises(ConflictError):  # and the API coder's late submission is refused
        review.submit_task(ctx, project, task_id, code="11", coder_id="api-coder", time_spent_s=1, actor="key:k")


def test_prediction_sets_on_the_screen_are_the_models(ctx, project):
    from statcoder.service.coding import active_coder
    from statcoder.service.workbench import prediction_sets

    _, coder = active_coder(ctx, project)
    for text in ("bread oven", "oven wiring meat timber", "wood meat"):
        shown = prediction_sets(ctx, project, text)
        assert set(shown) == {0.9, 0.95}
        assert all(shown[c] == coder.prediction_sets([text], coverage=c)[0] for c in shown)
        assert set(shown[0.9]) <= set(shown[0.95])

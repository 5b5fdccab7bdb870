"""Coders' decisions: code (any level), uncodable, refer; undo; adjudication by a supervisor.

Every decision is a ``task_decisions`` row with its provenance (coder, time, model version,
reason, note, edited text); undoing marks it, never deletes it. A task that wants one coder
is final at the first decision; a double-coded task is final when both coders agree, and
otherwise waits in the adjudication list, where a supervisor's decision is final (both
coders' decisions stay). A decision for a task that someone else finished or took over is
refused with :class:`StaleTaskError`, never stored over theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from statcoder.errors import InputError, UnknownCodeError
from statcoder.service.accounts import Account
from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.errors import ConflictError
from statcoder.service.workbench.queue import (
    CODING_KINDS,
    FINAL_STATES,
    OPEN_STATES,
    active_decisions,
    end_claims,
    get_settings,
    lock_task,
    own_claim,
    refresh_status,
    room_for,
    take,
)
from statcoder.store import utcnow
from statcoder.store.tables import Project, ReviewTask
from statcoder.store.workbench_tables import TaskDecision

UNCODABLE_REASONS = (
    "too vague", "several occupations or activities", "not an answer", "not in the classification",
    "other",
)
MAX_NOTE = 2000


class StaleTaskError(ConflictError):
    """The record was finished or taken over by someone else; the decision was not stored."""

    code = "stale_task"


class CodeTooDeepError(UnknownCodeError):
    """A code longer (deeper) than any code of the classification."""

    code = "code_too_deep"


@dataclass(frozen=True)
class Choice:
    """A validated decision before it is stored."""

    kind: str  # code | uncodable | refer
    code: str | None
    level: int | None
    reason: str | None
    note: str | None
    edited_text: str | None


def validate_code(ctx: ServiceContext, project: Project, code: str, level: int | None = None) -> tuple[str, int]:
    """Return (code, level) for a code of the project's classification, cut to ``level`` if given.

    UnknownCodeError (field ``code``) for a code not in the classification, CodeTooDeepError
    when it extends a code of the deepest level; InputError (field ``level``) for a level
    below the code's own.
    """
    classification = ctx.classification(project)
    code = code.strip()
    if code not in classification:
        deepest = classification.codes_at(classification.depth)
        if any(code.startswith(c) and len(code) > len(c) for c in deepest[:5000]):
            raise CodeTooDeepError(
                f"code {code!r} is deeper than {classification.name}, whose deepest level is "
                f"{classification.depth}", where="code", hint="use a code of the classification",
            )
        raise UnknownCodeError(f"code {code!r} is not in {classification.name}", where="code",
                               hint="search the classification with '/' and pick a hit")
    own = classification.level(code)
    if level is None or level == own:
        return code, own
    if not 1 <= level < own:
        raise InputError(f"level {level} is not above the code's level {own}", where="level",
                         hint="choose a higher level (a smaller number) or the code's own")
    return classification.truncate(code, level), level


def validate(
    ctx: ServiceContext, project: Project, *, action: str, code: str = "", level: int | None = None,
    reason: str = "", note: str = "", edited_text: str = "",
) -> Choice:
    """Check a submitted decision; raises a StatcoderError naming the bad field."""
    note_text = note.strip() or None
    if note_text is not None and len(note_text) > MAX_NOTE:
        raise InputError(f"the note is longer than {MAX_NOTE} characters", where="note", hint="shorten it")
    edited = edited_text.strip() or None
    if edited is not None and len(edited) > ctx.settings.max_text_length:
        raise InputError("the edited text is too long", where="edited_text", hint="shorten it")
    if action == "code":
        if not code.strip():
            raise InputError("choose a code: press 1-9 for a candidate, or search with '/'",
                             where="code", hint="or mark the record uncodable or refer it")
        final, final_level = validate_code(ctx, project, code, level)
        return Choice("code", final, final_level, None, note_text, edited)
    if action == "uncodable":
        if reason not in UNCODABLE_REASONS:
            raise InputError("give the reason why the record cannot be coded", where="reason",
                             hint=f"one of: {', '.join(UNCODABLE_REASONS)}")
        if reason == "other" and note_text is None:
            raise InputError("say why in the note", where="note", hint="the reason is 'other'")
        return Choice("uncodable", None, None, reason, note_text, edited)
    if action == "refer":
        return Choice("refer", None, None, "referred", note_text, edited)
    raise InputError(f"unknown action {action!r}", where="action", hint="code, uncodable or refer")


def _finalize(session, task: ReviewTask, decision: TaskDecision, coders: list[str], time_spent: float | None,
              actor: str) -> None:
    now = utcnow()
    task.status = "done" if decision.kind in ("code", "adjudication") and decision.code else "uncodable"
    task.code = decision.code
    task.coder_id = "+".join(coders)[:100]
    task.submitted_at = now
    task.time_spent_s = time_spent
    task.lease_until = None
    record(session, task.project_id, actor=actor, action="review.submit", target=str(task.id),
           details={"coder_id": task.coder_id, "code": task.code, "status": task.status,
                    "predicted_code": task.predicted_code, "reason": task.reason,
                    "time_spent_s": time_spent, "via": "workbench"})


def _own_decision(session, task_id: int, user_id: int) -> TaskDecision | None:
    """The account's standing (not undone) coding decision on the task, if any."""
    return session.scalars(
        select(TaskDecision).where(TaskDecision.task_id == task_id, TaskDecision.user_id == user_id,
                                   TaskDecision.undone_at.is_(None),
                                   TaskDecision.kind.in_(("code", "uncodable", "refer")))
        .order_by(TaskDecision.id.desc()).limit(1)
    ).first()


def decide(
    ctx: ServiceContext, project: Project, account: Account, task_id: int, choice: Choice, *,
    time_spent_s: float | None = None,
) -> str:
    """Store the coder's decision on the task; returns the task's new status.

    StaleTaskError when the task was finished or taken over meanwhile (nothing stored). The
    same decision sent again by the same coder (a resubmission after a lost answer) is stored
    once and answered with the task's status; a different one is refused (undo changes it).
    """
    now = utcnow()
    with ctx.db.write() as session:
        task = lock_task(session, project.id, task_id)
        mine = _own_decision(session, task.id, account.user_id)
        if mine is not None:
            if (mine.kind, mine.code) == (choice.kind, choice.code):
                return task.status  # the same decision sent again (its answer was lost): stored once
            raise StaleTaskError(
                "you have already decided this record; your new decision was not stored",
                where="task", hint="use Undo to change your last decision, or ask your supervisor",
            )
        if task.status not in OPEN_STATES:
            raise StaleTaskError(
                "this record was already finished by someone else; your decision was not stored",
                where="task", hint="go on with the next record",
            )
        if own_claim(session, task_id, account.user_id, now) is None and not room_for(
            session, task, account.user_id, now
        ):
            raise StaleTaskError(
                "your hold on this record ran out and another coder has it now; your decision was "
                "not stored", where="task", hint="go on with the next record",
            )
        if task.coders_needed is None:  # decided without a lease (it had run out): draw now
            take(session, task, account.user_id, get_settings(ctx, project.id, session), now)
        decision = TaskDecision(
            task_id=task.id, project_id=project.id, user_id=account.user_id, username=account.username,
            kind=choice.kind, code=choice.code, level=choice.level, reason=choice.reason, note=choice.note,
            edited_text=choice.edited_text, model_version=task.model_version, time_spent_s=time_spent_s,
            created_at=now,
        )
        session.add(decision)
        session.flush()
        end_claims(session, task.id, account.user_id, now)
        session.flush()
        if choice.kind == "refer":
            task.status, task.lease_until = "referred", None
            record(session, project.id, actor=account.actor, action="review.refer", target=str(task.id))
            return task.status
        decided = active_decisions(session, task.id)
        needed = task.coders_needed or 1
        if len(decided) < needed:
            refresh_status(session, task, now)
            record(session, project.id, actor=account.actor, action="review.first_coding",
                   target=str(task.id), details={"code": choice.code})
            return task.status
        first, second = decided[0], decided[-1]
        if needed == 1 or (first.kind, first.code) == (second.kind, second.code):
            _finalize(session, task, decision, [d.username for d in decided], time_spent_s, account.actor)
        else:
            task.status, task.lease_until = "adjudicate", None
            record(session, project.id, actor=account.actor, action="review.disagreement",
                   target=str(task.id))
        return task.status


def undo_last(ctx: ServiceContext, project: Project, account: Account) -> int:
    """Undo the coder's last decision in the project and lease the task to them again.

    Returns the task id. InputError when there is nothing to undo; ConflictError when someone
    else has acted on the record since (a later decision, an adjudication, an API decision).
    """
    now = utcnow()
    with ctx.db.write() as session:
        last = session.scalars(
            select(TaskDecision).where(TaskDecision.project_id == project.id,
                                       TaskDecision.user_id == account.user_id,
                                       TaskDecision.undone_at.is_(None),
                                       TaskDecision.kind.in_(("code", "uncodable", "refer")))
            .order_by(TaskDecision.id.desc()).limit(1)
        ).first()
        if last is None:
            raise InputError("there is no decision of yours to undo", where="undo",
                             hint="undo works on your own last decision")
        task = lock_task(session, project.id, last.task_id)
        later = session.scalars(
            select(TaskDecision).where(TaskDecision.task_id == task.id, TaskDecision.id > last.id,
                                       TaskDecision.undone_at.is_(None))
        ).first()
        foreign_final = task.status in FINAL_STATES and account.username not in (task.coder_id or "").split("+")
        if later is not None or foreign_final or task.status == "claimed" and task.claimed_by != "workbench":
            raise ConflictError("someone else has acted on this record since; it cannot be undone",
                                where="undo", hint="ask your supervisor to correct it")
        last.undone_at = now
        task.code = task.coder_id = task.submitted_at = task.time_spent_s = None
        task.status = "open"
        session.flush()
        refresh_status(session, task, now)
        take(session, task, account.user_id, get_settings(ctx, project.id, session), now)
        record(session, project.id, actor=account.actor, action="review.undo", target=str(task.id),
               details={"decision": last.id})
        return task.id


def resolve(
    ctx: ServiceContext, project: Project, account: Account, task_id: int, choice: Choice,
) -> str:
    """A supervisor's final decision on a disagreement or a referred record; returns the status."""
    if choice.kind == "refer":
        raise InputError("a supervisor decides: give a code or mark it uncodable", where="action",
                         hint="choose a code")
    with ctx.db.write() as session:
        task = lock_task(session, project.id, task_id)
        if task.status not in ("adjudicate", "referred"):
            raise StaleTaskError("this record is no longer waiting for a supervisor", where="task",
                                 hint="it was decided meanwhile")
        decision = TaskDecision(
            task_id=task.id, project_id=project.id, user_id=account.user_id, username=account.username,
            kind="adjudication", code=choice.code, level=choice.level, reason=choice.reason,
            note=choice.note, edited_text=choice.edited_text, model_version=task.model_version,
            created_at=utcnow(),
        )
        session.add(decision)
        session.flush()
        _finalize(session, task, decision, [account.username], None, account.actor)
        return task.status


def waiting_for_supervisor(ctx: ServiceContext, project_id: str, *, limit: int = 200) -> list[ReviewTask]:
    """Return the project's disagreements and referred records, oldest first."""
    with ctx.db.read() as session:
        return list(session.scalars(
            select(ReviewTask).where(ReviewTask.project_id == project_id,
                                     ReviewTask.status.in_(("adjudicate", "referred")))
            .order_by(ReviewTask.id).limit(limit)
        ))


def decisions_of(ctx: ServiceContext, project_id: str, task_id: int) -> list[TaskDecision]:
    """Return every decision on the task (undone ones too), oldest first."""
    with ctx.db.read() as session:
        return list(session.scalars(
            select(TaskDecision).where(TaskDecision.project_id == project_id, TaskDecision.task_id == task_id)
            .order_by(TaskDecision.id)
        ))


def task_candidates(task: ReviewTask) -> list[dict]:
    """Return the task's candidates list (code, title, p), best first."""
    try:
        items = json.loads(task.candidates)
    except ValueError:
        return []
    return [c for c in items if isinstance(c, dict) and c.get("code")]


__all__ = ["CODING_KINDS", "Choice", "StaleTaskError", "decide", "resolve", "undo_last", "validate"]

"""The workbench queue: settings, leases, next task, skip, assignment.

A coder works one task at a time under a **lease** (a ``task_claims`` row with an expiry):
closing the tab simply lets the lease run out. The next task is the coder's own open lease
if any, else the first task they may take: assigned to them first, then first-in-first-out
(task id) or, with active learning on, the smallest model margin first. A task wants one
coder, or two when it was drawn for double coding (a deterministic draw per task at the
project's double-coding rate, made when the task is first claimed). Two coders never hold a
task together unless it wants two. Every change happens in one write transaction with the
task row locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from statcoder.errors import InputError
from statcoder.service.accounts import Account
from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.errors import NotFoundError
from statcoder.service.review import candidate_margin
from statcoder.store import utc, utcnow
from statcoder.store.tables import ReviewTask
from statcoder.store.workbench_tables import TaskClaim, TaskDecision, User, WorkbenchSettings

WORKBENCH = "workbench"  # claimed_by of tasks held through the workbench
OPEN_STATES = ("open", "claimed")
FINAL_STATES = ("done", "uncodable")
CODING_KINDS = ("code", "uncodable")
ACTIVE_KINDS = ("code", "uncodable", "refer")


@dataclass(frozen=True)
class QueueSettings:
    """A project's workbench settings."""

    double_coding_rate: float
    active_learning: bool
    lease_seconds: int


def get_settings(ctx: ServiceContext, project_id: str, session: Session | None = None) -> QueueSettings:
    """Return the project's settings (defaults when never changed)."""
    def read(s: Session) -> QueueSettings:
        row = s.get(WorkbenchSettings, project_id)
        if row is None:
            return QueueSettings(0.0, False, int(ctx.settings.review_lease_seconds))
        return QueueSettings(row.double_coding_rate, bool(row.active_learning), row.lease_seconds)

    if session is not None:
        return read(session)
    with ctx.db.read() as s:
        return read(s)


def update_settings(
    ctx: ServiceContext, project_id: str, *, double_coding_rate: float, active_learning: bool,
    lease_seconds: int, actor: str,
) -> QueueSettings:
    """Store the project's workbench settings (audited). InputError names the bad field."""
    if not 0.0 <= double_coding_rate <= 1.0:
        raise InputError("the double-coding share must be between 0 and 1", where="double_coding_rate",
                         hint="e.g. 0.1 sends 10 % of tasks to two coders")
    if not 30 <= lease_seconds <= 86_400:
        raise InputError("the lease must be between 30 s and 24 h", where="lease_seconds",
                         hint="e.g. 600 (10 minutes)")
    with ctx.db.write() as session:
        row = session.get(WorkbenchSettings, project_id)
        if row is None:
            row = WorkbenchSettings(project_id=project_id)
            session.add(row)
        row.double_coding_rate = double_coding_rate
        row.active_learning = active_learning
        row.lease_seconds = lease_seconds
        row.updated_at = utcnow()
        record(session, project_id, actor=actor, action="workbench.settings", target=project_id,
               details={"double_coding_rate": double_coding_rate, "active_learning": active_learning,
                        "lease_seconds": lease_seconds})
    return QueueSettings(double_coding_rate, active_learning, lease_seconds)


def drawn_for_double_coding(project_id: str, task_id: int, rate: float) -> bool:
    """Return True when the task is in the double-coding share (a reproducible draw per task)."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{project_id}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def lock_task(session: Session, project_id: str, task_id: int) -> ReviewTask:
    """Return the project's task locked for the transaction; NotFoundError otherwise."""
    task = session.execute(
        select(ReviewTask).where(ReviewTask.id == task_id).with_for_update()
    ).scalar_one_or_none()
    if task is None or task.project_id != project_id:
        raise NotFoundError(f"task {task_id} not found in this project", where="task",
                            hint="open the queue of the project the task belongs to")
    return task


def active_decisions(session: Session, task_id: int, kinds: tuple[str, ...] = CODING_KINDS) -> list[TaskDecision]:
    """Return the task's decisions that were not undone, oldest first."""
    return list(session.scalars(
        select(TaskDecision).where(TaskDecision.task_id == task_id, TaskDecision.undone_at.is_(None),
                                   TaskDecision.kind.in_(kinds)).order_by(TaskDecision.id)
    ))


def _active_claims(session: Session, task_id: int, now: datetime) -> list[TaskClaim]:
    return list(session.scalars(
        select(TaskClaim).where(TaskClaim.task_id == task_id, TaskClaim.lease_until > now,
                                TaskClaim.skipped.is_(False))
    ))


def held_by_api(task: ReviewTask, now: datetime) -> bool:
    """Return True when an API client holds the task (claimed outside the workbench, lease alive)."""
    if task.status != "claimed" or task.claimed_by == WORKBENCH:
        return False
    return task.lease_until is None or utc(task.lease_until) > now


def room_for(session: Session, task: ReviewTask, user_id: int, now: datetime) -> bool:
    """Return True when ``user_id`` may take the task now (a free coder slot, not decided by them)."""
    if task.status not in OPEN_STATES or held_by_api(task, now):
        return False
    decisions = active_decisions(session, task.id, ACTIVE_KINDS)
    if any(d.user_id == user_id for d in decisions):
        return False
    others = [c for c in _active_claims(session, task.id, now) if c.user_id != user_id]
    return len(others) + len(decisions) < (task.coders_needed or 1)


def refresh_status(session: Session, task: ReviewTask, now: datetime) -> None:
    """Set an unfinished task to ``claimed`` (workbench leases alive) or ``open``."""
    if task.status not in OPEN_STATES or held_by_api(task, now):
        return
    claims = _active_claims(session, task.id, now)
    if claims:
        task.status, task.claimed_by = "claimed", WORKBENCH
        task.lease_until = max(utc(c.lease_until) for c in claims)
        task.claimed_at = task.claimed_at or now
    else:
        task.status, task.claimed_by, task.lease_until = "open", None, None


def take(session: Session, task: ReviewTask, user_id: int, settings: QueueSettings, now: datetime) -> TaskClaim:
    """Give the locked task to ``user_id`` under a fresh lease (the caller checked ``room_for``)."""
    if task.coders_needed is None:
        task.coders_needed = 2 if drawn_for_double_coding(task.project_id, task.id,
                                                          settings.double_coding_rate) else 1
    claim = TaskClaim(task_id=task.id, project_id=task.project_id, user_id=user_id,
                      lease_until=now + timedelta(seconds=settings.lease_seconds), skipped=False,
                      created_at=now)
    session.add(claim)
    session.flush()
    refresh_status(session, task, now)
    return claim


def own_claim(session: Session, task_id: int, user_id: int, now: datetime) -> TaskClaim | None:
    """Return the user's live lease on the task, or None."""
    return session.scalars(
        select(TaskClaim).where(TaskClaim.task_id == task_id, TaskClaim.user_id == user_id,
                                TaskClaim.lease_until > now, TaskClaim.skipped.is_(False))
        .order_by(TaskClaim.id.desc()).limit(1)
    ).first()


def end_claims(session: Session, task_id: int, user_id: int, now: datetime, *, skipped: bool = False) -> None:
    """End the user's leases on the task (now)."""
    values: dict[str, object] = {"lease_until": now}
    if skipped:
        values["skipped"] = True
    session.execute(
        update(TaskClaim).where(TaskClaim.task_id == task_id, TaskClaim.user_id == user_id,
                                TaskClaim.lease_until > now).values(**values)
        .execution_options(synchronize_session=False)
    )


def _fill_margins(session: Session, project_id: str) -> None:
    rows = session.execute(
        select(ReviewTask.id, ReviewTask.candidates).where(
            ReviewTask.project_id == project_id, ReviewTask.margin.is_(None),
            ReviewTask.status.in_(OPEN_STATES)).limit(5000)
    ).all()
    for task_id, candidates in rows:
        session.execute(update(ReviewTask).where(ReviewTask.id == task_id)
                        .values(margin=candidate_margin(candidates)))


def _candidates(session: Session, project_id: str, user_id: int, settings: QueueSettings, now: datetime,
                limit: int) -> list[int]:
    mine = exists().where(TaskDecision.task_id == ReviewTask.id, TaskDecision.user_id == user_id,
                          TaskDecision.undone_at.is_(None), TaskDecision.kind.in_(ACTIVE_KINDS))
    skipped = exists().where(TaskClaim.task_id == ReviewTask.id, TaskClaim.user_id == user_id,
                             TaskClaim.skipped.is_(True))
    api_held = and_(ReviewTask.status == "claimed", ReviewTask.claimed_by != WORKBENCH,
                    or_(ReviewTask.lease_until.is_(None), ReviewTask.lease_until > now))
    order = [case((ReviewTask.assigned_to == user_id, 0), else_=1), case((skipped, 1), else_=0)]
    if settings.active_learning:
        order.append(func.coalesce(ReviewTask.margin, 2.0))
    order.append(ReviewTask.id)
    query = (
        select(ReviewTask.id)
        .where(ReviewTask.project_id == project_id, ReviewTask.status.in_(OPEN_STATES),
               or_(ReviewTask.assigned_to.is_(None), ReviewTask.assigned_to == user_id),
               ~mine, ~api_held)
        .order_by(*order).limit(limit)
    )
    return list(session.scalars(query))


def next_task(ctx: ServiceContext, project_id: str, account: Account) -> int | None:
    """Return the id of the task the coder should work on now (leased to them), or None.

    Their live lease comes first (a reload shows the same record); otherwise the first task
    in queue order with a free slot is leased to them.
    """
    now = utcnow()
    with ctx.db.write() as session:
        settings = get_settings(ctx, project_id, session)
        held = session.scalars(
            select(TaskClaim.task_id).join(ReviewTask, ReviewTask.id == TaskClaim.task_id)
            .where(TaskClaim.project_id == project_id, TaskClaim.user_id == account.user_id,
                   TaskClaim.lease_until > now, TaskClaim.skipped.is_(False),
                   ReviewTask.status.in_(OPEN_STATES))
            .order_by(TaskClaim.id.desc()).limit(1)
        ).first()
        if held is not None:
            return int(held)
        if settings.active_learning:
            _fill_margins(session, project_id)
        seen: set[int] = set()
        for _ in range(20):
            ids = [i for i in _candidates(session, project_id, account.user_id, settings, now, 50)
                   if i not in seen]
            if not ids:
                return None
            for task_id in ids:
                seen.add(task_id)
                # SKIP LOCKED (PostgreSQL): a row another coder is taking right now is passed over,
                # so concurrent coders never wait on (or deadlock over) the same candidates
                task = session.execute(
                    select(ReviewTask).where(ReviewTask.id == task_id).with_for_update(skip_locked=True)
                ).scalar_one_or_none()
                if task is not None and room_for(session, task, account.user_id, now):
                    take(session, task, account.user_id, settings, now)
                    return task_id
    return None


def upcoming_texts(ctx: ServiceContext, project_id: str, account: Account, limit: int = 32) -> list[str]:
    """Return the texts of the next ``limit`` tasks in the coder's queue order (nothing is leased).

    Used to prepare what the coding screen will show next.
    """
    now = utcnow()
    with ctx.db.read() as session:
        settings = get_settings(ctx, project_id, session)
        ids = _candidates(session, project_id, account.user_id, settings, now, limit)
        if not ids:
            return []
        texts = dict(session.execute(select(ReviewTask.id, ReviewTask.text).where(ReviewTask.id.in_(ids))).all())
    return [texts[i] for i in ids if texts.get(i)]


def open_task(ctx: ServiceContext, project_id: str, account: Account, task_id: int) -> ReviewTask | None:
    """Lease a task the coder opened by its address; returns the task when it is theirs now.

    None (nothing changes) when the task is finished, decided by them already, or held by
    others; NotFoundError for a task of another project. One transaction: the screen needs
    no second read of the task.
    """
    now = utcnow()
    with ctx.db.write() as session:
        task = lock_task(session, project_id, task_id)
        if own_claim(session, task_id, account.user_id, now) is not None:
            return task
        if not room_for(session, task, account.user_id, now):
            return None
        take(session, task, account.user_id, get_settings(ctx, project_id, session), now)
        return task


def skip(ctx: ServiceContext, project_id: str, account: Account, task_id: int) -> None:
    """Give the task back (it goes to the end of this coder's order)."""
    now = utcnow()
    with ctx.db.write() as session:
        task = lock_task(session, project_id, task_id)
        end_claims(session, task_id, account.user_id, now, skipped=True)
        session.flush()
        refresh_status(session, task, now)


def assign_batch(
    ctx: ServiceContext, project_id: str, *, username: str, n: int, actor: str,
) -> int:
    """Assign up to ``n`` open, unassigned tasks (queue order) to a coder; returns how many."""
    if not 1 <= n <= 10_000:
        raise InputError("the batch size must be between 1 and 10000", where="n", hint="e.g. 50")
    from statcoder.store.workbench_tables import Membership

    with ctx.db.write() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None or session.get(Membership, (user.id, project_id)) is None:
            raise InputError(f"{username!r} is not a member of this project", where="username",
                             hint="create the coder's account first")
        settings = get_settings(ctx, project_id, session)
        order = [func.coalesce(ReviewTask.margin, 2.0), ReviewTask.id] if settings.active_learning \
            else [ReviewTask.id]
        ids = list(session.scalars(
            select(ReviewTask.id).where(ReviewTask.project_id == project_id, ReviewTask.status == "open",
                                        ReviewTask.assigned_to.is_(None)).order_by(*order).limit(n)
        ))
        if ids:
            session.execute(update(ReviewTask).where(ReviewTask.id.in_(ids)).values(assigned_to=user.id)
                            .execution_options(synchronize_session=False))
        record(session, project_id, actor=actor, action="workbench.assign", target=username,
               details={"tasks": len(ids)})
    return len(ids)


def counts_by_reason(ctx: ServiceContext, project_id: str) -> list[tuple[str, str, int]]:
    """Return (reason, status, number of tasks) for the project's queue."""
    with ctx.db.read() as session:
        rows = session.execute(
            select(ReviewTask.reason, ReviewTask.status, func.count())
            .where(ReviewTask.project_id == project_id)
            .group_by(ReviewTask.reason, ReviewTask.status)
            .order_by(ReviewTask.reason, ReviewTask.status)
        ).all()
    return [(r, s, int(n)) for r, s, n in rows]

"""Repository for review tasks (the human coding queue and the audit sample)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from statcoder.store.tables import ReviewTask


class ReviewRepository:
    """Reads and writes :class:`ReviewTask` rows in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, rows: list[dict[str, Any]], *, return_ids: bool = False) -> list[int]:
        """Insert task rows (column -> value) in bulk; returns their ids, in order, if asked.

        With ``return_ids`` the session must be in a write transaction (:meth:`Database.write`):
        the ids are allocated before the one bulk insert (``review_insert.insert_with_ids``).
        """
        if not rows:
            return []
        if not return_ids:
            self.session.execute(insert(ReviewTask), rows)
            return []
        from statcoder.store.review_insert import insert_with_ids

        return insert_with_ids(self.session, rows)

    def get(self, project_id: str, task_id: int) -> ReviewTask | None:
        """Return the project's task, or None (another project's task is None too)."""
        task = self.session.get(ReviewTask, task_id)
        return task if task is not None and task.project_id == project_id else None

    def page(
        self, project_id: str, *, status: str | None, reason: str | None, limit: int,
        after_id: int = 0,
    ) -> list[ReviewTask]:
        """Return up to ``limit`` of the project's tasks with id > ``after_id``, oldest first."""
        query = select(ReviewTask).where(ReviewTask.project_id == project_id, ReviewTask.id > after_id)
        if status is not None:
            query = query.where(ReviewTask.status == status)
        if reason is not None:
            query = query.where(ReviewTask.reason == reason)
        return list(self.session.scalars(query.order_by(ReviewTask.id).limit(limit)))

    def counts(self, project_id: str) -> dict[str, int]:
        """Return the number of the project's tasks per status."""
        rows = self.session.execute(
            select(ReviewTask.status, func.count()).where(ReviewTask.project_id == project_id)
            .group_by(ReviewTask.status)
        ).all()
        return {status: int(n) for status, n in rows}

    def claim(self, task_id: int, coder_id: str, when: datetime, *, lease_until: datetime | None = None) -> bool:
        """Claim an open task, re-claim one's own, or take one whose lease ran out; True on success."""
        result = self.session.execute(
            update(ReviewTask)
            .where(
                ReviewTask.id == task_id,
                or_(
                    ReviewTask.status == "open",
                    (ReviewTask.status == "claimed") & (ReviewTask.claimed_by == coder_id),
                    (ReviewTask.status == "claimed") & (ReviewTask.lease_until < when),
                ),
            )
            .values(status="claimed", claimed_by=coder_id, claimed_at=when, lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def submit(
        self, task_id: int, *, code: str, coder_id: str, time_spent_s: float | None, when: datetime
    ) -> bool:
        """Record the decision on a task open or claimed by ``coder_id``; True on success."""
        result = self.session.execute(
            update(ReviewTask)
            .where(
                ReviewTask.id == task_id,
                or_(
                    ReviewTask.status == "open",
                    (ReviewTask.status == "claimed") & (ReviewTask.claimed_by == coder_id),
                ),
            )
            .values(
                status="done", code=code, coder_id=coder_id, time_spent_s=time_spent_s,
                submitted_at=when,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def iter_done(self, project_id: str, *, batch: int = 1000) -> Iterator[ReviewTask]:
        """Yield the project's decided tasks in id order, ``batch`` rows per query."""
        after = 0
        while True:
            rows = self.page(project_id, status="done", reason=None, limit=batch, after_id=after)
            if not rows:
                return
            yield from rows
            after = rows[-1].id

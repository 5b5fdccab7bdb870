"""Repository of the retention purge: finished jobs' outputs and decided tasks' texts past a cutoff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from statcoder.store.tables import Job, JobChunk, Project, ReviewTask

FINISHED = ("succeeded", "failed", "cancelled")


class RetentionRepository:
    """Finds and purges what a project's retention period no longer allows to keep."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def projects_with_retention(self, project_id: str | None = None) -> list[Project]:
        """Return the projects (or the one named) that have a retention period set."""
        query = select(Project).where(Project.retention_days.is_not(None))
        if project_id is not None:
            query = query.where(Project.id == project_id)
        return list(self.session.scalars(query.order_by(Project.id)))

    def expired_jobs(self, project_id: str, cutoff: datetime) -> list[str]:
        """Return ids of the project's finished, not yet purged jobs that finished before ``cutoff``."""
        return list(self.session.scalars(
            select(Job.id).where(
                Job.project_id == project_id, Job.status.in_(FINISHED), Job.purged_at.is_(None),
                Job.finished_at < cutoff,
            )
        ))

    def purge_jobs(self, job_ids: list[str], when: datetime) -> int:
        """Delete the jobs' committed chunks and mark them purged; returns the chunks deleted."""
        if not job_ids:
            return 0
        deleted = self.session.execute(
            delete(JobChunk).where(JobChunk.job_id.in_(job_ids)).execution_options(synchronize_session=False)
        ).rowcount
        self.session.execute(
            update(Job).where(Job.id.in_(job_ids)).values(purged_at=when)
            .execution_options(synchronize_session=False)
        )
        return int(deleted or 0)

    def purge_task_texts(self, project_id: str, cutoff: datetime, when: datetime) -> int:
        """Blank the texts of the project's decided tasks submitted before ``cutoff``; returns how many."""
        result = self.session.execute(
            update(ReviewTask)
            .where(ReviewTask.project_id == project_id, ReviewTask.status == "done",
                   ReviewTask.purged_at.is_(None), ReviewTask.submitted_at < cutoff)
            .values(text="", fields=None, purged_at=when)  # the record's other fields can hold free text too
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)

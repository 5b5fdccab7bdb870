"""Repository for batch jobs and their committed output chunks.

Exactly-once output rests on two rules enforced here: a chunk is written in the same
transaction that advances the job's counters, and only by the worker that holds the job's
lease while the job is still ``running``; the (job_id, chunk_index) primary key refuses a
second copy of a chunk whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from statcoder.store.tables import Job, JobChunk

ACTIVE = ("queued", "running")


class JobRepository:
    """Reads and writes :class:`Job` and :class:`JobChunk` rows in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, job: Job) -> Job:
        """Insert a new job and return it."""
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, project_id: str, job_id: str) -> Job | None:
        """Return the project's job, or None (a job of another project is None too)."""
        job = self.session.get(Job, job_id)
        return job if job is not None and job.project_id == project_id else None

    def by_id(self, job_id: str) -> Job | None:
        """Return a job by id whatever its project (worker use only)."""
        return self.session.get(Job, job_id)

    def page(self, project_id: str, *, limit: int, offset: int = 0) -> list[Job]:
        """Return the project's jobs, newest first."""
        return list(
            self.session.scalars(
                select(Job).where(Job.project_id == project_id)
                .order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
            )
        )

    def claim_next(self, worker_id: str, *, now: datetime, lease_until: datetime) -> Job | None:
        """Take the oldest active job whose lease is free or expired; return it, or None.

        The conditional UPDATE makes the claim atomic: of two workers racing for a job, one
        sees ``rowcount == 0`` and moves on.
        """
        free = or_(Job.lease_until.is_(None), Job.lease_until < now)
        ids = self.session.scalars(
            select(Job.id).where(Job.status.in_(ACTIVE), free).order_by(Job.created_at).limit(10)
        ).all()
        for job_id in ids:
            result = self.session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status.in_(ACTIVE), free)
                .values(
                    worker_id=worker_id, lease_until=lease_until, status="running",
                    started_at=func.coalesce(Job.started_at, now),
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                self.session.flush()
                job = self.session.get(Job, job_id)
                self.session.refresh(job)
                return job
        return None

    def holds(self, job_id: str, worker_id: str, *, lease_until: datetime, **values: object) -> bool:
        """Renew the lease (and set ``values``) if ``worker_id`` still runs the job; True if so."""
        result = self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
            .values(lease_until=lease_until, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def commit_chunk(
        self, job_id: str, worker_id: str, *, chunk_index: int, data: bytes,
        counts: dict[str, int], lease_until: datetime,
    ) -> bool:
        """Store one coded chunk and advance the counters; False if the worker lost the job.

        The caller's transaction must be rolled back when this returns False.
        """
        n = sum(counts.values())
        owned = self.holds(
            job_id, worker_id, lease_until=lease_until,
            n_done=Job.n_done + n,
            n_auto=Job.n_auto + counts.get("auto", 0),
            n_partial=Job.n_partial + counts.get("partial", 0),
            n_review=Job.n_review + counts.get("review", 0),
        )
        if not owned:
            return False
        self.session.add(JobChunk(job_id=job_id, chunk_index=chunk_index, n_records=n, data=data))
        self.session.flush()
        return True

    def done_chunks(self, job_id: str) -> set[int]:
        """Return the indexes of the chunks already committed."""
        return set(self.session.scalars(select(JobChunk.chunk_index).where(JobChunk.job_id == job_id)))

    def chunk_count(self, job_id: str) -> tuple[int, int]:
        """Return (number of committed chunks, number of records in them)."""
        n_chunks, n_records = self.session.execute(
            select(func.count(), func.coalesce(func.sum(JobChunk.n_records), 0)).where(
                JobChunk.job_id == job_id
            )
        ).one()
        return int(n_chunks), int(n_records)

    def iter_chunks(self, job_id: str) -> Iterator[bytes]:
        """Yield the committed chunks' bytes in chunk order, one row in memory at a time."""
        indexes = self.session.scalars(
            select(JobChunk.chunk_index).where(JobChunk.job_id == job_id).order_by(JobChunk.chunk_index)
        ).all()
        for index in indexes:
            yield self.session.execute(
                select(JobChunk.data).where(JobChunk.job_id == job_id, JobChunk.chunk_index == index)
            ).scalar_one()

    def cancel(self, job_id: str, when: datetime) -> bool:
        """Mark an active job cancelled; True if it was active."""
        result = self.session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE))
            .values(status="cancelled", finished_at=when, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

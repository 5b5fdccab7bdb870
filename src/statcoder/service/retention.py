"""Retention: a project's finished job inputs and results, and its decided review texts, are
deleted once older than the project's ``retention_days``; each purge is an audit event.

Jobs keep their row (status, counts, model version) with ``purged_at`` set; their staged
input, uploaded or copied source, committed chunks and assembled result are deleted. Decided
review tasks keep code, coder, time and prediction; their text is blanked. Open and claimed
tasks, and queued or running jobs, are never touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta

from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.jobs import job_dir
from statcoder.store import utcnow
from statcoder.store.retention import RetentionRepository


@dataclass(frozen=True)
class PurgeResult:
    """What one project's purge removed."""

    project_id: str
    retention_days: int
    jobs: int
    chunks: int
    task_texts: int


def purge(
    ctx: ServiceContext, project_id: str | None = None, *, actor: str, now: datetime | None = None,
) -> list[PurgeResult]:
    """Purge every project with a retention period (or only ``project_id``); returns one result each.

    Files are deleted after the store transaction that marks them purged has committed, so a
    crash in between leaves orphan files (deleted by the next purge), never rows pointing at
    deleted files.
    """
    now = now or utcnow()
    results = []
    with ctx.db.read() as session:
        projects = RetentionRepository(session).projects_with_retention(project_id)
    for project in projects:
        cutoff = now - timedelta(days=project.retention_days or 0)
        with ctx.db.write() as session:
            repo = RetentionRepository(session)
            job_ids = repo.expired_jobs(project.id, cutoff)
            chunks = repo.purge_jobs(job_ids, now)
            texts = repo.purge_task_texts(project.id, cutoff, now)
            result = PurgeResult(project.id, int(project.retention_days or 0), len(job_ids), chunks, texts)
            record(session, project.id, actor=actor, action="retention.purge", target=project.id,
                   details={"retention_days": result.retention_days, "cutoff": cutoff.isoformat(),
                            "jobs": result.jobs, "chunks": chunks, "task_texts": texts})
        for job_id in job_ids:
            shutil.rmtree(job_dir(ctx, job_id), ignore_errors=True)
        results.append(result)
    return results

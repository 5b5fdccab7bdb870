"""Projects (tenants): creation with their classification, reading, and per-project settings."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from statcoder.errors import InputError
from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.errors import ConflictError, NotFoundError, shown_id
from statcoder.store import utcnow
from statcoder.store.projects import ProjectRepository
from statcoder.store.tables import Project

PROJECT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def create_project(
    ctx: ServiceContext, project_id: str, *, name: str, classification_csv: Path,
    classification_name: str | None = None, classification_version: str = "",
    audit_rate: float | None = None, actor: str,
) -> Project:
    """Create a project bound to the classification in ``classification_csv``; returns it.

    The file is validated (ClassificationError on problems) and copied under the data
    directory, so the project does not depend on the original file afterwards.
    """
    from statcoder.classifications import Classification

    if not PROJECT_ID.match(project_id):
        raise InputError(
            f"invalid project id {project_id!r}", where="project_id",
            hint="use 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
        )
    rate = ctx.settings.default_audit_rate if audit_rate is None else audit_rate
    check_audit_rate(rate)
    classification = Classification.from_csv(
        classification_csv, name=classification_name, version=classification_version
    )
    with ctx.db.write() as session:
        repo = ProjectRepository(session)
        if repo.get(project_id) is not None:
            raise ConflictError(f"project {project_id!r} already exists", hint="choose another id")
        target = ctx.classification_path(project_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(classification_csv, target)
        project = repo.add(
            Project(
                id=project_id, name=name, classification_name=classification.name,
                classification_version=classification.version,
                classification_fingerprint=classification.fingerprint, audit_rate=rate,
                created_at=utcnow(),
            )
        )
        record(session, project_id, actor=actor, action="project.create", target=project_id,
               details={"classification": classification.name,
                        "fingerprint": classification.fingerprint, "audit_rate": rate})
    return project


def check_audit_rate(rate: float) -> None:
    """Raise InputError unless 0 <= rate <= 1."""
    if not 0.0 <= rate <= 1.0:
        raise InputError("the audit rate must be between 0 and 1", where="audit_rate",
                         hint="e.g. 0.02 sends 2 % of auto-coded records to the audit sample")


def get_project(ctx: ServiceContext, project_id: str) -> Project:
    """Return the project; NotFoundError if it does not exist."""
    with ctx.db.read() as session:
        project = ProjectRepository(session).get(project_id)
    if project is None:
        raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
    return project


KEEP = object()  # "leave the retention period unchanged" (None means "keep data forever")


def update_settings(
    ctx: ServiceContext, project_id: str, *, audit_rate: float | None, actor: str, retention_days: object = KEEP,
) -> Project:
    """Change the project's settings (audit rate, retention days), recorded in the audit log."""
    with ctx.db.write() as session:
        project = ProjectRepository(session).get_for_update(project_id)
        if project is None:
            raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
        if retention_days is not KEEP:
            if retention_days is not None and not (isinstance(retention_days, int) and retention_days >= 1):
                raise InputError("retention_days must be a whole number of days >= 1, or null",
                                 where="retention_days", hint="e.g. 90; null keeps data forever")
            before_days = project.retention_days
            project.retention_days = retention_days
            record(session, project_id, actor=actor, action="project.settings", target=project_id,
                   details={"retention_days": {"before": before_days, "after": retention_days}})
        if audit_rate is not None:
            check_audit_rate(audit_rate)
            before = project.audit_rate
            project.audit_rate = audit_rate
            record(session, project_id, actor=actor, action="project.settings", target=project_id,
                   details={"audit_rate": {"before": before, "after": audit_rate}})
    ctx.auth_cache.drop("project", project_id)
    return project

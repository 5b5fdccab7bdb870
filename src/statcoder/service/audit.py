"""The audit log: every state change is appended with its actor and time; admins read it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from statcoder.service.context import ServiceContext
from statcoder.store.audit import AuditRepository
from statcoder.store.tables import AuditEvent


def record(
    session: Session, project_id: str, *, actor: str, action: str, target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event inside the caller's transaction (so it commits with the change itself).

    ``details`` must never hold free text from records: ids, codes, versions and numbers only.
    """
    return AuditRepository(session).append(
        project_id, actor=actor, action=action, target=target, details=details
    )


def read_log(
    ctx: ServiceContext, project_id: str, *, limit: int = 100, before_id: int | None = None,
    action: str | None = None,
) -> list[AuditEvent]:
    """Return up to ``limit`` of the project's events, newest first, older than ``before_id``."""
    with ctx.db.read() as session:
        return AuditRepository(session).page(project_id, limit=limit, before_id=before_id, action=action)

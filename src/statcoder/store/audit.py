"""Repository for the append-only audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from statcoder.store.database import utcnow
from statcoder.store.tables import AuditEvent


class AuditRepository:
    """Appends and pages through :class:`AuditEvent` rows; there is no update or delete."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def append(
        self, project_id: str, *, actor: str, action: str, target: str = "",
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event (timestamped now, UTC) and return it."""
        event = AuditEvent(
            project_id=project_id, actor=actor, action=action, target=target,
            details=json.dumps(details or {}, sort_keys=True), created_at=utcnow(),
        )
        self.session.add(event)
        self.session.flush()
        return event

    def page(
        self, project_id: str, *, limit: int, before_id: int | None = None,
        action: str | None = None,
    ) -> list[AuditEvent]:
        """Return up to ``limit`` events of the project, newest first, older than ``before_id``."""
        query = select(AuditEvent).where(AuditEvent.project_id == project_id)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(self.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))

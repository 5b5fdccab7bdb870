"""Repository for stored model-monitoring runs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from statcoder.store.tables import MonitoringRun


class MonitoringRepository:
    """Adds and reads :class:`MonitoringRun` rows, always scoped to one project."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, run: MonitoringRun) -> MonitoringRun:
        """Insert the run and return it with its id assigned."""
        self.session.add(run)
        self.session.flush()
        return run

    def get(self, project_id: str, run_id: int) -> MonitoringRun | None:
        """Return the project's run, or None (also for another project's run)."""
        return self.session.scalars(
            select(MonitoringRun).where(MonitoringRun.project_id == project_id, MonitoringRun.id == run_id)
        ).first()

    def page(self, project_id: str, *, limit: int, offset: int = 0) -> list[MonitoringRun]:
        """Return the project's runs, newest first."""
        return list(
            self.session.scalars(
                select(MonitoringRun).where(MonitoringRun.project_id == project_id)
                .order_by(MonitoringRun.id.desc()).limit(limit).offset(offset)
            )
        )

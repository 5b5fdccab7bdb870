"""Repositories for projects and their API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from statcoder.store.tables import ApiKey, Project


class ProjectRepository:
    """Reads and writes :class:`Project` rows in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, project_id: str) -> Project | None:
        """Return the project with this id, or None."""
        return self.session.get(Project, project_id)

    def get_for_update(self, project_id: str) -> Project | None:
        """Return the project locked for the rest of the transaction (PostgreSQL), or None."""
        return self.session.execute(
            select(Project).where(Project.id == project_id).with_for_update()
        ).scalar_one_or_none()

    def add(self, project: Project) -> Project:
        """Insert a new project and return it."""
        self.session.add(project)
        self.session.flush()
        return project

    def all(self) -> list[Project]:
        """Return every project ordered by id (for start-up and admin tooling, never the API)."""
        return list(self.session.scalars(select(Project).order_by(Project.id)))


class KeyRepository:
    """Reads and writes :class:`ApiKey` rows in one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key_id: str) -> ApiKey | None:
        """Return the key with this public id, or None."""
        return self.session.get(ApiKey, key_id)

    def add(self, key: ApiKey) -> ApiKey:
        """Insert a new key and return it."""
        self.session.add(key)
        self.session.flush()
        return key

    def for_project(self, project_id: str) -> list[ApiKey]:
        """Return the project's keys, oldest first."""
        return list(
            self.session.scalars(
                select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.created_at)
            )
        )

    def revoke(self, key: ApiKey, when: datetime) -> None:
        """Mark ``key`` revoked at ``when`` (idempotent: the first revocation time is kept)."""
        if key.revoked_at is None:
            key.revoked_at = when

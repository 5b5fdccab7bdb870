"""Repository for model versions and their activations (promote / roll back history)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from statcoder.store.tables import ModelActivation, ModelVersion


class ModelRepository:
    """Reads and writes :class:`ModelVersion` and :class:`ModelActivation` rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, project_id: str, version: str) -> ModelVersion | None:
        """Return the project's model version, or None."""
        return self.session.execute(
            select(ModelVersion).where(
                ModelVersion.project_id == project_id, ModelVersion.version == version
            )
        ).scalar_one_or_none()

    def add(self, model: ModelVersion) -> ModelVersion:
        """Insert a new model version and return it."""
        self.session.add(model)
        self.session.flush()
        return model

    def for_project(self, project_id: str) -> list[ModelVersion]:
        """Return the project's model versions, oldest first."""
        return list(
            self.session.scalars(
                select(ModelVersion)
                .where(ModelVersion.project_id == project_id)
                .order_by(ModelVersion.id)
            )
        )

    def add_activation(self, activation: ModelActivation) -> ModelActivation:
        """Record one activation and return it."""
        self.session.add(activation)
        self.session.flush()
        return activation

    def activations(self, project_id: str) -> list[ModelActivation]:
        """Return the project's activations, newest first."""
        return list(
            self.session.scalars(
                select(ModelActivation)
                .where(ModelActivation.project_id == project_id)
                .order_by(ModelActivation.id.desc())
            )
        )

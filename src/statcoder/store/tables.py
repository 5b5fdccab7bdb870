"""The service's tables (SQLAlchemy 2 declarative). The schema itself is created by Alembic.

Timestamps are UTC. SQLite drops the time zone on the way back, so readers go through
:func:`statcoder.store.database.utc` before comparing or serialising them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every service table."""


class Project(Base):
    """A tenant: one coding task with its classification, models and settings."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    classification_name: Mapped[str] = mapped_column(String(200))
    classification_version: Mapped[str] = mapped_column(String(100), default="")
    classification_fingerprint: Mapped[str] = mapped_column(String(64))
    audit_rate: Mapped[float] = mapped_column(Float, default=0.02)
    active_model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: days after which finished jobs' inputs/results and decided tasks' texts are purged (None: kept)
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ApiKey(Base):
    """A project's API key. Only a SHA-256 hash of the secret part is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[str] = mapped_column(String(100))  # comma-separated, sorted
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelVersion(Base):
    """An immutable model version stored under the data directory."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))  # relative to the data directory
    classification_fingerprint: Mapped[str] = mapped_column(String(64))
    card_json: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # "upload" | "train" | "cli"
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("uq_model_versions_project_version", "project_id", "version", unique=True),)


class ModelActivation(Base):
    """One promotion (or roll-back) of a model version; ``previous_version`` makes roll-back a stack."""

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))
    previous_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """A batch coding job; its output lives in :class:`JobChunk` rows, one per committed chunk."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(10))  # "upload" | "path"
    input_path: Mapped[str] = mapped_column(String(1000))
    input_format: Mapped[str] = mapped_column(String(10))  # "csv" | "parquet"
    text_columns: Mapped[str] = mapped_column(Text)  # JSON list
    id_column: Mapped[str | None] = mapped_column(String(200), nullable=True)
    top_k: Mapped[int] = mapped_column(Integer)
    chunk_size: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(64))
    n_records: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n_chunks: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n_done: Mapped[int] = mapped_column(Integer, default=0)
    n_auto: Mapped[int] = mapped_column(Integer, default=0)
    n_partial: Mapped[int] = mapped_column(Integer, default=0)
    n_review: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: when the retention purge removed the job's input and results (the row stays)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobChunk(Base):
    """The coded output of one input chunk (Parquet bytes). The primary key forbids duplicates."""

    __tablename__ = "job_chunks"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    n_records: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


#: the largest id an integer primary key holds (PostgreSQL ``integer``: 32 bits); request
#: parameters naming a row are bounded by it, so a larger one is refused as input on every store
MAX_ROW_ID = 2**31 - 1


class ReviewTask(Base):
    """A record waiting for (or given) a human decision: ``review`` decisions and the audit sample."""

    __tablename__ = "review_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    record_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(10))  # "review" | "audit" | "quality"
    predicted_code: Mapped[str] = mapped_column(String(50))
    predicted_level: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    decision: Mapped[str] = mapped_column(String(10))
    candidates: Mapped[str] = mapped_column(Text)  # JSON list
    model_version: Mapped[str] = mapped_column(String(64))
    # "open" | "claimed" | "done"; the workbench adds "uncodable", "referred", "adjudicate"
    status: Mapped[str] = mapped_column(String(10))
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    coder_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    time_spent_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: when the retention purge blanked the record text of this decided task
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # workbench (migration 0003): lease of an API claim, coders wanted (1, or 2 when the task
    # was drawn for double coding), the coder a supervisor assigned it to, and the model's
    # margin (p1 - p2) used by active-learning order
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    coders_needed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    assigned_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    margin: Mapped[float | None] = mapped_column(Float, nullable=True)
    fields: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: the record's other columns

    __table_args__ = (Index("ix_review_tasks_project_status", "project_id", "status", "id"),)


class AuditEvent(Base):
    """An append-only record of a state change: who, when, what (never free text)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_audit_events_project_id", "project_id", "id"),)


class MonitoringRun(Base):
    """One on-demand model-decay monitoring run: the stored result JSON and its alert summary."""

    __tablename__ = "monitoring_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(64))
    n_periods: Mapped[int] = mapped_column(Integer)
    n_alerts: Mapped[int] = mapped_column(Integer)
    alerts_json: Mapped[str] = mapped_column(Text)  # JSON list (Alert.to_dict), no record texts
    result_json: Mapped[str] = mapped_column(Text)  # MonitoringResult.to_dict()
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_monitoring_runs_project_id", "project_id", "id"),)

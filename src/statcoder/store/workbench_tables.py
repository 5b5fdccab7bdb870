"""Tables of the coder workbench: accounts, sessions, claims, decisions, settings, retrain runs.

They share the declarative base of :mod:`statcoder.store.tables`; migration ``0003`` creates
them. Timestamps are UTC (read them through :func:`statcoder.store.utc`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from statcoder.store.tables import Base


class User(Base):
    """A person who signs in to the workbench (coder or supervisor). The password is a KDF hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Membership(Base):
    """A user's role in one project: ``coder`` or ``supervisor``."""

    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser session. Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkbenchSettings(Base):
    """Per-project workbench settings (a missing row means the defaults)."""

    __tablename__ = "workbench_settings"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    double_coding_rate: Mapped[float] = mapped_column(Float, default=0.0)
    active_learning: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_seconds: Mapped[int] = mapped_column(Integer, default=600)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskClaim(Base):
    """A coder's lease on a task. Expired leases are ignored; a skip ends the lease at once."""

    __tablename__ = "task_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("review_tasks.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_task_claims_task", "task_id", "user_id"),
        Index("ix_task_claims_user", "project_id", "user_id", "lease_until"),
    )


class TaskDecision(Base):
    """One human decision on a task, with its provenance; undone decisions keep their row.

    ``kind``: ``code`` | ``uncodable`` | ``refer`` | ``adjudication``. ``code`` may be at a
    higher level than the classification's deepest (``level`` says which).
    """

    __tablename__ = "task_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("review_tasks.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    edited_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_version: Mapped[str] = mapped_column(String(64))
    time_spent_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_task_decisions_task", "task_id", "id"),
        Index("ix_task_decisions_project", "project_id", "id"),
    )


class RetrainRun(Base):
    """One retraining: the candidate, the comparison with the active model, and the gate's verdict."""

    __tablename__ = "retrain_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # running | promoted | kept | failed
    active_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    candidate_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    n_train: Mapped[int] = mapped_column(Integer, default=0)
    n_decisions: Mapped[int] = mapped_column(Integer, default=0)
    n_heldout: Mapped[int] = mapped_column(Integer, default=0)
    comparison_json: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_retrain_runs_project", "project_id", "id"),)

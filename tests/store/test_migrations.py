"""Alembic migrations from an empty database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from statcoder.errors import ConfigurationError
from statcoder.store import Database, current_revision
from statcoder.store.database import MIGRATIONS, utcnow
from statcoder.store.tables import Base, Job, JobChunk, Project

TABLES = {"projects", "api_keys", "model_versions", "model_activations", "jobs", "job_chunks",
          "review_tasks", "audit_events", "monitoring_runs"}


def test_upgrade_from_empty_database_creates_every_table(db_url):
    db = Database(db_url)
    assert current_revision(db.engine) is None
    db.upgrade()
    assert current_revision(db.engine) == "0004"
    assert TABLES <= set(inspect(db.engine).get_table_names())
    db.upgrade()  # idempotent: a restart migrates nothing
    assert current_revision(db.engine) == "0004"
    db.dispose()


def test_migrated_schema_matches_the_table_definitions(db_url):
    db = Database(db_url)
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == []


def test_migrations_ship_inside_the_package():
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "versions" / "0001_initial_schema.py").is_file()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def _project(pid: str = "p") -> Project:
    return Project(id=pid, name=pid, classification_name="c", classification_version="",
                   classification_fingerprint="f" * 64, audit_rate=0.02, created_at=utcnow())


def _job(jid: str = "j") -> Job:
    return Job(id=jid, project_id="p", status="queued", source="path", input_path="/x",
               input_format="csv", text_columns='["text"]', top_k=5, chunk_size=10,
               model_version="m", n_done=0, n_auto=0, n_partial=0, n_review=0, created_by="t",
               created_at=utcnow())


def test_a_chunk_cannot_be_stored_twice(db_url):
    db = Database(db_url)
    db.upgrade()
    with db.write() as session:
        session.add(_project())
        session.flush()
        session.add(_job())
        session.flush()
        session.add(JobChunk(job_id="j", chunk_index=0, n_records=3, data=b"abc"))
    with pytest.raises(IntegrityError), db.write() as session:
        session.add(JobChunk(job_id="j", chunk_index=0, n_records=3, data=b"abc"))
    db.dispose()


def test_foreign_keys_are_enforced(db_url):
    db = Database(db_url)
    db.upgrade()
    with pytest.raises(IntegrityError), db.write() as session:
        session.add(_job())
    db.dispose()


def test_unparseable_or_unsupported_urls_are_configuration_errors():
    with pytest.raises(ConfigurationError):
        Database("not a url")
    with pytest.raises(ConfigurationError):
        Database("mysql://u@h/db")

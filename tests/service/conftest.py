"""Fixtures of the service tests: both databases, a tiny real model, a ready service context."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kit import database_url, train_model, write_classification


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database, once SQLite and once PostgreSQL."""
    return database_url(request.param, tmp_path)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A real coder trained on the fixture data (session-wide: training takes a moment)."""
    return train_model(tmp_path_factory.mktemp("model"))


@pytest.fixture
def ctx(db_url, tmp_path):
    """A started ServiceContext on the parametrised database, with its own data directory."""
    from statcoder.service.context import ServiceContext
    from statcoder.service.settings import ServiceSettings

    context = ServiceContext(ServiceSettings(
        data_dir=tmp_path / "data", database_url=db_url, job_chunk_size=25, job_lease_seconds=5,
        job_poll_seconds=0.05, allowed_job_dirs=[tmp_path / "allowed"],
    ))
    context.start()
    yield context
    context.close()


@pytest.fixture
def classification_csv(tmp_path) -> Path:
    """The fixture classification as a CSV file."""
    return write_classification(tmp_path / "cls")

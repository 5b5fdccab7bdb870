"""Fixtures of the workbench tests: both databases, a tiny real model, a started context."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
sys.path.insert(0, str(Path(__file__).parent))

from kit import database_url, train_model


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database, once SQLite and once PostgreSQL."""
    return database_url(request.param, tmp_path)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A real coder trained on the fixture data (session-wide)."""
    return train_model(tmp_path_factory.mktemp("model"))


@pytest.fixture
def ctx(db_url, tmp_path):
    """A started ServiceContext on the parametrised database."""
    from statcoder.service.context import ServiceContext
    from statcoder.service.settings import ServiceSettings

    context = ServiceContext(ServiceSettings(data_dir=tmp_path / "data", database_url=db_url))
    context.start()
    yield context
    context.close()


@pytest.fixture
def project(ctx, tmp_path, model_dir):
    """Project "alpha" with the model active."""
    from webkit import make_project

    return make_project(ctx, "alpha", tmp_path / "cls-alpha", model_dir)

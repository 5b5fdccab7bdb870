"""Fixtures of the API tests: the app on SQLite and PostgreSQL, tenants with keys of each scope."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
sys.path.insert(0, str(Path(__file__).parent))

from apikit import Tenant, make_tenant
from kit import OTHER_CLASSIFICATION_CSV, OTHER_WORDS, database_url, train_model

from statcoder.api.app import create_app
from statcoder.service.settings import ServiceSettings


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A real coder trained on the fixture classification."""
    return train_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def second_model_dir(tmp_path_factory) -> Path:
    """Another version for the same classification (other seed and data)."""
    return train_model(tmp_path_factory.mktemp("model2"), seed=1, per_code=20)


@pytest.fixture(scope="session")
def foreign_model_dir(tmp_path_factory) -> Path:
    """A coder trained for another classification."""
    return train_model(tmp_path_factory.mktemp("model3"), csv_text=OTHER_CLASSIFICATION_CSV,
                       words=OTHER_WORDS, name="farming")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database, once SQLite and once PostgreSQL."""
    return database_url(request.param, tmp_path)


@pytest.fixture
def settings(tmp_path, db_url) -> ServiceSettings:
    """Small limits so the limit tests stay cheap; the worker is driven by the tests."""
    (tmp_path / "allowed").mkdir()
    return ServiceSettings(
        data_dir=tmp_path / "data", database_url=db_url, job_chunk_size=25, job_poll_seconds=0.05,
        job_lease_seconds=5, allowed_job_dirs=[tmp_path / "allowed"], max_text_length=300,
        max_request_bytes=300_000, max_upload_bytes=5_000_000,
    )


@pytest.fixture
def client(settings):
    """An httpx client on the app (lifespan run: store migrated, models preloaded)."""
    app = create_app(settings, start_worker=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def ctx(client):
    """The app's service context."""
    return client.app.state.context


@pytest.fixture
def tenant(ctx, tmp_path, model_dir) -> Tenant:
    """Project "alpha" with an active model."""
    return make_tenant(ctx, "alpha", tmp_path / "cls-alpha", model_dir)


@pytest.fixture
def other_tenant(ctx, tmp_path, model_dir) -> Tenant:
    """Project "beta" with an active model: the foreign project of the isolation tests."""
    return make_tenant(ctx, "beta", tmp_path / "cls-beta", model_dir)



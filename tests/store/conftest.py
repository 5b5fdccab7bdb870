"""Store tests reuse the database helpers of tests/service."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "service"))

from kit import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database, once SQLite and once PostgreSQL."""
    return database_url(request.param, tmp_path)

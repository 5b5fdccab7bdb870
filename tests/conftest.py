"""Fixtures shared by the whole suite.

The shared reference data lives in ``../shared/data`` (read at run time, never copied).
Outside CI a missing directory skips the tests that need it; under ``CI=true`` its absence
is a failure, because a skipped test in CI hides a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("STATCODER_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; fails under CI when it is missing."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data not found at {SHARED_DATA}; CI must provide ../shared/data")
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA

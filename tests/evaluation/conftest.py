"""Fixtures for the evaluation tests: a small hand-made three-level classification."""

from __future__ import annotations

import pandas as pd
import pytest

from statcoder.classifications import Classification

# level 1: A, B; level 2: A1, A2, B1; level 3: A11, A12, A21, B11, B12
TOY_ROWS = [
    ("A", "Group A", 1, ""),
    ("A1", "Group A1", 2, "A"),
    ("A11", "Unit A11", 3, "A1"),
    ("A12", "Unit A12", 3, "A1"),
    ("A2", "Group A2", 2, "A"),
    ("A21", "Unit A21", 3, "A2"),
    ("B", "Group B", 1, ""),
    ("B1", "Group B1", 2, "B"),
    ("B11", "Unit B11", 3, "B1"),
    ("B12", "Unit B12", 3, "B1"),
]


@pytest.fixture(scope="session")
def toy() -> Classification:
    """The toy classification above (three levels, five leaves)."""
    frame = pd.DataFrame(TOY_ROWS, columns=["code", "title", "level", "parent"])
    frame["level"] = frame["level"].astype(str)
    return Classification.from_frame(frame, name="toy")

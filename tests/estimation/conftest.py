"""Fixtures of the estimation tests: the R ``survey``/``sae`` data and reference results.

Everything is read at test time from ``../shared/data/estimation`` (never copied into the repo).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def estimation_dir(shared_data: Path) -> Path:
    return shared_data / "estimation"


@pytest.fixture(scope="session")
def api(estimation_dir: Path) -> dict[str, pd.DataFrame]:
    """The R ``data(api)`` tables, every column as text (as statcoder.io reads files)."""
    names = ("apipop", "apisrs", "apistrat", "apiclus1", "apiclus2")
    return {
        n: pd.read_csv(estimation_dir / f"{n}.csv", dtype=str, keep_default_na=False) for n in names
    }


@pytest.fixture(scope="session")
def reference(estimation_dir: Path) -> dict[tuple[str, str], dict[str, str]]:
    """``reference_results.csv`` keyed by (id, quantity)."""
    with open(estimation_dir / "reference_results.csv", newline="", encoding="utf-8") as handle:
        return {(row["id"], row["quantity"]): row for row in csv.DictReader(handle)}

"""Shared helpers of the workbench benchmark: data paths, normalisation, load average."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = Path(os.environ.get("STATCODER_SHARED_DATA", REPO.parent / "shared" / "data"))
CACHE = REPO / "benchmarks" / ".cache" / "workbench"


def read(name: str) -> pd.DataFrame:
    """Read a shared coding file with every column as text."""
    return pd.read_csv(DATA / "coding" / name, dtype=str, keep_default_na=False)


def norm(text: str) -> str:
    """Case-folded, whitespace-collapsed text (the data README's rule for overlap removal)."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def loadavg() -> str:
    """Return the 1/5/15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])

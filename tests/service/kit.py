"""Helpers shared by the store, service and API tests: databases, a tiny real model, a project.

The classification and labelled records below were written for these tests (no shared data):
two top-level groups with two leaf codes each, and short job-title-like texts per leaf.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

CLASSIFICATION_CSV = """code,title,level,parent
1,Food trades,1,
11,Bakers,2,1
12,Butchers,2,1
2,Building trades,1,
21,Carpenters,2,2
22,Electricians,2,2
"""
OTHER_CLASSIFICATION_CSV = """code,title,level,parent
A,Agriculture,1,
A1,Crops,2,A
A2,Animals,2,A
"""
WORDS = {
    "11": ["baker", "bread", "pastry", "oven", "dough", "bakery"],
    "12": ["butcher", "meat", "slaughter", "sausage", "carcass", "abattoir"],
    "21": ["carpenter", "wood", "joiner", "timber", "cabinet", "furniture"],
    "22": ["electrician", "wiring", "electrical", "cable", "circuit", "voltage"],
}
OTHER_WORDS = {"A1": ["wheat", "farm", "crop", "harvest"], "A2": ["cattle", "sheep", "herd", "dairy"]}


def labelled_frame(words: dict[str, list[str]], *, per_code: int = 30, seed: int = 0) -> pd.DataFrame:
    """Return ``per_code`` labelled texts per code: two or three of the code's words, shuffled."""
    import random

    rng = random.Random(seed)
    rows = []
    for code, vocab in words.items():
        for _ in range(per_code):
            rows.append({"text": " ".join(rng.sample(vocab, rng.choice([2, 3]))), "code": code})
    return pd.DataFrame(rows)


def write_classification(directory: Path, content: str = CLASSIFICATION_CSV, name: str = "trades.csv") -> Path:
    """Write a classification CSV into ``directory`` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(content, encoding="utf-8")
    return path


def train_model(directory: Path, *, csv_text: str = CLASSIFICATION_CSV, words=WORDS, seed: int = 0,
                per_code: int = 30, name: str = "trades") -> Path:
    """Train a real coder with statcoder.train on the fixture data, save it, return its directory."""
    from statcoder import Classification, train

    csv_path = write_classification(directory, csv_text, f"{name}.csv")
    classification = Classification.from_csv(csv_path, name=name)
    coder = train(
        labelled_frame(words, per_code=per_code, seed=seed), text_columns=["text"],
        code_column="code", classification=classification, seed=seed,
    )
    return coder.save(directory / f"model-{name}-{seed}")


def postgres_url() -> str:
    """Return the throw-away PostgreSQL URL; fail under CI=true, skip locally, when it is missing."""
    url = os.environ.get("STATCODER_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("STATCODER_TEST_POSTGRES_URL is not set: run the tests via scripts/run-tests.sh")
        pytest.skip("no PostgreSQL: source scripts/pg-throwaway.sh and call pg_start")
    return url


def fresh_postgres(url: str) -> str:
    """Drop every table of the test database (public schema) and return the URL."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def database_url(kind: str, tmp_path: Path) -> str:
    """Return an empty database URL of ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return fresh_postgres(postgres_url())

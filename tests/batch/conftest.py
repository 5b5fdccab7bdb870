"""A small ISCO coder trained once per session, saved as a model directory, and test inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from statcoder import Classification, train


@pytest.fixture(scope="session")
def titles(shared_data) -> pd.DataFrame:
    """ILO ISCO-08 index titles of major groups 2 and 7 (read at run time), shuffled."""
    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str[0].isin(["2", "7"])].reset_index(drop=True)
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="session")
def model_dir(titles, shared_data, tmp_path_factory):
    """A trained coder's model directory (2-fold internal cross-validation, for speed)."""
    isco = Classification.from_csv(shared_data / "classifications" / "isco08.csv")
    coder = train(titles.iloc[:1500], text_columns=["text"], code_column="code", classification=isco, seed=0,
                  cv_folds=2)
    return coder.save(tmp_path_factory.mktemp("batch-model") / "model")


@pytest.fixture(scope="session")
def records(titles) -> pd.DataFrame:
    """3,000 records to code: an id, a survey and period (for partitions) and a title text."""
    texts = titles["text"].tolist()
    n = 3000
    return pd.DataFrame({
        "rid": [f"r{i:05d}" for i in range(n)],
        "survey": ["LFS" if i % 3 else "SES" for i in range(n)],
        "period": ["2026Q3" if i % 2 else "2026Q4" for i in range(n)],
        "text": [texts[(i * 7) % len(texts)] for i in range(n)],
    })

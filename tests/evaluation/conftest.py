"""Fixtures for the evaluation tests: a small hand-made three-level classification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


# Codes of three SOC major groups keep the end-to-end fixture small and quick to train.
_MAJOR_GROUPS = ("15-", "29-", "47-")


@pytest.fixture(scope="session")
def onet_slice(shared_data: Path) -> dict[str, object]:
    """A small real coder (O*NET alternate titles of three major groups) and labelled test records.

    Test records are reported titles of the same codes whose normalised text is not a training
    title, with a synthetic ``mode`` column (every third record "web") for subgroup tests.
    """
    from statcoder import train
    from statcoder.text import normalise

    soc = Classification.from_csv(shared_data / "classifications" / "soc2018.csv", name="SOC 2018")
    alt = pd.read_csv(shared_data / "coding" / "onet_alternate_titles.csv", dtype=str, keep_default_na=False)
    rep = pd.read_csv(shared_data / "coding" / "onet_reported_titles.csv", dtype=str, keep_default_na=False)
    train_frame = alt[alt["code"].str.startswith(_MAJOR_GROUPS)].sample(1500, random_state=0)
    seen = set(train_frame["text"].map(normalise))
    test = rep[rep["code"].str.startswith(_MAJOR_GROUPS) & rep["code"].isin(set(train_frame["code"]))]
    test = test[~test["text"].map(normalise).isin(seen)].sample(300, random_state=0).reset_index(drop=True)
    test["mode"] = np.where(np.arange(len(test)) % 3 == 0, "web", "phone")
    coder = train(train_frame, text_columns=["text"], code_column="code", classification=soc, cv_folds=2)
    return {"coder": coder, "train": train_frame.reset_index(drop=True), "test": test, "classification": soc}


@pytest.fixture(scope="session")
def onet_evaluation(onet_slice):
    """The holistic evaluation of the slice coder (200 bootstrap resamples)."""
    from statcoder.evaluation.holistic import evaluate

    return evaluate(
        onet_slice["coder"], onet_slice["test"], text_columns=["text"], code_column="code",
        group_columns=["mode"], n_boot=200, min_cell=5,
    )


@pytest.fixture(scope="session")
def saved_model(onet_slice, tmp_path_factory) -> Path:
    """The slice coder saved as a model directory."""
    return onet_slice["coder"].save(tmp_path_factory.mktemp("model") / "onet-slice")

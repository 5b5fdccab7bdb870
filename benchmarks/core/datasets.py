"""The benchmark datasets of the core issue, read from ../shared/data at run time."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from statcoder import Classification

SHARED = Path(os.environ.get("STATCODER_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


NOTE_FILES: dict[str, Path] = {}  # classification fingerprint -> its CSV, when that has an `includes` column


def _classification(name: str) -> Classification:
    """A classification from ../shared/data/classifications; remembers files that carry notes."""
    path = SHARED / "classifications" / name
    tree = Classification.from_csv(path)
    if "includes" in pd.read_csv(path, nrows=0).columns:
        NOTE_FILES[tree.fingerprint] = path
    return tree


def note_file(tree: Classification) -> Path | None:
    """The CSV of ``tree`` when it has explanatory notes (an ``includes`` column), else None."""
    return NOTE_FILES.get(tree.fingerprint)


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(SHARED / "coding" / name, dtype=str, keep_default_na=False)


def _norm(text: str) -> str:
    # the data README's benchmark rule: case-folded, whitespace collapsed
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass
class Split:
    name: str
    train: pd.DataFrame  # columns text, code
    test: pd.DataFrame


@dataclass
class Dataset:
    name: str
    description: str
    classification: Classification
    splits: list[Split]


def onet() -> Dataset:
    """Train on O*NET alternate titles minus every title also among the reported titles; test on those."""
    alt, rep = _read("onet_alternate_titles.csv"), _read("onet_reported_titles.csv")
    held = set(rep["text"].map(_norm))
    train = alt.loc[~alt["text"].map(_norm).isin(held), ["text", "code"]].reset_index(drop=True)
    soc = _classification("soc2018.csv")
    return Dataset("O*NET (SOC 2018, 6-digit)",
                   f"train {len(train):,} alternate titles (minus reported ones), test {len(rep):,} reported titles",
                   soc, [Split("reported", train, rep[["text", "code"]].reset_index(drop=True))])


def _folds(frame: pd.DataFrame, n_folds: int, seed: int, limit: int | None) -> Iterator[Split]:
    kf = KFold(n_splits=5, shuffle=True, random_state=seed)
    for i, (tr, te) in enumerate(kf.split(frame)):
        if limit is not None and i >= limit:
            break
        yield Split(f"fold {i + 1}", frame.iloc[tr].reset_index(drop=True), frame.iloc[te].reset_index(drop=True))


def ojalab(*, folds: int | None = None, seed: int = 0) -> Dataset:
    """OJALAB Polish job ads: text = title + description, 4-digit ISCO-08 (KZiS groups), 5-fold CV."""
    frame = pd.read_csv(SHARED / "coding" / "ojalab_pl_job_ads.csv.gz", dtype=str, keep_default_na=False)
    frame = pd.DataFrame({"text": frame["text"], "code": frame["isco08"]})
    # KZiS 4-digit groups include Polish national groups: the tree comes from the code prefixes
    tree = Classification.from_codes(frame["code"], name="ISCO-08 / KZiS 4-digit", prefix_lengths=(1, 2, 3, 4))
    return Dataset("OJALAB Polish job ads (ISCO-08 4-digit)", f"{len(frame):,} ads, 5-fold CV", tree,
                   list(_folds(frame, 5, seed, folds)))


def naics(*, folds: int | None = None, seed: int = 0) -> Dataset:
    """NAICS 2022 index file, 6-digit codes, 5-fold CV."""
    frame = _read("naics2022_index.csv")[["text", "code"]]
    tree = _classification("naics2022.csv")
    return Dataset("NAICS 2022 index (6-digit)", f"{len(frame):,} index entries, 5-fold CV", tree,
                   list(_folds(frame, 5, seed, folds)))


def esco(*, folds: int | None = None, seed: int = 0) -> Dataset:
    """ESCO occupation labels -> ISCO-08 unit groups, 5-fold CV."""
    frame = _read("esco_isco08_labels.csv")[["text", "code"]]
    tree = _classification("isco08.csv")
    return Dataset("ESCO labels (ISCO-08 4-digit)", f"{len(frame):,} labels, 5-fold CV", tree,
                   list(_folds(frame, 5, seed, folds)))


def all_datasets(*, folds: int | None = None) -> list[Dataset]:
    """Every benchmark dataset, in the order of the results table."""
    return [onet(), ojalab(folds=folds), naics(folds=folds), esco(folds=folds)]


def leaf_accuracy(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(truth == pred))

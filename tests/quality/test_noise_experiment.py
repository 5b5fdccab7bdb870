"""Small-scale synthetic-noise experiment on real labels: ESCO craft occupations, 5 % injected noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statcoder.classifications import Classification
from statcoder.coder.estimator import out_of_fold_proba
from statcoder.quality import confident_learning as cl
from statcoder.quality.label_issues import codes_to_labels
from statcoder.quality.noise import detection_scores, inject_label_noise


@pytest.fixture(scope="module")
def craft(shared_data):
    tree = Classification.from_csv(shared_data / "classifications/isco08.csv")
    esco = pd.read_csv(shared_data / "coding/esco_isco08_labels.csv", dtype=str, keep_default_na=False)
    subset = esco[esco["code"].str[:2].isin(["71", "72"])].sample(1500, random_state=0)
    return tree, subset["text"].tolist(), subset["code"].tolist()


@pytest.mark.parametrize("mode", ["uniform", "within_group"])
def test_confident_learning_recall_floor_and_beats_baseline(craft, mode):
    tree, texts, codes = craft
    noisy, flipped = inject_label_noise(codes, rate=0.05, mode=mode, classification=tree, seed=0)
    proba, classes = out_of_fold_proba(texts, noisy, classification=tree, n_splits=5, seed=0)
    labels = codes_to_labels(noisy, classes)
    found = detection_scores(cl.find_label_issues(labels, proba, filter_by="both"), flipped)
    baseline = detection_scores(proba[np.arange(len(labels)), labels] < 0.1, flipped)
    # measured on this machine: recall 0.77 for both modes, F1 0.68 vs baseline 0.59 / 0.62
    assert found["recall"] >= 0.65
    assert found["f1"] >= baseline["f1"]

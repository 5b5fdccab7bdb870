"""Conformal prediction sets: the pure functions, and coverage on real held-out records."""

import numpy as np
import pandas as pd
import pytest

from statcoder import Classification, train
from statcoder.decision.conformal import (
    conformal_quantile,
    conformity_scores,
    coverage_and_size,
    fit_conformal,
    prediction_sets,
)
from statcoder.errors import ConfigurationError, InputError


def test_scores_are_mass_ranked_above_the_true_code():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    np.testing.assert_allclose(conformity_scores(proba, np.array([0, 2])), [0.0, 0.5])
    np.testing.assert_allclose(conformity_scores(proba, np.array([2, 0])), [0.9, 0.8])
    assert conformity_scores(proba, np.array([-1, 1]))[0] == 1.0  # unknown code: never covered


def test_quantile_is_the_finite_sample_rank():
    scores = np.arange(1, 20) / 20  # 19 scores
    assert conformal_quantile(scores, coverage=0.9) == pytest.approx(0.9)  # ceil(20 * 0.9) = 18th
    assert conformal_quantile(scores[:5], coverage=0.9) == float("inf")  # too few records


def test_sets_best_first_and_never_empty():
    proba = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    sets = prediction_sets(proba, ["a", "b", "c"], quantile=0.5)
    assert sets == [["a"], ["a", "b"]]  # b follows 0.7 of mass in row 0, 0.4 in row 1
    assert prediction_sets(proba, ["a", "b", "c"], quantile=0.0) == [["a"], ["a"]]
    assert prediction_sets(proba, ["a", "b", "c"], quantile=float("inf"))[1] == ["a", "b", "c"]


def test_bad_input_is_a_statcoder_error():
    with pytest.raises(ConfigurationError):
        conformal_quantile(np.zeros(3), coverage=1.5)
    with pytest.raises(InputError):
        conformity_scores(np.zeros((2, 3)), np.zeros(3, dtype=int))


def test_simulated_coverage_is_nominal():
    """A calibrated synthetic model: the split-conformal coverage is within 1 point of nominal."""
    rng = np.random.default_rng(0)
    n, k = 20_000, 30
    logits = rng.normal(size=(n, k)) * 2.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=p) for p in proba])  # true codes drawn from the probabilities
    fitted = {f.coverage: f for f in fit_conformal(proba[:10_000], y[:10_000])}
    for cov in (0.9, 0.95):
        covered, size = coverage_and_size(proba[10_000:], y[10_000:], quantile=fitted[cov].quantile)
        assert abs(covered - cov) < 0.01
        assert abs(fitted[cov].heldout_coverage - cov) < 0.01
        assert size > 1


@pytest.fixture(scope="module")
def naics_split(shared_data):
    frame = pd.read_csv(shared_data / "coding" / "naics2022_index.csv", dtype=str, keep_default_na=False)
    frame = frame[["text", "code"]].sample(frac=1.0, random_state=1).reset_index(drop=True)
    tree = Classification.from_csv(shared_data / "classifications" / "naics2022.csv")
    return frame.iloc[:8000], frame.iloc[8000:12000].reset_index(drop=True), tree


def test_coverage_on_disjoint_real_records(naics_split):
    """Train on 8,000 NAICS index entries; on 4,000 others the sets cover within 2 points of nominal."""
    train_set, test_set, tree = naics_split
    coder = train(train_set, text_columns=["text"], code_column="code", classification=tree, seed=0)
    proba = coder.predict_proba(test_set["text"].tolist())
    column = {c: i for i, c in enumerate(coder.classes_)}
    y = np.array([column.get(c, -1) for c in test_set["code"]])
    for cov in (0.9, 0.95):
        sets = coder.prediction_sets(test_set["text"].tolist(), coverage=cov)
        covered = np.mean([code in s for code, s in zip(test_set["code"], sets, strict=True)])
        assert abs(covered - cov) <= 0.02, (cov, covered)
        q = coder._conformal_quantile(cov)
        assert covered == pytest.approx(coverage_and_size(proba, y, quantile=q)[0])
        assert all(s and s[0] == coder.classes_[int(np.argmax(p))] for s, p in zip(sets[:50], proba[:50], strict=True))
    with pytest.raises(ConfigurationError):
        coder.prediction_sets(["x"], coverage=0.8)

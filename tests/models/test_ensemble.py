"""The linear+fastText ensemble: a product of experts that persists without pickle."""

from __future__ import annotations

import json

import fasttext  # noqa: F401 -- the fasttext extra (part of dev): missing fails, never skips
import numpy as np
import pytest
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from statcoder.errors import ConfigurationError
from statcoder.models.ensemble import EnsembleTextCoder
from statcoder.models.registry import make_model, model_from_state

SMALL_FT = {"epoch": 10, "lr": 0.1, "word_ngrams": 1, "minn": 2, "maxn": 4, "dim": 20}


@pytest.fixture(scope="module")
def titles(shared_data):
    """ILO ISCO-08 index titles of major group 7 (read at run time; fastText needs real text)."""
    import pandas as pd

    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str[0] == "7"].sample(800, random_state=0)
    return frame["text"].tolist(), frame["code"].tolist()


@pytest.mark.parametrize("check", [check_parameters_default_constructible, check_no_attributes_set_in_init,
                                   check_get_params_invariance, check_set_params])
def test_sklearn_estimator_checks(check):
    check("EnsembleTextCoder", EnsembleTextCoder())


def _ensemble(weights=(0.6, 0.4)) -> EnsembleTextCoder:
    return EnsembleTextCoder(members=(("linear", {}), ("fasttext", SMALL_FT)), weights=weights)


def _roundtrip(model, tmp_path):
    """Save the state as the model directory does (JSON + npz without pickle) and rebuild it."""
    state, arrays, write = model.to_state()
    np.savez(tmp_path / "weights.npz", **arrays)
    (tmp_path / "state.json").write_text(json.dumps(state))
    if write is not None:
        write(tmp_path)
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as stored:
        loaded = {k: stored[k] for k in stored.files}
    return model_from_state(json.loads((tmp_path / "state.json").read_text()), loaded, tmp_path)


def test_scores_are_the_weighted_sum_of_member_log_probabilities(titles):
    model = _ensemble().fit(*titles)
    texts = ["master welder", "apprentice electrician"]
    linear, fast = model.estimators_
    expected = np.zeros((2, len(model.classes_)))
    for weight, member in zip((0.6, 0.4), (linear, fast), strict=True):
        s = member.decision_function(texts)
        expected += weight * np.maximum(s - s.max(1, keepdims=True)
                                        - np.log(np.exp(s - s.max(1, keepdims=True)).sum(1, keepdims=True)), -50)
    np.testing.assert_allclose(model.decision_function(texts), expected)
    np.testing.assert_allclose(model.predict_proba(texts).sum(axis=1), 1.0)
    # weight 1 on the linear member reproduces the linear model's ranking
    only_linear = _ensemble(weights=(1.0, 0.0)).fit(*titles)
    assert list(only_linear.predict(texts)) == list(linear.predict(texts))


def test_persists_and_reloads_to_identical_scores(titles, tmp_path):
    model = _ensemble().fit(*titles)
    again = _roundtrip(model, tmp_path)
    texts = ["welder", "cabinet maker", "unseen words entirely"]
    np.testing.assert_allclose(again.decision_function(texts), model.decision_function(texts))
    assert list(again.classes_) == list(model.classes_)


def test_registry_builds_the_hierarchy_aware_ensemble():
    groups = {"7212": "7", "2221": "2"}
    model = make_model("linear+fasttext", seed=3, groups=groups)
    assert model.members[0] == ("linear", {"groups": groups})
    assert model.members[1][0] == "fasttext" and model.seed == 3


def test_bad_weights_are_a_configuration_error():
    with pytest.raises(ConfigurationError):
        _ensemble(weights=(1.0,)).fit(["welder", "nurse"], ["7212", "2221"])


def test_a_diverging_fasttext_member_is_a_clear_error(titles):
    """fastText's bare "Encountered NaN" becomes the project's error with the learning rate and a hint."""
    from statcoder.models.fasttext_backend import FastTextCoder

    with pytest.raises(ConfigurationError, match="diverged") as caught:
        FastTextCoder(lr=100.0, epoch=10).fit(*titles)
    assert "lr=100.0" in caught.value.where and "learning rate" in caught.value.hint

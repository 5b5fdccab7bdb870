"""The opt-in head block (``train(head_weight=...)``): recorded in the card, saved, reloaded, coded identically."""

import json

import numpy as np
import pandas as pd
import pytest

from statcoder import Coder, train
from statcoder.errors import ConfigurationError


@pytest.fixture(scope="module")
def headed_frame(ilo_slice):
    """Ad-like texts: an ILO index title on the first line, another record's title as the body."""
    frame = ilo_slice.head(600).reset_index(drop=True)
    body = frame["text"].sample(frac=1.0, random_state=1).tolist()
    return frame.assign(text=[f"{t}\nOpis: {b}, {b}" for t, b in zip(frame["text"], body, strict=True)])


def test_head_weight_is_recorded_and_a_saved_model_codes_identically(headed_frame, isco, tmp_path):
    cut = 500
    coder = train(headed_frame.iloc[:cut], text_columns=["text"], code_column="code", classification=isco,
                  cv_folds=2, head_weight=1.5)
    assert coder.card.head_weight == 1.5 and coder.card.model_params["head_weight"] == 1.5
    features = coder.model.final_estimator_.features_
    assert features.head_ is not None and any(n.startswith("h:") for n in features.feature_names())
    coder.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "model.json").read_text())["head_weight"] == 1.5
    loaded = Coder.load(tmp_path / "m")
    assert loaded.card.head_weight == 1.5
    test = headed_frame.iloc[cut:].reset_index(drop=True)
    np.testing.assert_allclose(loaded.predict_proba(test["text"].tolist()),
                               coder.predict_proba(test["text"].tolist()), atol=1e-6)
    pd.testing.assert_frame_equal(loaded.code(test), coder.code(test))


def test_default_has_no_head_block(trained):
    coder, _ = trained
    assert coder.card.head_weight == 0.0
    assert getattr(coder.model.final_estimator_.features_, "head_", None) is None


def test_head_weight_is_validated(headed_frame, isco):
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigurationError, match="head weight"):
            train(headed_frame, text_columns=["text"], code_column="code", classification=isco, head_weight=bad)
    with pytest.raises(ConfigurationError, match="linear backends"):
        train(headed_frame, text_columns=["text"], code_column="code", classification=isco, backend="fasttext",
              head_weight=1.0)

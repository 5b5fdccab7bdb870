"""Former ValueError / KeyError / IndexError paths on user input now raise StatcoderErrors."""

import numpy as np
import pytest

from statcoder.coder.estimator import HierarchicalCoder
from statcoder.decision import threshold_for_target
from statcoder.errors import ConfigurationError, InputError, StatcoderError
from statcoder.models.registry import make_model


def test_threshold_shape_mismatch():
    with pytest.raises(InputError) as info:
        threshold_for_target(np.ones(3), np.ones(2, dtype=bool))
    assert info.value.where == "threshold_for_target" and info.value.hint


def test_contributions_of_an_unknown_code():
    model = make_model("linear").fit(["nurse", "welder", "teacher"] * 3, ["a", "b", "c"] * 3)
    with pytest.raises(InputError, match="not one of the model's classes"):
        model.contributions("nurse", "zzz")


@pytest.mark.parametrize("params", [{"cv": 1}, {"cv": 2.5}, {"deploy": "all"}, {"target_accuracy": 1.2},
                                    {"confidence_level": 0}])
def test_bad_estimator_parameters(params):
    with pytest.raises(ConfigurationError) as info:
        HierarchicalCoder(make_model("linear"), **params).fit(["a", "b", "c", "d"], ["1", "2", "1", "2"])
    assert info.value.where == "HierarchicalCoder" and info.value.hint


def test_fit_input_errors_are_statcoder_errors():
    for texts, codes in ((["a", "b"], ["1"]), (["a", "b", "c"], ["1", "1", "1"]), (["a"], ["1"])):
        with pytest.raises(StatcoderError):
            HierarchicalCoder(make_model("linear")).fit(texts, codes)
    with pytest.raises(InputError, match="target y is None"):
        HierarchicalCoder(make_model("linear")).fit(["a", "b"], None)


def test_coder_input_errors(trained):
    coder, _ = trained
    with pytest.raises(InputError):
        coder.code(["nurse"], top_k=0)
    with pytest.raises(ConfigurationError, match="use one of"):
        coder.prediction_sets(["nurse"], coverage=0.5)
    with pytest.raises(InputError, match="texts for"):
        coder.recalibrate(["a", "b"], ["2512"])
    import pandas as pd

    with pytest.raises(InputError):
        coder.code(pd.DataFrame({"other": ["nurse"]}))  # the model's text column is missing

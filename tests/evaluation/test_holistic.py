"""The holistic evaluation of a real (small) coder: consistency with the core and privacy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from statcoder.evaluation.holistic import evaluate
from statcoder.evaluation.metrics import scores_by_level


def test_accuracy_per_level_matches_an_independent_computation(onet_slice, onet_evaluation):
    coder, test, soc = onet_slice["coder"], onet_slice["test"], onet_slice["classification"]
    proba = coder.predict_proba(test["text"].tolist())
    rows = {r["level"]: r for r in onet_evaluation.to_dict()["accuracy"]["by_level"]}
    for level in range(1, soc.depth + 1):
        agg, codes = soc.aggregate(proba, coder.classes_, level)
        pred = np.asarray(codes, dtype=object)[agg.argmax(axis=1)]
        truth = [soc.truncate(c, level) for c in test["code"]]
        expected = scores_by_level(truth, pred, classification=soc, levels=[level]).iloc[0]
        assert rows[level]["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-3)
        assert rows[level]["macro_f1"] == pytest.approx(expected["macro_f1"], abs=1e-3)
        assert rows[level]["accuracy_lower"] <= rows[level]["accuracy"] <= rows[level]["accuracy_upper"]


def test_decision_shares_sum_to_one_and_match_the_coded_output(onet_slice, onet_evaluation):
    summary = {r["decision"]: r for r in onet_evaluation.to_dict()["automation"]["summary"]}
    assert sum(summary[d]["share"] for d in ("auto", "partial", "review")) == pytest.approx(1.0)
    coded = onet_slice["coder"].code(onet_slice["test"], text_columns=["text"])
    assert summary["review"]["n"] == int((coded["decision"] == "review").sum())


def test_json_has_every_section_no_nan_and_no_record_text(onet_slice, onet_evaluation):
    payload = onet_evaluation.to_dict()
    for key in ("accuracy", "automation", "calibration", "tables", "subgroups", "explainability",
                "reproducibility", "timeliness_cost", "ethics", "model_card_markdown"):
        assert key in payload
    json.dumps(payload, allow_nan=False)  # raises if a NaN slipped through
    strings: set[str] = set()

    def walk(value):
        if isinstance(value, str):
            strings.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(payload)
    texts = {t for t in onet_slice["test"]["text"] if len(t.split()) >= 3}
    assert not texts & strings, "a record text leaked into the JSON"
    assert onet_evaluation.examples, "the HTML should have example texts of confused pairs"
    assert len(payload["ethics"]) == 6


def test_calibration_before_and_after_are_both_reported(onet_evaluation):
    cal = onet_evaluation.to_dict()["calibration"]
    assert cal["before"] is not None and 0 <= cal["before"]["top_label_ece"] <= 1
    assert 0 <= cal["after"]["top_label_ece"] <= 1
    # same argmax before and after temperature scaling: only confidences change
    assert cal["before"]["accuracy"] == pytest.approx(cal["after"]["accuracy"])


def test_explainability_names_ngrams_of_the_code(onet_evaluation):
    rows = onet_evaluation.to_dict()["explainability"]["top_ngrams"]
    nurses = [r for r in rows if r["code"] == "29-1141"]  # Registered Nurses
    assert nurses and "nurse" in nurses[0]["top word n-grams"]
    assert len(onet_evaluation.explained) == 5 and all(r["drivers"] for r in onet_evaluation.explained)


def test_churn_is_zero_for_the_same_seed_and_bounded_otherwise(onet_slice):
    ev = evaluate(
        onet_slice["coder"], onet_slice["test"].head(120), text_columns=["text"], code_column="code",
        n_boot=50, retrain_data=onet_slice["train"], retrain_seeds=(0,),
    )
    churn = ev.to_dict()["reproducibility"]["churn"]
    assert churn[0]["seed"] == 0 and churn[0]["code_churn"] == 0.0  # training is deterministic per seed


def test_unknown_codes_are_reported_or_dropped(onet_slice):
    from statcoder.errors import UnknownCodeError

    frame = onet_slice["test"].head(30).copy()
    frame.loc[3, "code"] = "99-9999"
    with pytest.raises(UnknownCodeError) as info:
        evaluate(onet_slice["coder"], frame, text_columns=["text"], code_column="code", n_boot=10)
    assert "99-9999" in info.value.message and "row" in info.value.where
    ev = evaluate(onet_slice["coder"], frame, text_columns=["text"], code_column="code", n_boot=10,
                  on_unknown_code="drop")
    assert ev.to_dict()["meta"]["n_dropped_unknown_code"] == 1 and ev.data.n == 29


def test_true_codes_above_leaf_level_are_scored_only_where_they_say_something(onet_slice):
    soc = onet_slice["classification"]
    frame = onet_slice["test"].head(60).copy()
    frame.loc[0, "code"] = soc.truncate(frame.loc[0, "code"], 3)  # a broad-occupation code as truth
    ev = evaluate(onet_slice["coder"], frame, text_columns=["text"], code_column="code", n_boot=0)
    rows = {r["level"]: r for r in ev.to_dict()["accuracy"]["by_level"]}
    assert [rows[level]["n"] for level in (1, 2, 3, 4)] == [60, 60, 60, 59]
    assert rows[4]["accuracy_lower"] is None  # no bootstrap asked for: no interval, not a fake one

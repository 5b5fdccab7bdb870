import json

import numpy as np
import pandas as pd
import pytest

from statcoder import Coder, CodingIndex, train
from statcoder.coder import OUTPUT_COLUMNS
from statcoder.errors import IndexConflictError, ModelFileError, UnknownCodeError


def test_output_contract(trained):
    coder, test_set = trained
    out = coder.code(test_set, text_columns=["text"], top_k=3)
    assert list(out.columns[: len(test_set.columns)]) == list(test_set.columns)
    assert set(OUTPUT_COLUMNS) <= set(out.columns)
    assert set(out["decision"]) <= {"auto", "partial", "review"}
    assert (out["source"] == "model").all()
    for row in out.itertuples():
        cands = json.loads(row.candidates)
        assert 1 <= len(cands) <= 3
        assert [c["p"] for c in cands] == sorted((c["p"] for c in cands), reverse=True)
        if row.decision == "auto":
            assert row.predicted_level == 4 and row.predicted_code == cands[0]["code"]
        if row.decision == "partial":
            assert 1 <= row.predicted_level < 4 and len(row.predicted_code) == row.predicted_level
            assert row.confidence >= coder.thresholds[row.predicted_level]
    # held-out texts are new titles: the model must do far better than chance (1 / ~150 codes)
    best = [json.loads(c)[0]["code"] for c in out["candidates"]]
    assert np.mean(np.array(best) == test_set["code"].to_numpy()) > 0.5


def test_probabilities_are_distributions(trained):
    coder, test_set = trained
    proba = coder.predict_proba(test_set["text"].tolist())
    assert proba.shape == (len(test_set), len(coder.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert coder.classes_ == sorted(coder.classes_)


def test_model_card_has_what_architecture_requires(trained):
    coder, _ = trained
    card = coder.card
    assert card.classification.name == "isco08"
    assert len(card.training_data.fingerprint) == 64
    assert card.seed == 0 and card.backend == "linear" and card.deploy == "mean"
    assert set(card.heldout.levels) == {1, 2, 3, 4}
    assert 0 <= card.heldout.ece <= 1
    assert {"numpy", "scikit-learn", "statcoder"} <= set(card.library_versions)
    assert card.limits.text_columns == ("text",) and card.limits.max_text_length == 10_000
    assert card.calibration_data.source == "out-of-fold training data" and not card.calibration_data.target_population
    # auto-coded held-out records reach the target accuracy (thresholds are chosen for that)
    for fig in card.heldout.levels.values():
        if fig.coded_share > 0:
            assert fig.lower_bound >= card.target_accuracy


def test_save_load_round_trip(trained, tmp_path):
    coder, test_set = trained
    coder.save(tmp_path / "m")
    loaded = Coder.load(tmp_path / "m")
    assert loaded.version == coder.version and loaded.version.startswith("m-")
    texts = test_set["text"].tolist()[:50]
    np.testing.assert_allclose(loaded.predict_proba(texts), coder.predict_proba(texts), atol=1e-6)
    pd.testing.assert_frame_equal(loaded.code(test_set.head(50)), coder.code(test_set.head(50)))
    assert loaded.thresholds == coder.thresholds


def test_tampered_weights_are_refused(trained, tmp_path):
    coder, _ = trained
    path = coder.save(tmp_path / "m")
    weights = path / "weights.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its hash"):
        Coder.load(path)


def test_tampered_card_is_refused(trained, tmp_path):
    coder, _ = trained
    path = coder.save(tmp_path / "m")
    card = json.loads((path / "model.json").read_text())
    card["thresholds"]["4"] = 0.0
    (path / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="content hash"):
        Coder.load(path)


def test_pickle_and_foreign_formats_are_refused(trained, tmp_path):
    (tmp_path / "pk").mkdir()
    (tmp_path / "pk" / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ModelFileError, match="never loads"):
        Coder.load(tmp_path / "pk")
    coder, _ = trained
    path = coder.save(tmp_path / "m")
    (path / "extra.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ModelFileError, match="unexpected file"):
        Coder.load(path)


def test_newer_format_version_is_refused(trained, tmp_path):
    from statcoder.models.persistence import card_hash

    coder, _ = trained
    path = coder.save(tmp_path / "m")
    card = json.loads((path / "model.json").read_text())
    card["format_version"] = 99
    card["content_hash"] = card_hash(card)
    (path / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="format version 99 is not supported"):
        Coder.load(path)


def test_index_hits_come_first(trained):
    coder, _ = trained
    coder.index = CodingIndex({"Chief Statistician of the Republic": "2120"})
    try:
        out = coder.code(["chief statistician of the republic!", "welder"])
    finally:
        coder.index = None
    assert out.loc[0, "source"] == "index" and out.loc[0, "predicted_code"] == "2120"
    assert out.loc[0, "decision"] == "auto" and out.loc[0, "confidence"] == 1.0
    assert out.loc[1, "source"] == "model"


def test_index_conflicts_fail_at_load():
    frame = pd.DataFrame({"text": ["Nurse", "nurse ", "Welder"], "code": ["2221", "3221", "7212"]})
    with pytest.raises(IndexConflictError) as info:
        CodingIndex.from_frame(frame, where="idx.csv")
    assert "row 3" in info.value.where and "row 2" in info.value.where


def test_empty_texts_go_to_review(trained):
    coder, _ = trained
    out = coder.code(pd.DataFrame({"text": ["", None, "welder"]}))
    assert out["decision"].tolist()[:2] == ["review", "review"]
    assert out["predicted_code"].tolist()[:2] == ["", ""]
    assert out["candidates"].tolist()[:2] == ["[]", "[]"]


def test_unknown_codes_error_names_rows(isco):
    frame = pd.DataFrame({"text": ["a", "b", "c", "d"], "code": ["2512", "9999", "2512", "X1"]})
    with pytest.raises(UnknownCodeError) as info:
        train(frame, text_columns=["text"], code_column="code", classification=isco)
    assert "rows 3, 5" in info.value.where and "--on-unknown-code drop" in info.value.hint


def test_unknown_codes_can_be_dropped(ilo_slice, isco):
    frame = ilo_slice.head(300).copy()
    frame.loc[0, "code"] = "9999"
    coder = train(frame, text_columns=["text"], code_column="code", classification=isco,
                  on_unknown_code="drop", cv_folds=2)
    assert coder.card.training_data.dropped["unknown_code"] == 1
    assert coder.card.training_data.n_records == 299


def test_long_texts_are_cut_counted_and_warned(ilo_slice, isco, caplog):
    frame = ilo_slice.head(300).copy()
    frame.loc[[3, 7], "text"] = frame.loc[[3, 7], "text"] + " x" * 40
    with caplog.at_level("WARNING", logger="statcoder.coder.train"):
        coder = train(frame, text_columns=["text"], code_column="code", classification=isco, max_text_length=60,
                      cv_folds=2)
    assert coder.card.training_data.n_truncated == 2
    assert coder.card.limits.max_text_length == 60
    assert "2 training text(s) longer than 60 characters were cut" in caplog.text
    # coding applies the training limit by default: a long text is cut, not refused, and warned
    with caplog.at_level("WARNING", logger="statcoder.coder.coder"):
        out = coder.code([frame.loc[3, "text"], "nurse"])
    assert len(out) == 2 and "1 text(s) longer than 60 characters were cut" in caplog.text
    assert out.loc[0, "predicted_code"] == coder.code([frame.loc[3, "text"][:60]]).loc[0, "predicted_code"]


def test_same_seed_same_model(ilo_slice, isco):
    frame = ilo_slice.head(400)
    a = train(frame, text_columns=["text"], code_column="code", classification=isco, seed=3, cv_folds=2)
    b = train(frame, text_columns=["text"], code_column="code", classification=isco, seed=3, cv_folds=2)
    np.testing.assert_allclose(a.predict_proba(["welder"]), b.predict_proba(["welder"]))
    assert a.thresholds == b.thresholds


def test_fasttext_backend_same_interface(ilo_slice, isco, tmp_path):
    frame = ilo_slice.head(600)
    coder = train(frame, text_columns=["text"], code_column="code", classification=isco, backend="fasttext",
                  cv_folds=2)
    out = coder.code(["pipe welder", "software engineer"])
    assert set(OUTPUT_COLUMNS) <= set(out.columns)
    coder.save(tmp_path / "ft")
    loaded = Coder.load(tmp_path / "ft")
    np.testing.assert_allclose(loaded.predict_proba(["pipe welder"]), coder.predict_proba(["pipe welder"]), atol=1e-6)


def test_repeated_texts_get_identical_results(trained):
    coder, test_set = trained
    texts = test_set["text"].tolist()[:20]
    out = coder.code(texts + texts[::-1])
    first, second = out.iloc[:20].reset_index(drop=True), out.iloc[20:][::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, second)
    alone = coder.code(texts)
    pd.testing.assert_frame_equal(first, alone)


def test_flat_model_option(ilo_slice, isco):
    frame = ilo_slice.head(400)
    coder = train(frame, text_columns=["text"], code_column="code", classification=isco, cv_folds=2,
                  hierarchical=False)
    assert coder.card.hierarchical_model is False
    assert all(len(m.group_names_) == 1 for m in coder.model.estimators_)
    np.testing.assert_allclose(coder.predict_proba(["welder"]).sum(), 1.0)


def test_training_data_that_repeats_its_texts_is_warned_about(ilo_slice, isco):
    """A file concatenated twice makes every record's twin a training record of the member that
    scores it out of fold: the promise would be optimistic for new texts, so train says so."""
    import warnings

    from statcoder.coder.train import RepeatedTextsWarning, warn_repeated_texts

    part = ilo_slice.iloc[:300]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(pd.concat([part, part]), text_columns=["text"], code_column="code", classification=isco, cv_folds=3)
    repeated = [w for w in caught if issubclass(w.category, RepeatedTextsWarning)]
    assert len(repeated) == 1 and "300 of 600 training records (50%)" in str(repeated[0].message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        share = warn_repeated_texts(part["text"].drop_duplicates().tolist())
    assert share == 0.0 and not caught
    assert warn_repeated_texts(["Nurse", " nurse ", "welder", "cook"] * 1, where="t") == 0.25

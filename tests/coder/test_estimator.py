"""HierarchicalCoder: out-of-fold really out of fold, clone-and-refit reproducible, the promise
by simulation, recalibration, and format-1 model directories."""

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from statcoder import Coder, train
from statcoder.coder.estimator import HierarchicalCoder
from statcoder.coder.levels import top_level_groups
from statcoder.decision import threshold_for_target
from statcoder.errors import ConfigurationError, InputError, ModelFileError
from statcoder.models import persistence
from statcoder.models.registry import make_model


class Memoriser(ClassifierMixin, BaseEstimator):
    """Scores 10 for the code a text had in training, 0 for every other code (unseen text: all 0)."""

    def fit(self, X, y):
        self.memory_ = dict(zip(X, y, strict=True))
        self.classes_ = np.unique(np.asarray(y))
        return self

    def decision_function(self, X):
        out = np.zeros((len(X), len(self.classes_)))
        for i, text in enumerate(X):
            if text in self.memory_:
                out[i, np.searchsorted(self.classes_, self.memory_[text])] = 10.0
        return out

    def predict(self, X):
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def test_out_of_fold_scores_come_from_the_member_that_did_not_see_the_record():
    texts = [f"text {i}" for i in range(300)]
    codes = [str(i % 3) for i in range(300)]
    model = HierarchicalCoder(Memoriser(), cv=3, seed=0).fit(texts, codes)
    # in sample the memoriser is perfect; out of fold it has never seen the text: flat scores
    assert (model.estimators_[0].predict(texts) == np.asarray(codes)).mean() > 0.6
    assert np.allclose(model.oof_scores_, 0.0)
    np.testing.assert_allclose(model.oof_proba_, 1 / 3)
    for j, member in enumerate(model.estimators_):
        rows = np.flatnonzero(model.fold_ == j)
        assert not set(np.asarray(texts)[rows]) & set(member.memory_)  # the fold was left out
        assert len(member.memory_) == 300 - len(rows)


def test_clone_and_refit_gives_the_same_calibrated_output(ilo_slice, isco):
    frame = ilo_slice.head(600)
    texts, codes = frame["text"].tolist(), frame["code"].tolist()
    base = make_model("linear", seed=1, groups=top_level_groups(isco, codes))
    model = HierarchicalCoder(base, classification=isco, cv=3, seed=1).fit(texts, codes)
    again = clone(model).fit(texts, codes)
    probe = ["welder", "software developer", "primary school teacher"]
    np.testing.assert_allclose(again.predict_proba(probe), model.predict_proba(probe))
    np.testing.assert_allclose(again.oof_proba_, model.oof_proba_)
    assert again.thresholds_ == model.thresholds_
    assert model.temperature_ != 1.0  # calibrated, and the clone is calibrated the same way
    # a clone of the unfitted meta-estimator never carries a calibration over
    assert not hasattr(clone(model), "calibrator_")


def test_threshold_promise_by_simulation():
    """Known accuracy: confidence ~ U(0.5, 1) and P(right | confidence) = confidence, so the records
    accepted at t are right (1 + t) / 2 of the time; the target 0.95 holds iff t >= 0.9. Over 400
    calibration samples, the chosen threshold violates it in at most 5 % (+ 3 s.e.) of them."""
    rng = np.random.default_rng(0)
    reps, n, violations, shares = 400, 2000, 0, []
    for _ in range(reps):
        conf = rng.uniform(0.5, 1.0, n)
        correct = rng.uniform(0, 1, n) < conf
        t = threshold_for_target(conf, correct, target=0.95, confidence_level=0.95)
        violations += t < 0.9
        shares.append(0.0 if np.isinf(t) else (1 - t) / 0.5)
    assert violations / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    assert np.mean(shares) > 0.03  # not vacuous (at most 0.2 can be coded; the 95 % bound costs a part)


def test_parameters_are_checked():
    with pytest.raises(ConfigurationError):
        HierarchicalCoder(Memoriser(), deploy="nope").fit(["a", "b"], ["1", "2"])
    with pytest.raises(InputError):
        HierarchicalCoder(Memoriser()).fit(["a", "b"], ["1"])


def test_deploy_modes_and_save_load(ilo_slice, isco, tmp_path):
    frame = ilo_slice.head(500)
    for deploy in ("mean", "ensemble", "refit"):
        coder = train(frame, text_columns=["text"], code_column="code", classification=isco, cv_folds=2,
                      deploy=deploy)
        coder.save(tmp_path / deploy)
        loaded = Coder.load(tmp_path / deploy)
        assert loaded.card.deploy == deploy
        probe = ["welder", "nurse"]
        np.testing.assert_allclose(loaded.predict_proba(probe), coder.predict_proba(probe), atol=1e-6)


def test_mean_deploy_is_one_linear_model_with_the_members_mean_margins(ilo_slice, isco):
    """deploy="mean": one model whose SVM margins are the mean of the members' (shared featuriser),
    scored at the cost of one model, and fitted identically with 1 or 2 worker processes."""
    frame = ilo_slice.head(600)
    texts, codes = frame["text"].tolist(), frame["code"].tolist()
    common = [c for c in np.unique(codes) if codes.count(c) >= 8]
    keep = [i for i, c in enumerate(codes) if c in common]
    texts, codes = [texts[i] for i in keep], [codes[i] for i in keep]
    fitted = {}
    for jobs in (1, 2):
        base = make_model("linear", seed=0, threads=jobs)  # flat: decision_function = margins
        fitted[jobs] = HierarchicalCoder(base, classification=isco, cv=3, deploy="mean").fit(texts, codes)
    model = fitted[1]
    probe = ["welder", "software developer", "electrician apprentice"]
    members = [m for m in model.estimators_ if len(m.classes_) == len(model.classes_)]
    assert len(members) == 3  # every member saw every code (>= 8 examples each)
    mean_margins = np.mean([m.decision_function(probe) for m in members], axis=0)
    np.testing.assert_allclose(model.final_estimator_.decision_function(probe), mean_margins, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fitted[2].predict_proba(probe), model.predict_proba(probe))
    assert fitted[2].thresholds_ == model.thresholds_
    assert all(m.features_ is model.final_estimator_.features_ for m in model.estimators_)  # featurised once


def test_members_deploy_keeps_a_featuriser_per_fold(ilo_slice, isco):
    """deploy="members" (the formal variant): each member featurises only its own training part."""
    frame = ilo_slice.head(300)
    model = HierarchicalCoder(make_model("linear", seed=0), classification=isco, cv=2, deploy="members").fit(
        frame["text"].tolist(), frame["code"].tolist())
    first, second = (m.features_ for m in model.estimators_)
    assert first is not second and first.n_features_out_ != second.n_features_out_


def test_recalibrate_records_the_target_population(trained):
    coder, test_set = trained
    with pytest.raises(InputError, match="at least 200"):
        coder.recalibrate(test_set["text"].head(50), test_set["code"].head(50))
    new = coder.recalibrate(test_set["text"], test_set["code"], source="held-out ILO titles")
    assert new.card.calibration_data.target_population
    assert new.card.calibration_data.n == len(test_set) and new.card.calibration_data.source == "held-out ILO titles"
    assert new.card.heldout.n == len(test_set)
    assert new.model.estimators_ is coder.model.estimators_  # same model, new calibration
    assert coder.card.calibration_data.target_population is False  # the original is unchanged
    with pytest.raises(InputError, match="not in isco08"):
        coder.recalibrate(test_set["text"], ["9999x"] * len(test_set))


def test_format_1_model_directory_loads_converted(ilo_slice, isco, tmp_path, monkeypatch):
    frame = ilo_slice.head(300)
    model = make_model("linear", seed=0).fit(frame["text"].tolist(), frame["code"].tolist())
    model.temperature_ = 0.5
    state, arrays, _ = model.to_state()
    card = {"created": "2026-01-01T00:00:00+00:00", "backend": "linear", "model_params": {},
            "hierarchical_model": False, "seed": 0, "target_accuracy": 0.95,
            "classification": {"name": "isco08", "version": "", "fingerprint": isco.fingerprint, "depth": 4,
                               "n_codes": len(isco)},
            "training_data": {"fingerprint": "0" * 64, "n_records": 300, "n_codes": len(model.classes_),
                              "text_columns": ["text"], "code_column": "code", "dropped": {}},
            "heldout": {"n": 300, "cv_folds": 5, "accuracy": 0.5, "ece_before_calibration": 0.2, "ece": 0.05,
                        "temperature": 0.5, "levels": {"4": {"accuracy": 0.5, "coded_share": 0.0,
                                                             "coded_accuracy": float("nan"), "lower_bound": 0.0}},
                        "decisions": {"auto": {"share": 0.0}, "partial": {"share": 0.0}, "review": {"share": 1.0}}},
            "thresholds": {"1": 0.99, "2": None, "3": None, "4": None},
            "train_seconds": 1.0, "library_versions": {}, "index_entries": 0}
    tree = {"name": isco.name, "version": isco.version, "level_names": {}, "codes": isco.to_records()}
    monkeypatch.setattr(persistence, "FORMAT_VERSION", 1)
    persistence.write_model_dir(tmp_path / "v1", card, arrays=arrays,
                                json_files={"classification.json": tree, "model_state.json": state})
    monkeypatch.undo()
    assert json.loads((tmp_path / "v1" / "model.json").read_text())["format_version"] == 1
    loaded = Coder.load(tmp_path / "v1")
    assert loaded.card.deploy == "refit" and loaded.card.heldout.levels[4].coded_accuracy is None
    assert loaded.thresholds == {1: 0.99, 2: float("inf"), 3: float("inf"), 4: float("inf")}
    from statcoder.models.calibration import softmax

    expected = softmax(model.decision_function(["welder"]), temperature=0.5)
    np.testing.assert_allclose(loaded.predict_proba(["welder"]), expected)
    # a damaged card is refused with a clear error
    raw = json.loads((tmp_path / "v1" / "model.json").read_text())
    del raw["heldout"]["levels"]
    raw["content_hash"] = persistence.card_hash(raw)
    (tmp_path / "v1" / "model.json").write_text(json.dumps(raw))
    with pytest.raises(ModelFileError, match="malformed"):
        Coder.load(tmp_path / "v1")


def test_model_json_has_no_bare_nan(trained, tmp_path):
    coder, _ = trained
    coder.save(tmp_path / "m")
    text = (tmp_path / "m" / "model.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in model.json"))


def test_model_path_that_is_a_file(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(ModelFileError, match="is a file, not a model directory"):
        Coder.load(tmp_path / "model.json")

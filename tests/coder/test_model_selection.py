"""Issue 12: choosing the model by validation inside fit, and extra training examples (titles)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from test_estimator import Memoriser

from statcoder import train
from statcoder.coder.estimator import HierarchicalCoder
from statcoder.coder.levels import top_level_groups
from statcoder.coder.train import model_candidates, title_pairs
from statcoder.errors import ConfigurationError, InputError
from statcoder.models.registry import make_model


def _slice(ilo_slice, n=600):
    frame = ilo_slice.head(n)
    return frame["text"].tolist(), frame["code"].tolist()


def test_selection_on_the_shared_fit_takes_the_better_candidate_for_every_member(ilo_slice, isco):
    texts, codes = _slice(ilo_slice)
    base = make_model("linear", seed=0, groups=top_level_groups(isco, codes))
    # C = 1e-4 barely learns anything: its first-fold top-1 is far below the default's
    model = HierarchicalCoder(base, classification=isco, cv=3, deploy="mean",
                              candidates=({"C": 1e-4}, {})).fit(texts, codes)
    low, default = model.selection_["validation_top1"]
    assert default > low + 0.2
    assert model.selection_["chosen"] == 1 and model.best_params_ == {}
    assert model.selection_["validation_n"] == int((model.fold_ == 0).sum())
    assert all(m.C == 1.0 for m in model.estimators_) and model.final_estimator_.C == 1.0
    # the chosen first-fold member is the one a plain fit makes: same out-of-fold scores
    plain = HierarchicalCoder(base, classification=isco, cv=3, deploy="mean").fit(texts, codes)
    np.testing.assert_allclose(model.oof_proba_, plain.oof_proba_)
    # the flat candidate: groups=None reaches every member when it is the only one left
    flat = HierarchicalCoder(base, classification=isco, cv=3, deploy="mean",
                             candidates=({"groups": None},)).fit(texts, codes)
    assert flat.selection_["validation_top1"] == []  # one candidate: nothing to compare
    assert all(m.groups is None and len(m.group_names_) == 1 for m in flat.estimators_)


def test_selection_with_any_base_estimator_and_clone_refit_identical():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (150, 2)), rng.normal(3, 1, (150, 2))]
    y = np.r_[["a"] * 150, ["b"] * 150]
    cands = ({"C": 1e-6}, {"C": 1.0})
    model = HierarchicalCoder(LogisticRegression(), cv=3, candidates=cands).fit(X, y)
    assert model.selection_["chosen"] == 1  # C = 1e-6 scores every record ~0.5/0.5: ties go to "a"
    assert all(m.C == 1.0 for m in model.estimators_)
    again = clone(model).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X))
    assert again.selection_ == model.selection_


def test_candidates_are_checked(ilo_slice, isco):
    texts, codes = _slice(ilo_slice, 200)
    with pytest.raises(ConfigurationError, match="unknown parameter"):
        HierarchicalCoder(make_model("linear"), cv=2, deploy="mean", candidates=({"Cee": 2},)).fit(texts, codes)
    with pytest.raises(ConfigurationError, match="not the features"):
        HierarchicalCoder(make_model("linear"), cv=2, deploy="mean",
                          candidates=({}, {"word_ngrams": (1, 1)})).fit(texts, codes)


def test_extra_examples_train_every_member_and_are_never_scored_out_of_fold():
    texts = [f"text {i}" for i in range(90)]
    codes = [str(i % 3) for i in range(90)]
    extra = (["title of three", "title of zero"], ["3", "0"])
    model = HierarchicalCoder(Memoriser(), cv=3, seed=0).fit(texts, codes, extra_examples=extra)
    assert list(model.classes_) == ["0", "1", "2", "3"]  # a code seen only among the extra examples
    assert model.oof_scores_.shape == (90, 4) and model.n_calibration_ == 90
    for member in model.estimators_:
        assert member.memory_["title of three"] == "3"  # every member learnt the extra examples
    assert model.predict(["title of three"])[0] == "3"
    plain = HierarchicalCoder(Memoriser(), cv=3, seed=0).fit(texts, codes)
    assert plain.predict(["title of three"])[0] != "3"
    with pytest.raises(InputError, match="1 codes for 2 extra"):
        HierarchicalCoder(Memoriser(), cv=3).fit(texts, codes, extra_examples=(["a", "b"], ["0"]))


def test_train_options_select_model_and_title_examples_are_recorded(ilo_slice, isco):
    frame = ilo_slice.head(700)
    common = {"text_columns": ["text"], "code_column": "code", "classification": isco, "seed": 0}
    with pytest.warns(UserWarning):
        chosen = train(frame, select_model=True, title_examples=False, **common)
    sel = chosen.card.model_selection
    assert sel["candidates"] == model_candidates(make_model("linear"), hierarchical=True)
    assert len(sel["validation_top1"]) == len(sel["candidates"]) == 4
    assert sel["chosen"] == int(np.argmax(sel["validation_top1"]))
    expected = sel["candidates"][sel["chosen"]]
    assert chosen.card.model_params["C"] == expected.get("C", 1.0)
    assert chosen.card.hierarchical_model == ("groups" not in expected)
    with pytest.warns(UserWarning):
        titled = train(frame, **common)  # titles are the default
    n_titles = len(title_pairs(isco, frame["code"].tolist())[0])
    assert titled.card.model_selection == {"title_examples": n_titles} and n_titles > 50
    assert titled.card.heldout.n == len(frame)  # titles are not calibration records
    with pytest.warns(UserWarning):
        plain = train(frame, title_examples=False, **common)
    assert plain.card.model_selection == {}
    a, b = titled.model.final_estimator_.coef_, plain.model.final_estimator_.coef_
    assert a.shape != b.shape or abs(a - b).sum() > 0  # the titles changed the model


def test_note_examples_and_train_extra_examples(ilo_slice, isco, shared_data, tmp_path):
    from statcoder.coder.train import note_examples

    texts, codes = note_examples(shared_data / "classifications" / "isco08.csv", codes={"2519"})
    # ISCO-08 2519's "examples of the occupations classified here", one per line
    assert texts == ["Quality assurance analyst (computers)", "Software tester", "Systems tester"]
    assert codes == ["2519"] * 3
    bare = tmp_path / "bare.csv"
    bare.write_text("code,title\n1,A\n")
    with pytest.raises(InputError, match="note columns"):
        note_examples(bare)
    frame = ilo_slice.head(300)
    common = {"text_columns": ["text"], "code_column": "code", "classification": isco, "seed": 0}
    with pytest.raises(InputError, match="not in"):
        train(frame, extra_examples=(["x"], ["99999"]), **common)
    with pytest.warns(UserWarning):
        coder = train(frame, title_examples=False, extra_examples=(texts + [" "], codes + ["2519"]), **common)
    assert coder.card.model_selection == {"extra_examples": 3}  # the blank text is left out
    assert "2519" in coder.model.classes_

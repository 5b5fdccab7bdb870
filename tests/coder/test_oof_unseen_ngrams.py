"""Out-of-fold scores see a held-out record as the deployed model sees a new text: without the
n-grams its member never saw (the shared featuriser's vocabulary comes from every training text)."""

import numpy as np

from statcoder.coder.estimator import HierarchicalCoder
from statcoder.models.registry import make_model
from statcoder.text.features import TextFeatures

BASE = {"1": ["pipe welder", "steel welder", "arc welder"], "2": ["staff nurse", "night nurse", "ward nurse"],
        "3": ["bus driver", "taxi driver", "truck driver"]}


def test_without_unseen_equals_the_text_without_the_unseen_words():
    features = TextFeatures().fit(["abc def", "uvw abc", "def ghi"])
    seen = np.zeros(features.n_features_out_, dtype=bool)
    seen[features.transform(["abc def", "def ghi"]).indices] = True  # "uvw" occurs only in the held-out text
    restricted = features.without_unseen(features.transform(["abc uvw"]), seen)
    assert np.abs((restricted - features.transform(["abc"])).toarray()).max() == 0.0
    # nothing unseen: the rows are unchanged
    everything = np.ones(features.n_features_out_, dtype=bool)
    same = features.without_unseen(features.transform(["abc uvw"]), everything)
    assert np.abs((same - features.transform(["abc uvw"])).toarray()).max() < 1e-7


def test_a_held_out_record_is_scored_without_the_words_only_it_has():
    texts, codes = [], []
    for code, titles in BASE.items():
        for title in titles:
            texts += [title] * 8
            codes += [code] * 8
    special = len(texts)
    texts.append("pipe welder ωψφχ")  # a word (and bigram) no other record has
    codes.append("1")
    model = HierarchicalCoder(make_model("linear"), cv=3, seed=0, deploy="mean").fit(texts, codes)
    j = model.fold_[special]
    member = model.estimators_[j]
    as_new_text = member.scores_of_features(member.features_.transform(["pipe welder"]))
    cols = np.searchsorted(model.classes_, member.classes_)
    np.testing.assert_allclose(model.oof_scores_[special, cols], as_new_text[0], rtol=1e-6, atol=1e-6)
    # the word the member never saw would have lowered its scores (it dilutes the record's norm)
    with_word = member.scores_of_features(member.features_.transform(["pipe welder ωψφχ"]))
    assert with_word[0].max() < as_new_text[0].max() - 1e-3

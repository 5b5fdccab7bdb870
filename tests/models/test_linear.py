import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from statcoder.models import (
    LinearTextCoder,
    expected_calibration_error,
    fit_temperature,
    softmax,
)

TEXTS = ["software developer", "java programmer", "web developer", "nurse", "registered nurse",
         "nursing assistant", "truck driver", "bus driver", "delivery driver"] * 3
CODES = ["2512", "2512", "2513", "2221", "2221", "5321", "8332", "8331", "8322"] * 3


@pytest.mark.parametrize("check", [check_parameters_default_constructible, check_no_attributes_set_in_init,
                                   check_get_params_invariance, check_set_params])
def test_sklearn_estimator_checks(check):
    check("LinearTextCoder", LinearTextCoder())


def test_clone_and_fit_predict():
    model = clone(LinearTextCoder(C=1.0)).fit(TEXTS, CODES)
    assert list(model.classes_) == sorted(set(CODES))
    assert model.predict(["senior java developer"])[0] == "2512"
    proba = model.predict_proba(["bus driver"])
    np.testing.assert_allclose(proba.sum(), 1.0)


def test_grouped_model_probabilities_factorise():
    groups = {c: c[0] for c in CODES}
    model = LinearTextCoder(groups=groups).fit(TEXTS, CODES)
    proba = model.predict_proba(["truck driver", "nurse"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.predict(["truck driver"])[0] == "8332"
    assert len(model.group_names_) == 3


def test_contributions_explain_the_prediction():
    model = LinearTextCoder().fit(TEXTS, CODES)
    top = model.contributions("registered nurse", "2221")
    assert top[0][1] > 0 and any("nurse" in name for name, _ in top[:5])


def test_temperature_recovers_known_value():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20_000, 4)) * 3
    true_t = 2.0
    p = softmax(logits, temperature=true_t)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert fit_temperature(logits, y) == pytest.approx(true_t, rel=0.05)


def test_ece_hand_computed():
    conf = np.array([0.9, 0.9, 0.6, 0.6])
    correct = np.array([1, 0, 1, 1])
    # bins: 0.9 -> |0.5-0.9| weight 2; 0.6 -> |1-0.6| weight 2 => 0.4
    assert expected_calibration_error(conf, correct, n_bins=10) == pytest.approx(0.4)


def test_temperature_ignores_records_whose_class_was_unavailable():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5_000, 4)) * 3
    p = softmax(logits, temperature=1.5)
    y = np.array([rng.choice(4, p=row) for row in p])
    reference = fit_temperature(logits, y)
    polluted = np.vstack([logits, np.full((200, 4), 1.0)])
    polluted[5_000:, 0] = -np.inf  # the true class (0) was absent from the fold these came from
    assert fit_temperature(polluted, np.r_[y, np.zeros(200, dtype=int)]) == pytest.approx(reference, rel=1e-6)


def test_calibration_helps_on_small_data_with_rare_codes(shared_data):
    import pandas as pd

    from statcoder import Classification, train

    isco = Classification.from_csv(shared_data / "classifications" / "isco08.csv")
    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame.sample(1500, random_state=0)  # ~400 codes: many appear once, absent from some folds
    held = train(frame, text_columns=["text"], code_column="code", classification=isco, cv_folds=2).card.heldout
    assert held.temperature < 2.0
    assert held.ece <= held.ece_before_calibration + 0.01


def test_parallel_fit_and_word_cap_give_identical_reloaded_scores():
    import json

    groups = {c: c[0] for c in CODES}
    serial = LinearTextCoder(groups=groups, word_max_chars=12).fit(TEXTS, CODES)
    parallel = LinearTextCoder(groups=groups, word_max_chars=12, n_jobs=2).fit(TEXTS, CODES)
    queries = ["senior java developer", "night nurse", "school bus driver"]
    np.testing.assert_array_equal(parallel.decision_function(queries), serial.decision_function(queries))
    state, arrays, _ = parallel.to_state()
    again = LinearTextCoder.from_state(json.loads(json.dumps(state)), arrays)
    np.testing.assert_array_equal(again.decision_function(queries), parallel.decision_function(queries))
    assert again.get_params()["word_max_chars"] == 12


def test_word_cap_reads_only_the_start_of_long_texts():
    from statcoder.text.features import TextFeatures

    capped = TextFeatures(word_max_chars=10).fit(TEXTS + ["nurse aide java programmer"])
    uncapped = TextFeatures().fit(TEXTS + ["nurse aide java programmer"])
    long, short = ["nurse aide java programmer"], ["nurse aide"]
    # "java" and "programmer" are known words, yet past the first 10 characters they are not read
    np.testing.assert_array_equal(capped.word_.transform(long).toarray(), capped.word_.transform(short).toarray())
    assert (uncapped.word_.transform(long) != uncapped.word_.transform(short)).nnz > 0


def test_threads_setting_reaches_the_linear_model():
    from statcoder.models.registry import make_model

    assert make_model("linear", threads=2).n_jobs == 2
    assert make_model("linear", threads=2, n_jobs=1).n_jobs == 1  # an explicit parameter wins


def _reference_scores(model, texts):
    """decision_function written plainly: scikit-learn features, dense float64 weights, a loop
    over groups (what the vectorised scoring replaced)."""
    from statcoder.text.features import _prepare

    prepared = _prepare(texts)
    f = model.features_
    Z = np.hstack([f.word_.transform(prepared).toarray(),
                   f.char_.transform(prepared).toarray() * np.float32(f.char_weight)]).astype(np.float64)
    scores = Z @ model.coef_.toarray().T.astype(np.float64) + model.intercept_
    if len(model.group_names_) == 1:
        return scores
    tau = model.group_temperature
    top = Z @ model.group_coef_.toarray().T.astype(np.float64) + model.group_intercept_

    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    out = log_softmax(top / tau)[:, model.class_group_]
    for g in range(len(model.group_names_)):
        cols = np.flatnonzero(model.class_group_ == g)
        out[:, cols] += log_softmax(scores[:, cols] / tau)
    return out


@pytest.mark.parametrize("grouped", [False, True])
def test_vectorised_scoring_equals_the_plain_computation(grouped):
    # groups interleaved with the class order, so the reduceat layout has to reorder columns
    groups = {c: ("x" if c in {"2221", "8331", "2513"} else "y") for c in CODES} if grouped else None
    model = LinearTextCoder(groups=groups, char_min_df=1).fit(TEXTS, CODES)
    texts = ["senior java developer", "nurse", "", "bus", "Żółć 東京", "driver of trucks and buses"]
    got = model.decision_function(texts)
    np.testing.assert_allclose(got, _reference_scores(model, texts), rtol=1e-5, atol=1e-5)
    assert got.dtype == np.float64 and got.shape == (len(texts), len(model.classes_))
    np.testing.assert_array_equal(got.argmax(axis=1), _reference_scores(model, texts).argmax(axis=1))


def test_scores_do_not_depend_on_the_batch(monkeypatch):
    """A text's scores are bit-identical alone and inside any batch (resume relies on it), with
    the weights split between the dense block of frequent features and the sparse rest."""
    from statcoder.models import scoring

    groups = {c: c[0] for c in CODES}
    model = LinearTextCoder(groups=groups, char_min_df=1).fit(TEXTS, CODES)
    monkeypatch.setattr(scoring, "DENSE_BYTES", 40 * 4 * (len(model.classes_) + len(model.group_names_)))
    assert 0 < model._weights().n_dense < model.coef_.shape[1]  # both parts in use
    texts = ["senior java developer", "nurse", "bus driver for the city", "web", "truck and bus driver"]
    batch = model.decision_function(texts)
    for i, text in enumerate(texts):
        np.testing.assert_array_equal(model.decision_function([text])[0], batch[i])
    np.testing.assert_array_equal(model.decision_function(texts[::-1])[::-1], batch)


def test_averaged_model_keeps_a_code_only_some_members_saw():
    """A code missing from one member's training part is averaged over the members that have it."""
    import numpy as np

    from statcoder.models.linear import LinearTextCoder, fit_svm_tasks

    texts = ["red apple", "green apple", "red car", "blue car", "fast boat", "slow boat"] * 3
    codes = ["a", "a", "b", "b", "c", "c"] * 3
    base = LinearTextCoder(seed=0)
    features = base.make_features().fit(texts)
    Z = features.transform(texts)
    rows_all = np.arange(len(texts))
    rows_no_c = np.flatnonzero(np.asarray(codes) != "c")
    members = [LinearTextCoder(seed=0), LinearTextCoder(seed=0)]
    for member, rows in zip(members, (rows_all, rows_no_c), strict=True):
        plan = member.plan_fit(rows, [codes[i] for i in rows])
        plan.finish(fit_svm_tasks(Z, plan.tasks, member.svm_options(), n_jobs=1), features)
    mean = LinearTextCoder.averaged(members)
    assert mean.classes_.tolist() == ["a", "b", "c"]
    full = members[0].coef_.toarray()
    both = (full[:2] + members[1].coef_.toarray()) / 2
    np.testing.assert_allclose(mean.coef_.toarray(), np.vstack([both, full[2:]]), rtol=1e-6)
    assert mean.predict(["slow boat"]).tolist() == ["c"]

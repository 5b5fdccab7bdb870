"""The library settings change behaviour: STATCODER_MAX_TEXT_LENGTH and STATCODER_THREADS."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_info

from statcoder import train
from statcoder.coder.estimator import HierarchicalCoder
from statcoder.service.settings import ServiceSettings
from statcoder.settings import Settings, get_settings


@pytest.fixture
def env(monkeypatch):
    def set_env(**values):
        for key, value in values.items():
            monkeypatch.setenv(f"STATCODER_{key.upper()}", str(value))
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


class ThreadSpy(ClassifierMixin, BaseEstimator):
    """Records the largest BLAS/OpenMP pool size seen while fitting and scoring."""

    def fit(self, X, y):
        self.classes_ = np.unique(np.asarray(y))
        self.threads_seen_ = max(p["num_threads"] for p in threadpool_info())
        return self

    def decision_function(self, X):
        return np.zeros((len(X), len(self.classes_)))


def test_one_settings_class_for_library_and_service():
    assert ServiceSettings is Settings
    assert {"max_text_length", "threads", "data_dir", "job_chunk_size"} <= set(Settings.model_fields)


def test_max_text_length_setting_cuts_training_texts(env, ilo_slice, isco):
    frame = ilo_slice.head(200).copy()
    frame.loc[0, "text"] = "welder " * 20
    env(max_text_length=40)
    coder = train(frame, text_columns=["text"], code_column="code", classification=isco, cv_folds=2)
    assert coder.card.limits.max_text_length == 40
    assert coder.card.training_data.n_truncated == int((frame["text"].str.len() > 40).sum()) >= 1


def test_threads_setting_bounds_the_pools_a_model_uses(env):
    unbounded = max(p["num_threads"] for p in threadpool_info())  # numpy/scipy load OpenBLAS
    texts, codes = [f"t{i}" for i in range(40)], [str(i % 2) for i in range(40)]
    env(threads=1)
    model = HierarchicalCoder(ThreadSpy(), cv=2).fit(texts, codes)
    assert all(m.threads_seen_ == 1 for m in model.estimators_)
    env(threads=2)
    model = HierarchicalCoder(ThreadSpy(), cv=2).fit(texts, codes)
    assert all(m.threads_seen_ == min(2, unbounded) for m in model.estimators_)
    assert max(p["num_threads"] for p in threadpool_info()) == unbounded  # the limit is lifted afterwards


def test_bad_setting_is_refused(env):
    from pydantic import ValidationError

    env(threads=0)
    with pytest.raises(ValidationError):
        get_settings()


def test_threads_setting_reaches_fasttext(env):
    from statcoder.models.registry import make_model

    env(threads=2)
    assert make_model("fasttext").threads == 2
    env(threads=1)
    assert make_model("fasttext").threads == 1

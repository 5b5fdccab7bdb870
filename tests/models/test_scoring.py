"""The fused scoring path (``statcoder.models.scoring``) equals the step-by-step computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from statcoder.models import LinearTextCoder, scoring, softmax

TEXTS = ["software developer", "java programmer", "web developer", "nurse", "registered nurse",
         "nursing assistant", "truck driver", "bus driver", "delivery driver"] * 3
CODES = ["2512", "2512", "2513", "2221", "2221", "5321", "8332", "8331", "8322"] * 3
NEW = ["senior java developer", "nurse", "", "bus", "Żółć 東京", "driver of trucks and buses", "web nurse"]


@pytest.mark.parametrize("grouping", ["flat", "sorted", "interleaved"])
@pytest.mark.parametrize("dense_bytes", [0, 40 * 4 * 9, scoring.DENSE_BYTES])
def test_calibrated_proba_equals_softmax_of_the_scores(monkeypatch, grouping, dense_bytes):
    """Same probabilities (1e-12) and the same best class as softmax(decision_function / T),
    whichever share of the weights is dense and however the groups lie among the classes."""
    monkeypatch.setattr(scoring, "DENSE_BYTES", dense_bytes)
    groups = {"flat": None, "sorted": {c: c[0] for c in CODES},
              "interleaved": {c: ("x" if c in {"2221", "8331", "2513"} else "y") for c in CODES}}[grouping]
    model = LinearTextCoder(groups=groups, char_min_df=1).fit(TEXTS, CODES)
    for temperature in (0.7, 1.0, 1.9):
        want = softmax(model.decision_function(NEW), temperature=temperature)
        got = model.calibrated_proba(NEW, temperature=temperature)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
        np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_product_equals_the_plain_product_and_does_not_depend_on_the_batch(monkeypatch):
    rng = np.random.default_rng(0)
    weights = sp.random(30, 200, density=0.3, random_state=0, format="csr", dtype=np.float32)
    order = rng.permutation(200)
    Z = sp.random(50, 200, density=0.05, random_state=1, format="csr", dtype=np.float32)
    for dense_bytes in (0, 4 * 30 * 60, 4 * 30 * 500):
        w = scoring.Weights(weights, order, dense_bytes=dense_bytes)
        got = w.product(Z)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, (Z @ weights.T).toarray(), rtol=1e-5, atol=1e-6)
        for i in (0, 7, 49):
            np.testing.assert_array_equal(w.product(Z[i]), got[i:i + 1])
        np.testing.assert_array_equal(w.product(Z[::-1])[::-1], got)
        # given as row blocks (codes, then groups), the weights score exactly as stacked
        blocks = scoring.Weights([weights[:20], weights[20:]], order, dense_bytes=dense_bytes)
        np.testing.assert_array_equal(blocks.product(Z), got)


def test_hierarchical_coder_uses_the_fused_path_with_the_same_outputs(trained_small):
    """``HierarchicalCoder.predict_proba`` (fused) against the calibrator on the scores."""
    model, texts = trained_small
    fused = model.predict_proba(texts)
    plain = model.calibrator_.predict_proba(model.scores(texts))
    np.testing.assert_allclose(fused, plain, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fused.argmax(axis=1), plain.argmax(axis=1))


@pytest.fixture(params=["mean", "members", "refit"])
def trained_small(request):
    from statcoder.coder.estimator import HierarchicalCoder

    model = HierarchicalCoder(LinearTextCoder(char_min_df=1), deploy=request.param, cv=3, seed=0)
    model.fit(TEXTS * 2, CODES * 2)
    assert model._fused_proba(NEW) is not None
    return model, NEW

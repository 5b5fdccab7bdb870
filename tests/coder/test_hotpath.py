"""The array-at-a-time candidates JSON equals the per-record formatting it replaced."""

from __future__ import annotations

import json

import numpy as np

from statcoder.classifications import Classification
from statcoder.coder.hotpath import candidate_prefixes, candidates_json, class_levels, top_k


def _tree() -> Classification:
    return Classification.from_codes(["1110", "1120", "2110", "2120", "2210"], name="toy")


def test_candidates_json_matches_per_record_formatting():
    tree = _tree()
    classes = ["1110", "1120", "2110", "2120", "2210"]
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(5), size=200)
    proba[0] = [0.2, 0.2, 0.2, 0.2, 0.2]  # ties: lower class index first
    prefixes = candidate_prefixes(tree, classes)
    out = candidates_json(prefixes, proba, 3)
    for row, text in zip(proba, out, strict=True):
        parsed = json.loads(text)
        order = sorted(range(5), key=lambda j: (-row[j], j))[:3]
        assert [c["code"] for c in parsed] == [classes[j] for j in order]
        assert text == "[" + ", ".join(f"{prefixes[j]}{row[j]:.4f}}}" for j in order) + "]"
    assert json.loads(out[0])[0] == {"code": "1110", "title": tree.title("1110"), "p": 0.2}
    assert top_k(proba, 9)[0].shape == (200, 5)
    assert class_levels(tree, classes).tolist() == [tree.level(c) for c in classes]


def test_level_aggregator_equals_per_level_products():
    import scipy.sparse as sp

    from statcoder.coder.hotpath import LevelAggregator
    from statcoder.coder.levels import best_by_level, level_aggregators

    tree = Classification.from_codes(["1110", "1120", "2110", "2120", "2210"], name="toy")
    classes = ["1110", "1120", "2110", "2120", "2210"]
    proba = np.random.default_rng(1).dirichlet(np.ones(5), size=300)
    aggregators = level_aggregators(tree, classes)
    # an extra level no class reaches, and a leaf level in a permuted order (not the identity)
    aggregators[tree.depth + 1] = (sp.csr_matrix((5, 0)), [])
    permuted = [3, 0, 4, 1, 2]
    aggregators[tree.depth + 2] = (sp.csr_matrix((np.ones(5), (permuted, np.arange(5))), shape=(5, 5)),
                                   [classes[j] for j in permuted])
    want = best_by_level(proba, aggregators)
    aggregator = LevelAggregator(aggregators)
    assert any(isinstance(how, tuple) and len(how) == 3 for _, _, how in aggregator.levels)  # a level from another
    got = aggregator.best(proba)
    assert sorted(got) == sorted(want)
    for level, (codes, conf) in want.items():
        assert got[level][0].tolist() == codes.tolist()
        np.testing.assert_allclose(got[level][1], conf, rtol=1e-12, atol=1e-15)


def test_top_k_by_argmax_passes_equals_a_stable_sort():
    """Many classes, few candidates: the argmax passes give the best ``k`` by probability, ties
    by the lower index (as a stable sort of the whole row), and leave the probabilities as
    they were. Without ties, the same as the argpartition path."""
    from statcoder.coder.hotpath import _top_k_sorted

    rng = np.random.default_rng(2)
    proba = rng.dirichlet(np.full(300, 0.05), size=400)
    proba[0] = 1 / 300  # all tied
    proba[1, [5, 17, 250]] = proba[1].max() + 0.1  # a three-way tie at the top
    proba[2] = np.round(proba[2], 2)  # many ties among the small ones
    before = proba.copy()
    stable = np.argsort(-proba, axis=1, kind="stable")
    for k in (1, 5, 18):
        top, top_p = top_k(proba, k)
        np.testing.assert_array_equal(top, stable[:, :k])
        np.testing.assert_array_equal(top_p, np.take_along_axis(proba, stable[:, :k], axis=1))
        np.testing.assert_array_equal(proba, before)
        np.testing.assert_array_equal(top[3:], _top_k_sorted(proba[3:], k)[0])
    assert top_k(proba, 5)[0][1, :3].tolist() == [5, 17, 250]


def test_level_aggregator_sums_unsorted_classes_by_segments():
    """Classes not in code order: the reduceat path gathers them, and equals the products."""
    from statcoder.coder.hotpath import LevelAggregator
    from statcoder.coder.levels import best_by_level, level_aggregators

    tree = _tree()
    classes = ["2120", "1110", "2210", "1120", "2110"]
    proba = np.random.default_rng(3).dirichlet(np.ones(5), size=100)
    aggregators = level_aggregators(tree, classes)
    aggregator = LevelAggregator(aggregators)
    assert any(isinstance(how, tuple) and how[0] is not None for _, _, how in aggregator.levels)
    want = best_by_level(proba, aggregators)
    for level, (codes, conf) in aggregator.best(proba).items():
        assert codes.tolist() == want[level][0].tolist()
        np.testing.assert_allclose(conf, want[level][1], rtol=1e-12)

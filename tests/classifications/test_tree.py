import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statcoder.classifications import Classification
from statcoder.errors import UnknownCodeError


@pytest.fixture(scope="module")
def isco(shared_data):
    return Classification.from_csv(shared_data / "classifications" / "isco08.csv")


def test_published_level_counts(isco):
    # data README: 10 major, 43 sub-major, 130 minor, 436 unit groups
    assert [n for _, _, n in isco.summary()] == [10, 43, 130, 436]
    assert len(isco.leaves) == 436


def test_tree_operations(isco):
    assert isco.parent("2512") == "251"
    assert isco.ancestors("2512") == ["2", "25", "251"]
    assert isco.truncate("2512", 2) == "25"
    assert isco.truncate("25", 3) == "25"
    assert "2512" in isco.children("251")
    assert isco.level("0110") == 4 and isco.truncate("0110", 1) == "0"
    assert isco.tree_distance("2512", "2512") == 0
    assert isco.tree_distance("2512", "2513") == 1
    assert isco.tree_distance("2512", "2521") == 2
    assert isco.tree_distance("2512", "0110") == 4
    assert isco.title("2512") == "Software developers"


def test_unknown_code_is_a_clear_error(isco):
    with pytest.raises(UnknownCodeError, match="'9999' is not in classification isco08"):
        isco.parent("9999")


def test_codes_of_every_shared_classification_load(shared_data):
    expected = {"soc2018": [23, 98, 459, 867], "naics2022": [20, 96, 308, 689, 1012],
                "uksic2007": [21, 88, 272, 615, 728], "coicop2018": [15, 63, 186, 338, 269]}
    for name, counts in expected.items():
        tree = Classification.from_csv(shared_data / "classifications" / f"{name}.csv")
        assert [n for _, _, n in tree.summary()] == counts


def test_from_codes_builds_prefix_hierarchy():
    tree = Classification.from_codes(["1111", "1112", "2211"], name="toy", prefix_lengths=(1, 2, 3, 4))
    assert tree.codes_at(1) == ["1", "2"]
    assert tree.ancestors("2211") == ["2", "22", "221"]
    assert tree.leaves == ["1111", "1112", "2211"]


@st.composite
def proba_over_leaves(draw, tree):
    n = draw(st.integers(1, 5))
    raw = draw(st.lists(st.lists(st.floats(0.0, 1.0), min_size=len(tree.leaves), max_size=len(tree.leaves)),
                        min_size=n, max_size=n))
    arr = np.asarray(raw) + 1e-9
    return arr / arr.sum(axis=1, keepdims=True)


TOY = Classification.from_codes(
    ["1111", "1112", "1121", "1211", "2111", "2112", "3111"], name="toy", prefix_lengths=(1, 2, 3, 4)
)


@settings(max_examples=60, deadline=None)
@given(proba_over_leaves(TOY))
def test_children_sum_to_parent(proba):
    for level in range(1, TOY.depth):
        upper, upper_codes = TOY.aggregate(proba, TOY.leaves, level)
        lower, lower_codes = TOY.aggregate(proba, TOY.leaves, level + 1)
        for j, code in enumerate(upper_codes):
            kids = [i for i, c in enumerate(lower_codes) if TOY.parent(c) == code]
            np.testing.assert_allclose(upper[:, j], lower[:, kids].sum(axis=1), atol=1e-12)
        np.testing.assert_allclose(upper.sum(axis=1), 1.0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TOY.codes), st.integers(1, 4), st.integers(1, 4))
def test_truncation_is_idempotent_and_monotone(code, a, b):
    once = TOY.truncate(code, a)
    assert TOY.truncate(once, a) == once
    assert TOY.truncate(TOY.truncate(code, max(a, b)), min(a, b)) == TOY.truncate(code, min(a, b))
    assert TOY.level(once) == min(a, TOY.level(code))


def test_aggregate_drops_classes_shallower_than_level():
    proba = np.array([[0.5, 0.3, 0.2]])
    agg, codes = TOY.aggregate(proba, ["11", "1111", "2111"], 3)
    assert codes == ["111", "211"]
    np.testing.assert_allclose(agg, [[0.3, 0.2]])

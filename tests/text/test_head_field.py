"""The head of a text (``head_field``) and its feature block (``HeadFeatures``, ``TextFeatures(head_weight=...)``)."""

import math

import numpy as np
import pytest

from statcoder.errors import ConfigurationError
from statcoder.text import TextFeatures
from statcoder.text.head import HeadFeatures, check_head_weight, head_field


def test_first_line_is_the_head_when_a_body_follows():
    assert head_field("Kierowca kat. C\nOpis ogłoszenia: praca w ruchu krajowym.") == "Kierowca kat. C"
    assert head_field("\n\n  Nurse  \n\nWard duties, nights.\n") == "Nurse"


def test_first_field_is_the_head_of_joined_columns():
    # join_columns puts " | " between text columns
    assert head_field("Bricklayer | builds walls of houses") == "Bricklayer"


def test_texts_without_a_head():
    assert head_field("") == ""
    assert head_field("   \n  ") == ""
    assert head_field(None) == ""
    assert head_field(math.nan) == ""
    # one short line: the whole text is the head, already in the main blocks
    assert head_field("Software developer") == ""
    assert head_field("Title only\n   \n") == ""  # nothing follows the first line
    assert head_field("Title only | ") == ""


def test_one_long_line_gives_its_first_sentence_if_it_ends_in_bounds():
    body = " ".join(["word"] * 60)
    assert head_field(f"Welder wanted. {body}.") == "Welder wanted."
    assert head_field(body) == ""  # no sentence end within the bound
    assert head_field(f"v2.0 of {body}") == ""  # a dot not followed by a space ends no sentence


def test_head_is_bounded_at_a_word_boundary():
    title = "Senior " * 40 + "engineer"
    head = head_field(title + "\nbody", max_chars=50)
    assert len(head) <= 50 and head.endswith("Senior") and not head.endswith(" ")
    assert head_field("x" * 80 + "\nbody", max_chars=50) == "x" * 50  # no space: a hard cut


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "heavy", None])
def test_head_weight_is_checked(bad):
    with pytest.raises(ConfigurationError, match="head weight"):
        check_head_weight(bad, where="--head-weight")
    assert check_head_weight("0.5") == 0.5 and check_head_weight(0) == 0.0


TEXTS = ["Kierowca\nprzewóz towarów po kraju", "Pielęgniarka\nopieka nad pacjentami", "Short answer",
         "Kierowca autobusu\nprzewóz osób", "Spawacz | spawanie konstrukcji"]


def test_head_block_columns_and_rows():
    plain = TextFeatures().fit(TEXTS)
    headed = TextFeatures(head_weight=2.0).fit(TEXTS)
    Z0, Z = plain.transform(TEXTS), headed.transform(TEXTS)
    n = Z0.shape[1]
    assert Z.shape[1] == headed.n_features_out_ > n
    assert (Z[:, :n] != Z0).nnz == 0  # the main blocks are unchanged
    head = Z[:, n:].toarray()
    assert not head[2].any()  # "Short answer" has no head: an all-zero block
    # word and char blocks each L2-normalised, times the weight: squared norm 2 x 2.0 ** 2
    assert np.sum(head[0] ** 2) == pytest.approx(8.0, rel=1e-5)
    names = headed.feature_names()
    assert len(names) == Z.shape[1] and "h:kierowca" in set(names) and any(s.startswith("hc:") for s in names)


def test_head_block_survives_state_round_trip_and_unseen_restriction():
    headed = TextFeatures(head_weight=1.5).fit(TEXTS)
    meta, arrays = headed.to_state()
    again = TextFeatures.from_state(meta, arrays)
    assert (again.transform(TEXTS) != headed.transform(TEXTS)).nnz == 0
    Z = headed.transform(TEXTS)
    everything = np.ones(Z.shape[1], dtype=bool)
    assert abs(headed.without_unseen(Z, everything) - Z).max() < 1e-6
    assert len(headed.feature_frequency_order()) == Z.shape[1]


def test_no_head_anywhere_gives_an_empty_block():
    features = HeadFeatures().fit(["one title", "another title"])
    assert features.block_sizes == (0, 0)
    assert features.transform(["x\ny"]).shape == (1, 0)
    headed = TextFeatures(head_weight=1.0).fit(["one title", "another title"])
    assert headed.transform(["one title"]).shape[1] == TextFeatures().fit(["one title", "another title"]).n_features_out_

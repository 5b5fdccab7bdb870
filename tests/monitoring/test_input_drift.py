"""Input drift: tokens, unseen-token share, new frequent tokens, domain classifier, columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statcoder.monitoring.input_drift import (
    _ratio_and_variance,
    column_drift,
    domain_classifier_auc,
    new_frequent_tokens,
    oov_test,
    record_token_counts,
    tokenize,
    vocabulary,
)


def test_tokenize_normalises_unicode_and_case():
    assert tokenize("Ärztin/Arzt, ÉCOLE") == ["ärztin", "arzt", "école"]
    assert tokenize("ﬁtter") == ["fitter"]  # NFKC expands the ligature


def test_ratio_variance_hand_value():
    # ratio 2/3; residuals (1/3, -2/3, 1/3); var = 3/2 * (2/3) / 3^2 = 1/9
    ratio, var = _ratio_and_variance(np.array([1.0, 0, 1]), np.array([1.0, 1, 1]))
    assert ratio == pytest.approx(2 / 3) and var == pytest.approx(1 / 9)


def test_oov_share_and_its_test():
    vocab = vocabulary(["nurse", "welder"])
    ref = record_token_counts(["nurse", "welder"] * 50, vocab)
    cur = record_token_counts(["nurse drone", "welder pilot"] * 50, vocab)
    ref_share, share, p = oov_test(ref, cur)
    assert ref_share == 0.0 and share == pytest.approx(0.5) and p < 1e-6
    _, _, p_same = oov_test(record_token_counts(["nurse x"] * 40, vocab), record_token_counts(["welder y"] * 40, vocab))
    assert p_same > 0.4


def test_new_frequent_tokens_finds_the_planted_word_and_hides_rare_ones():
    reference = ["care assistant", "welder", "bus driver"] * 100
    current = ["care assistant"] * 50 + ["drone pilot"] * 30 + ["jane doe welder"] * 2
    tokens = new_frequent_tokens(reference, current, vocab=vocabulary(reference))
    assert tokens.iloc[0]["token"] in ("drone", "pilot")
    assert set(tokens.head(2)["token"]) == {"drone", "pilot"} and tokens.iloc[0]["unseen"]
    assert tokens.iloc[0]["records"] == 30
    assert not {"jane", "doe"} & set(tokens["token"])  # fewer than 5 records: never shown


def test_domain_classifier_sees_new_wording_and_not_noise():
    rng = np.random.default_rng(0)
    words = ["nurse", "welder", "driver", "clerk", "teacher", "cook"]
    ref = [" ".join(rng.choice(words, 2)) for _ in range(300)]
    same = [" ".join(rng.choice(words, 2)) for _ in range(300)]
    other = [" ".join(rng.choice(words, 1)) + " specialist" for _ in range(300)]
    null = domain_classifier_auc(ref, same, n_permutations=10, seed=1)
    shifted = domain_classifier_auc(ref, other, n_permutations=10, seed=1)
    assert abs(null.auc - 0.5) < 0.1 and null.p_value > 0.01
    assert shifted.auc > 0.9 and shifted.p_value < 1e-6 and shifted.auc > shifted.threshold


def test_column_drift_categorical_and_numeric():
    rng = np.random.default_rng(0)
    ref = pd.Series(rng.choice(["a", "b", "c"], 1000, p=[0.4, 0.3, 0.3]), name="region")
    cur = pd.Series(rng.choice(["a", "b", "c"], 500, p=[0.2, 0.3, 0.5]), name="region")
    result = column_drift(ref, cur)
    assert result.kind == "categorical" and result.test == "chi-square" and result.p_value < 1e-6 and result.psi > 0.1
    stable = column_drift(ref, pd.Series(rng.choice(["a", "b", "c"], 500, p=[0.4, 0.3, 0.3]), name="region"))
    assert stable.p_value > 0.001 and stable.psi < 0.05
    ages = pd.Series(rng.normal(40, 10, 1000).round(1).astype(str), name="age")
    older = pd.Series(rng.normal(48, 10, 500).round(1).astype(str), name="age")
    result = column_drift(ages, older)
    assert result.kind == "numeric" and result.test == "ks" and result.p_value < 1e-6 and result.statistic > 0.2


def test_new_frequent_tokens_leave_out_personal_data():
    from statcoder.monitoring.input_drift import new_frequent_tokens

    reference = ["kierowca kat c"] * 20 + ["magazynier"] * 20
    current = [f"magazynier wózek widłowy, kontakt: Pani Anna Kowalska, tel. 60{i} 234 567" for i in range(8)]
    tokens = set(new_frequent_tokens(reference, current, min_records=5)["token"])
    assert "wózek" in tokens  # a genuinely new word is listed
    assert not tokens & {"anna", "kowalska"}  # the contact person's name is not

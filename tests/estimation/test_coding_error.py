"""Code shares corrected for coding error: exactness, hand-checked numbers, and coverage.

The coverage simulations use synthetic true and machine codes with a known, code-dependent
confusion matrix, so the naive (machine-only) shares are biased by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statcoder import Classification
from statcoder.errors import EstimationError, InputError
from statcoder.estimation.coding_error import (
    corrected_shares,
    corrected_shares_by_level,
    corrected_shares_from_frame,
)

CODES = np.array(["1111", "1112", "2211", "3311"])
# rows: true code, columns: machine code; code-dependent errors bias the naive shares
CONFUSION = np.array(
    [
        [0.80, 0.15, 0.05, 0.00],
        [0.05, 0.90, 0.00, 0.05],
        [0.00, 0.05, 0.80, 0.15],
        [0.00, 0.00, 0.05, 0.95],
    ]
)


def _machine(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    index = np.searchsorted(CODES, truth)
    u = rng.random(len(truth))[:, None]
    return CODES[(u > np.cumsum(CONFUSION[index], axis=1)).sum(axis=1)]


def test_full_audit_recovers_the_true_shares_exactly() -> None:
    rng = np.random.default_rng(1)
    truth = rng.choice(CODES, size=500, p=[0.4, 0.3, 0.2, 0.1])
    machine = _machine(truth, rng)
    out = corrected_shares(machine, np.arange(500), truth)
    true_share = pd.Series(truth).value_counts(normalize=True)
    np.testing.assert_allclose(
        out["estimate"], true_share.reindex(out["code"]).to_numpy(), atol=1e-12
    )
    np.testing.assert_allclose(out["se"], 0.0, atol=1e-12)  # census audit: fpc = 0


def test_hand_computed_difference_estimator() -> None:
    machine = ["A", "A", "B", "B", "A", "B", "A", "A"]
    audit_index = [0, 2, 4, 6]
    human = ["A", "A", "B", "A"]  # record 2 (machine B) is really A; record 4 (machine A) is B
    out = corrected_shares(machine, audit_index, human, small_sample="none").set_index("code")
    # naive share of A = 5/8; corrections d_A on the audit = [0, 1, -1, 0] -> mean 0
    assert out.loc["A", "naive"] == pytest.approx(5 / 8)
    assert out.loc["A", "estimate"] == pytest.approx(5 / 8)
    # var = (1 - 4/8) * s^2 / 4 with s^2 = var([0, 1, -1, 0], ddof=1) = 2/3
    assert out.loc["A", "se"] == pytest.approx(np.sqrt(0.5 * (2 / 3) / 4))
    totals = corrected_shares(
        machine, audit_index, human, quantity="total", small_sample="none"
    ).set_index("code")
    assert totals.loc["A", "estimate"] == pytest.approx(5.0)
    assert totals.loc["A", "se"] == pytest.approx(8 * np.sqrt(0.5 * (2 / 3) / 4))
    # default: pseudo-records +1 and -1 join the variance: s^2 = (0+1+1+0 + 2 - 0) / 5 = 4/5
    pseudo = corrected_shares(machine, audit_index, human).set_index("code")
    assert pseudo.loc["A", "estimate"] == pytest.approx(5 / 8)  # the estimate is unchanged
    assert pseudo.loc["A", "se"] == pytest.approx(np.sqrt(0.5 * (4 / 5) / 4))


def test_code_without_audited_disagreement_gets_a_positive_se() -> None:
    machine = ["A"] * 5 + ["B"] * 95
    audit = list(range(0, 100, 5))  # 20 records, one of them machine-A; all agree with the coder
    human = [machine[i] for i in audit]
    plain = corrected_shares(machine, audit, human, small_sample="none").set_index("code")
    assert plain.loc["A", "se"] == 0.0  # a zero-width interval: overconfident for a rare code
    pseudo = corrected_shares(machine, audit, human).set_index("code")
    assert pseudo.loc["A", "se"] == pytest.approx(np.sqrt((1 - 20 / 100) * (2 / 21) / 20))
    with pytest.raises(EstimationError, match="unknown small_sample"):
        corrected_shares(machine, audit, human, small_sample="wilson")


def test_coverage_when_the_records_are_the_population() -> None:
    """Register of N coded records, SRS audits of m: corrected intervals cover ~95 %."""
    rng = np.random.default_rng(2026)
    n_records, m, reps = 4000, 250, 300
    truth = rng.choice(CODES, size=n_records, p=[0.4, 0.3, 0.2, 0.1])
    machine = _machine(truth, rng)
    target = pd.Series(truth).value_counts(normalize=True).reindex(CODES).to_numpy()
    hits = {"difference": [], "ppi++": [], "naive": []}
    for _ in range(reps):
        audit = rng.choice(n_records, size=m, replace=False)
        for method in ("difference", "ppi++"):
            out = corrected_shares(machine, audit, truth[audit], codes=list(CODES), method=method)
            hits[method].append((out["ci_low"] <= target) & (target <= out["ci_high"]))
        hits["naive"].append((out["naive_ci_low"] <= target) & (target <= out["naive_ci_high"]))
    coverage = {k: float(np.mean(v)) for k, v in hits.items()}
    assert 0.92 <= coverage["difference"] <= 0.98, coverage
    assert 0.92 <= coverage["ppi++"] <= 0.985, coverage
    assert coverage["naive"] < 0.05, coverage  # biased, and it claims no uncertainty at all


def test_coverage_when_the_records_are_a_weighted_sample() -> None:
    """Survey sample of a population, audit of the sample: corrected covers, naive does not."""
    rng = np.random.default_rng(7)
    population = rng.choice(CODES, size=40000, p=[0.4, 0.3, 0.2, 0.1])
    target = pd.Series(population).value_counts(normalize=True).reindex(CODES).to_numpy()
    n, m, reps = 2000, 300, 300
    weights = np.full(n, len(population) / n)
    corrected, naive = [], []
    for _ in range(reps):
        sample = population[rng.choice(len(population), size=n, replace=False)]
        machine = _machine(sample, rng)
        audit = rng.choice(n, size=m, replace=False)
        out = corrected_shares(machine, audit, sample[audit], codes=list(CODES), weights=weights)
        corrected.append((out["ci_low"] <= target) & (target <= out["ci_high"]))
        naive.append((out["naive_ci_low"] <= target) & (target <= out["naive_ci_high"]))
    assert 0.92 <= np.mean(corrected) <= 0.98, np.mean(corrected)
    assert np.mean(naive) < 0.5, np.mean(naive)
    assert np.mean(naive, axis=0)[0] < 0.05  # code 1111: machine share 0.335 vs 0.40


def test_stratified_audit_by_decision_is_unbiased() -> None:
    """Audit 10 % of 'auto' and 50 % of 'review' records: strata weights undo the oversampling."""
    rng = np.random.default_rng(3)
    truth = rng.choice(CODES, size=3000, p=[0.4, 0.3, 0.2, 0.1])
    machine = _machine(truth, rng)
    decision = np.where(machine == truth, "auto", "review")  # errors concentrate in review
    target = pd.Series(truth).value_counts(normalize=True).reindex(CODES).to_numpy()
    estimates = []
    for _ in range(200):
        auto, review = np.flatnonzero(decision == "auto"), np.flatnonzero(decision == "review")
        audit = np.concatenate(
            [
                rng.choice(auto, len(auto) // 10, replace=False),
                rng.choice(review, len(review) // 2, replace=False),
            ]
        )
        out = corrected_shares(
            machine, audit, truth[audit], codes=list(CODES), audit_strata=decision
        )
        estimates.append(out["estimate"].to_numpy())
    np.testing.assert_allclose(np.mean(estimates, axis=0), target, atol=0.003)


TOY_TREE = Classification.from_codes(CODES, name="toy", prefix_lengths=[1, 2, 3, 4])


def test_shares_by_level_aggregate_up_the_tree() -> None:
    rng = np.random.default_rng(4)
    truth = rng.choice(CODES, size=1000)
    machine = _machine(truth, rng)
    audit = rng.choice(1000, size=200, replace=False)
    out = corrected_shares_by_level(
        machine, audit, truth[audit], classification=TOY_TREE, levels=[1, 4]
    )
    level1 = out[out["level"] == 1].set_index("code")
    level4 = out[out["level"] == 4].set_index("code")
    assert set(level1.index) == {"1", "2", "3"}
    # shares at level 1 are sums of the level-4 shares below them (the estimator is linear)
    assert level1.loc["1", "estimate"] == pytest.approx(
        level4.loc[["1111", "1112"], "estimate"].sum()
    )


def test_from_frame_and_bad_inputs() -> None:
    frame = pd.DataFrame({"predicted_code": ["A", "B", "A", "A"], "audit_code": ["A", "", "B", ""]})
    out = corrected_shares_from_frame(frame).set_index("code")
    assert out.loc["A", "estimate"] == pytest.approx(0.75 + (0 - 1) / 2 * 1)
    with pytest.raises(EstimationError, match="fewer than 2"):
        corrected_shares(["A", "B"], [0], ["A"])
    with pytest.raises(InputError, match="out of range"):
        corrected_shares(["A", "B", "A"], [0, 5], ["A", "B"])
    with pytest.raises(EstimationError, match="unknown coding-correction method"):
        corrected_shares(["A", "B", "A"], [0, 1], ["A", "B"], method="magic")
    with pytest.raises(InputError, match="not found"):
        corrected_shares_from_frame(frame, predicted="code")

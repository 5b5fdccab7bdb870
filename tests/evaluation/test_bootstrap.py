"""Bootstrap intervals: weights, point estimates and coverage at the nominal rate."""

from __future__ import annotations

import numpy as np
import pytest

from statcoder.evaluation.bootstrap import bootstrap_intervals, bootstrap_weights, weighted_mean
from statcoder.evaluation.metrics import f1_scores


def test_weights_are_resamples():
    w = bootstrap_weights(50, n_boot=20, seed=1)
    assert w.shape == (20, 50)
    assert np.all(w.sum(axis=1) == 50)
    assert np.all(w >= 0) and np.all(w == np.round(w))


def test_point_estimate_is_the_full_sample_statistic():
    values = np.array([1.0, 0.0, 1.0, 1.0])
    table = bootstrap_intervals(weighted_mean(values), 4, n_boot=200, seed=0).set_index("metric")
    assert table.loc["mean", "estimate"] == pytest.approx(0.75)
    assert 0.0 <= table.loc["mean", "lower"] <= 0.75 <= table.loc["mean", "upper"] <= 1.0


def test_bootstrap_accuracy_interval_covers_truth_at_nominal_rate():
    # Simulation: records are correct with probability 0.7 (the true accuracy). The 95 %
    # re-centred percentile interval of accuracy, computed through the same weighted f1_scores path the
    # report uses, must contain 0.7 in about 95 % of 400 samples of n = 150. With 400 runs
    # the Monte-Carlo SD of the coverage is 0.011; percentile-type intervals under-cover a
    # little at this n, so the accepted band is [0.91, 0.98].
    rng = np.random.default_rng(20261128)
    truth_accuracy, n, runs = 0.7, 150, 400
    covered = 0
    for run in range(runs):
        t = rng.integers(0, 5, size=n)
        wrong = rng.random(n) >= truth_accuracy
        p = np.where(wrong, (t + 1 + rng.integers(0, 4, size=n)) % 5, t)

        def stat(w, t=t, p=p):
            return {"accuracy": f1_scores(t, p, n_labels=5, weights=w)["accuracy"]}

        row = bootstrap_intervals(stat, n, n_boot=300, seed=run).iloc[0]
        covered += row["lower"] <= truth_accuracy <= row["upper"]
    coverage = covered / runs
    assert 0.91 <= coverage <= 0.98, coverage


def test_interval_narrows_with_sample_size():
    rng = np.random.default_rng(5)
    small = rng.random(100) < 0.8
    large = rng.random(10_000) < 0.8
    a = bootstrap_intervals(weighted_mean(small), small.size, n_boot=300, seed=1).iloc[0]
    b = bootstrap_intervals(weighted_mean(large), large.size, n_boot=300, seed=1).iloc[0]
    assert (b["upper"] - b["lower"]) < (a["upper"] - a["lower"]) / 5


def test_recentred_interval_keeps_spread_and_drops_shift():
    from statcoder.evaluation.bootstrap import recentred_percentile_interval

    reps = np.random.default_rng(2).normal(0.0, 1.0, 20_000)
    lo, hi = recentred_percentile_interval(reps, 0.0)
    assert lo == pytest.approx(-1.96, abs=0.06) and hi == pytest.approx(1.96, abs=0.06)
    lo2, hi2 = recentred_percentile_interval(reps + 0.7, 0.0)  # replicates shifted up
    assert lo2 == pytest.approx(lo) and hi2 == pytest.approx(hi)


def test_macro_f1_interval_contains_the_estimate_with_rare_codes():
    rng = np.random.default_rng(4)
    t = rng.zipf(1.6, size=2000) % 300
    p = np.where(rng.random(2000) < 0.6, t, rng.integers(0, 300, size=2000))

    def stat(w):
        return f1_scores(t, p, n_labels=300, weights=w)

    table = bootstrap_intervals(stat, t.size, n_boot=300, seed=0).set_index("metric")
    for metric in ("accuracy", "macro_f1", "weighted_f1"):
        assert table.loc[metric, "lower"] <= table.loc[metric, "estimate"] <= table.loc[metric, "upper"]

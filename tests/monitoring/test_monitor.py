"""Monitor end to end on synthetic calibrated records with known truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from statcoder.errors import NotFittedError
from statcoder.monitoring import AlertPolicy, Monitor, MonitoringResult
from statcoder.monitoring.alerts import DEFAULT_TOLERANCES

FAST = {"domain_permutations": 8, "domain_max_records": 200, "n_permutations": 100, "cusum_simulations": 500}


def _monitor(reference, **kw):
    return Monitor(audit_column="audit", columns=["region"], **{**FAST, **kw}).fit(reference)


def test_no_alerts_on_identically_distributed_periods_across_seeds(batch_factory):
    """False-alarm rate over 20 seeds x 4 stable periods (with audit) stays within 5 %."""
    periods_with_alert, total = 0, 0
    for seed in range(20):
        reference = batch_factory(1500, 1000 + seed)
        monitor = _monitor(reference, seed=seed)
        periods = {str(i): batch_factory(400, 10 * seed + i, audit_share=0.5) for i in range(4)}
        result = monitor.calculate(periods)
        periods_with_alert += len({a.period for a in result.alerts})
        total += len(periods)
    assert periods_with_alert / total <= 0.05, periods_with_alert


def test_planted_accuracy_drop_is_alerted_by_label_free_estimates(batch_factory, tree):
    reference = batch_factory(2000, 1)
    monitor = _monitor(reference)
    periods = {"1": batch_factory(800, 2), "2": batch_factory(800, 3),
               "3": batch_factory(800, 4, strength=(0.5, 4.0)), "4": batch_factory(800, 5, strength=(0.5, 4.0))}
    result = monitor.calculate(periods)
    frame = result.to_frame()
    real = frame[(frame["signal"] == "accuracy_realised") & (frame["level"] == 3)].set_index("period")
    assert (real.loc["3", "value"] < real.loc["1", "value"] - 0.1)  # the planted drop is real
    for name in ("cbpe", "average_confidence"):  # the model is calibrated, so these follow it
        est = frame[(frame["signal"] == f"accuracy_{name}") & (frame["level"] == 3)].set_index("period")
        assert np.all(np.abs(est["value"] - real["value"]) < 0.04), name
    main = f"accuracy_{monitor.policy_.estimator}"
    signals = {(a.period, a.signal) for a in result.alerts}
    assert ("3", main) in signals and ("4", main) in signals
    assert not {p for p, _ in signals} & {"1", "2"}
    alert = next(a for a in result.alerts if a.signal == main and a.period == "4")
    assert alert.since == "3" and alert.size > 0.03 and "retrain" in alert.advice


def test_concept_change_is_caught_by_audit_not_by_label_free_estimates(batch_factory):
    reference = batch_factory(2000, 11)
    monitor = _monitor(reference)
    # a "revision": codes of group 1 are now coded to their sibling; texts and model unchanged
    remap = {c: c[:2] + str(int(c[2]) % 4 + 1) for c in reference.classes if c.startswith("1")}
    periods = {"1": batch_factory(1000, 12, audit_share=0.5), "2": batch_factory(1000, 13, audit_share=0.5),
               "3": batch_factory(1000, 14, audit_share=0.5, remap=remap),
               "4": batch_factory(1000, 15, audit_share=0.5, remap=remap)}
    result = monitor.calculate(periods)
    signals = {(a.period, a.signal) for a in result.alerts}
    assert ("3", "audit_accuracy") in signals or ("3", "audit_cusum") in signals
    assert ("4", "audit_cusum") in signals and ("4", f"gap_{monitor.policy_.estimator}") in signals
    assert not any(s.startswith("accuracy_") for _, s in signals)
    cusum = next(a for a in result.alerts if a.signal == "audit_cusum" and a.period == "4")
    assert cusum.since == "3"


def test_input_and_output_drift_signals_fire_on_planted_shifts(batch_factory):
    reference = batch_factory(2000, 21)
    monitor = _monitor(reference, label_shift=True)
    prior = np.r_[np.full(8, 5.0), np.ones(24)]  # group 1 five times as frequent
    periods = {"1": batch_factory(800, 22), "2": batch_factory(800, 23, prior=prior, new_words=0.5, region_shift=True)}
    result = monitor.calculate(periods)
    signals = {a.signal for a in result.alerts if a.period == "2"}
    assert {"oov_share", "domain_auc", "column:region"} <= signals
    assert "code_psi" in signals
    assert not any(a.period == "1" for a in result.alerts)
    tokens = [t["token"] for t in result.tokens["2"]]
    assert {"novel0", "novel1", "novel2"} & set(tokens[:3])
    frame = result.to_frame()
    psi = frame[(frame["signal"] == "code_psi") & (frame["period"] == "2")].set_index("level")
    assert psi.loc[1, "size"] > 0.1  # the group mix moved at level 1
    # label-shift option: EM priors + reweighted reference accuracy stay close to realised accuracy
    ls = frame[(frame["signal"] == "accuracy_label_shift") & (frame["period"] == "2") & (frame["level"] == 3)]
    real = frame[(frame["signal"] == "accuracy_realised") & (frame["period"] == "2") & (frame["level"] == 3)]
    assert abs(float(ls["value"].iloc[0]) - float(real["value"].iloc[0])) < 0.04


def test_result_round_trips_through_json_and_policy_can_change(batch_factory):
    reference = batch_factory(1000, 31)
    result = _monitor(reference).calculate({"a": batch_factory(500, 32, audit_share=0.5),
                                            "b": batch_factory(500, 33, strength=(0.5, 3.0), audit_share=0.5)})
    data = json.loads(result.to_json())
    assert set(data) >= {"periods", "alerts"}
    assert [p["period"] for p in data["periods"]] == ["a", "b"]
    for alert in data["alerts"]:
        assert set(alert) >= {"period", "signal", "level", "size", "since", "advice"}
    again = MonitoringResult.from_dict(data)
    assert again.to_dict() == result.to_dict()
    assert again.alerts == result.alerts
    assert any(a.period == "b" for a in result.alerts)
    lenient = result.with_policy(AlertPolicy(tolerances={f: 1.0 for f in DEFAULT_TOLERANCES}))
    assert lenient.alerts == [] and lenient.to_frame()["significant"].any()
    fig = result.plot()
    assert len(fig.axes) == 6  # accuracy x2, input drift, output drift, decisions, audit


def test_monitor_must_be_fitted(batch_factory):
    with pytest.raises(NotFittedError):
        Monitor(**FAST).calculate({"1": batch_factory(100, 1)})

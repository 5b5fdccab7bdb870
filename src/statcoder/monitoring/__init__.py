"""Model-decay monitoring: input and output drift, label-free accuracy estimates, audit accuracy, alerts.

``Monitor(coder).fit(reference).calculate(periods)`` returns a :class:`MonitoringResult`
(``.to_frame()``, ``.plot()``, ``.alerts``, ``.to_dict()``). The statistics are pure functions in
:mod:`~statcoder.monitoring.stats`, :mod:`~statcoder.monitoring.input_drift`,
:mod:`~statcoder.monitoring.performance` and :mod:`~statcoder.monitoring.audit`.
"""

from statcoder.monitoring.alerts import Alert, AlertPolicy, evaluate_alerts
from statcoder.monitoring.monitor import ESTIMATORS, Monitor
from statcoder.monitoring.records import ScoredRecords, score_frame, split_periods
from statcoder.monitoring.result import MonitoringResult

__all__ = [
    "ESTIMATORS",
    "Alert",
    "AlertPolicy",
    "Monitor",
    "MonitoringResult",
    "ScoredRecords",
    "evaluate_alerts",
    "score_frame",
    "split_periods",
]

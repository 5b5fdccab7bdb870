"""Timeliness and cost: hours and money saved by automatic coding, and what its errors cost.

The model is deliberately simple and every input is the user's:

* manual coding of one record takes ``minutes_per_record``; an hour costs ``cost_per_hour``;
* an ``auto`` record needs no manual work; a ``partial`` record still needs
  ``partial_effort`` of the manual time (the coder starts from the given higher-level code;
  0.5 by default); a ``review`` record needs the full time;
* each wrong automatic code costs ``cost_per_error`` (0 when unknown: the count of expected
  errors is reported either way);
* figures are scaled to ``volume`` records (the evaluation size by default) using the shares
  and accuracies measured on the evaluation data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CostInputs:
    """User inputs of the cost model (minutes, currency units per hour and per error)."""

    minutes_per_record: float = 1.0
    cost_per_hour: float = 30.0
    partial_effort: float = 0.5
    cost_per_error: float = 0.0
    volume: int | None = None


def cost_model(
    *,
    share_auto: float,
    share_partial: float,
    error_rate_auto: float,
    error_rate_partial: float,
    n_records: int,
    inputs: CostInputs,
) -> dict[str, float]:
    """Manual hours and cost with and without automatic coding, savings, and the error cost.

    Shares and error rates are proportions in [0, 1] measured on the evaluation data.
    Returns a dict: ``volume`` (records), ``manual_hours_all`` / ``manual_hours_with_statcoder``
    / ``hours_saved`` (hours), ``cost_all`` / ``cost_with_statcoder`` / ``cost_saved`` /
    ``error_cost`` / ``net_saving`` (currency units), ``expected_errors`` (records), plus the inputs.
    """
    if inputs.minutes_per_record < 0 or inputs.cost_per_hour < 0 or not 0 <= inputs.partial_effort <= 1:
        raise ValueError("cost inputs must be non-negative and partial_effort in [0, 1]")
    volume = int(inputs.volume if inputs.volume is not None else n_records)
    share_auto = _zero_if_nan(share_auto)
    share_partial = _zero_if_nan(share_partial)
    hours_all = volume * inputs.minutes_per_record / 60
    remaining = 1 - share_auto - share_partial * (1 - inputs.partial_effort)
    hours_with = hours_all * remaining
    errors = volume * (share_auto * _zero_if_nan(error_rate_auto) + share_partial * _zero_if_nan(error_rate_partial))
    error_cost = errors * inputs.cost_per_error
    cost_all = hours_all * inputs.cost_per_hour
    cost_with = hours_with * inputs.cost_per_hour
    return {
        "volume": volume,
        "manual_hours_all": hours_all,
        "manual_hours_with_statcoder": hours_with,
        "hours_saved": hours_all - hours_with,
        "cost_all": cost_all,
        "cost_with_statcoder": cost_with,
        "cost_saved": cost_all - cost_with,
        "expected_errors": errors,
        "error_cost": error_cost,
        "net_saving": cost_all - cost_with - error_cost,
        **{f"input_{k}": v for k, v in asdict(inputs).items() if v is not None},
    }


def _zero_if_nan(value: float) -> float:
    return 0.0 if math.isnan(value) else float(value)

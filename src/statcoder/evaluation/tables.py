"""Effect of coding errors on published tables: distribution shift per level and cells that move.

A frequency table of codes at a level is what an office publishes. Errors that cancel out
(as many records wrongly moved into a cell as out of it) do not bias the table; errors that
do not cancel do. The total-variation distance TVD = 1/2 sum_c |p_pred(c) - p_true(c)| is the
share of records that would have to change cell to turn one distribution into the other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def total_variation_distance(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """TVD between the code distributions of ``y_true`` and ``y_pred`` (in [0, 1]).

    ``""`` (not coded) in ``y_pred`` is its own cell, so uncoded records count as moved.
    """
    truth = pd.Series(y_true, dtype=object).value_counts(normalize=True)
    pred = pd.Series(y_pred, dtype=object).value_counts(normalize=True)
    both = truth.index.union(pred.index)
    return float(0.5 * np.abs(truth.reindex(both, fill_value=0) - pred.reindex(both, fill_value=0)).sum())


def cell_shifts(y_true: Sequence[str], y_pred: Sequence[str], *, top: int | None = 20) -> pd.DataFrame:
    """Cells of the frequency table sorted by how much the predicted count moves from the true count.

    Returns columns ``code, true_n, predicted_n, difference, relative_difference``
    (difference = predicted - true; relative to the true count, NaN where it is 0),
    the ``top`` largest absolute differences first (all cells when ``top`` is None).
    """
    truth = pd.Series(y_true, dtype=object).value_counts()
    pred = pd.Series(y_pred, dtype=object).value_counts()
    both = truth.index.union(pred.index)
    frame = pd.DataFrame(
        {
            "code": [str(c) for c in both],
            "true_n": truth.reindex(both, fill_value=0).to_numpy(dtype=int),
            "predicted_n": pred.reindex(both, fill_value=0).to_numpy(dtype=int),
        }
    )
    frame["difference"] = frame["predicted_n"] - frame["true_n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["relative_difference"] = np.where(
            frame["true_n"] > 0, frame["difference"] / frame["true_n"].where(frame["true_n"] > 0, 1), np.nan
        )
    frame = frame.iloc[np.argsort(-frame["difference"].abs().to_numpy(), kind="stable")].reset_index(drop=True)
    return frame if top is None else frame.head(top)


def production_codes(
    truth_at_level: Sequence[str], coded: pd.DataFrame, *, level: int, classification: object
) -> np.ndarray:
    """Codes at ``level`` as production would publish them: machine codes where the record was
    coded automatically at ``level`` or deeper, the true code elsewhere (a human coded it).

    Assumes human coders are right; it isolates the error contributed by automatic coding.
    Returns an object array of str.
    """
    truth = np.asarray(truth_at_level, dtype=object)
    levels = pd.to_numeric(pd.Series(coded["predicted_level"]), errors="coerce").fillna(0).astype(int).to_numpy()
    decision = pd.Series(coded["decision"]).astype(str).to_numpy()
    pred = pd.Series(coded["predicted_code"]).astype(str).to_numpy()
    out = truth.copy()
    use = np.isin(decision, ["auto", "partial"]) & (levels >= level)
    for i in np.flatnonzero(use):
        out[i] = classification.truncate(pred[i], level)  # type: ignore[attr-defined]
    return out

"""Survey quantiles with Woodruff confidence intervals, as R ``survey::svyquantile`` (>= 4.1).

The estimate is R's ``qrule="math"`` (the first sorted value whose cumulative weight share
reaches ``p``); the interval inverts a Wald interval for the design-based CDF at the estimate,
with the design degrees of freedom (R's ``interval.type="mean"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError
from statcoder.estimation.columns import as_list, file_rows, numeric_column
from statcoder.estimation.results import Estimates, tidy_frame
from statcoder.estimation.statistics import EstimatingDesign


def design_quantiles(
    design: EstimatingDesign,
    variable: str,
    quantiles: Sequence[float] = (0.5,),
    *,
    by: str | Sequence[str] | None = None,
    na_rm: bool = False,
    confidence: float = 0.95,
) -> Estimates:
    """Weighted quantiles with Woodruff confidence intervals (R ``svyquantile`` defaults).

    The quantile is the smallest value whose weighted CDF reaches ``p`` (R's
    ``qrule="math"``); the interval inverts a Wald interval for the CDF at the estimate with
    the design degrees of freedom (R's ``interval.type="mean"``), and
    ``se = (upper - lower) / (2 t)``. ``ci_low``/``ci_high`` are that (asymmetric) interval.
    """
    from scipy import stats

    values = numeric_column(design.data, variable)
    valid = ~np.isnan(values)
    scope = design._in_scope()
    if not na_rm and not (valid | ~scope).all():
        raise EstimationError(
            f"{int((~valid & scope).sum())} record(s) have no value for {variable!r}",
            where=f"column {variable!r}, {file_rows(np.flatnonzero(~valid & scope))}",
            hint="pass na_rm=True to use the records with a value",
        )
    df = design.degrees_of_freedom()
    q = stats.t.ppf(1 - (1 - confidence) / 2, df)
    rows, est, lows, highs, ses = [], [], [], [], []
    for key, mask in design._domains(as_list(by)):
        m = mask & valid
        x, w = values[m], design.weights[m]
        for p in quantiles:
            qhat = _qrule_math(x, w, p)
            below = np.where(m, (np.nan_to_num(values) <= qhat).astype(float), 0.0)
            share = design._infer(
                pd.DataFrame([{"_n": int(m.sum())}]),
                below[:, None],
                m.astype(float)[:, None],
                m[:, None],
                {},
            )
            p_hat, p_se = share.value, share.se
            lo, hi = p_hat - q * p_se, p_hat + q * p_se
            low = np.nan if lo < 0 else _qrule_math(x, w, lo)
            high = np.nan if hi > 1 else _qrule_math(x, w, hi)
            rows.append(
                {
                    "variable": variable,
                    "statistic": "quantile",
                    "quantile": p,
                    **key,
                    "_n": int(m.sum()),
                }
            )
            est.append(qhat)
            lows.append(low)
            highs.append(high)
            ses.append((high - low) / (2 * q))
    keys = pd.DataFrame(rows)
    frame = tidy_frame(
        keys.drop(columns="_n"),
        np.asarray(est),
        np.asarray(ses),
        n=keys["_n"].to_numpy(),
        confidence=confidence,
        df=df,
    )
    frame["ci_low"], frame["ci_high"] = lows, highs
    return Estimates(frame, np.diag(np.square(ses)), confidence, df)


def _qrule_math(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """R survey's ``qrule_math``: the first sorted value whose cumulative weight share reaches p."""
    keep = w != 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    xs, cumw = x[order], np.cumsum(w[order])
    hits = np.flatnonzero(cumw <= p * cumw[-1])
    pos = hits[-1] if len(hits) else 0
    nxt = pos if pos == len(xs) - 1 else pos + 1
    return float(xs[pos] if p - cumw[pos] / cumw[-1] == 0 else xs[nxt])

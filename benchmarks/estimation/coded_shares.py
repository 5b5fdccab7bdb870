"""Simulation: small-area estimates of coded shares (naive, corrected direct, corrected EBLUP).

Areas of very different sizes; every record's true code is drawn from the area's own shares; a
coder with a known confusion matrix assigns the machine code; a random audit of ``audit_rate``
of each area's records (at least ``min_audit_per_area``) is re-coded by humans (the truth).
Target: the share of each true code among the area's records. Estimators:

* naive: the machine share (no sampling error, so its "interval" is a point);
* corrected direct: ``statcoder.estimation.coding_error.corrected_shares`` within the area;
* corrected EBLUP: ``statcoder.estimation.coded_shares.coded_share_areas`` (Fay-Herriot on the
  corrected directs with the machine share as covariate).

Reports bias, RMSE and 95 % interval coverage per area-size group.

    .venv/bin/python benchmarks/estimation/coded_shares.py [--reps 200] [--areas 40] [--seed 0]

writes its section of ``benchmarks/estimation/results.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from statcoder.estimation.coded_shares import coded_share_areas

SHARES = np.array([0.4, 0.3, 0.2, 0.1])
#: rows: true code, columns: machine code; code "A" is over-predicted
CONFUSION = np.array(
    [
        [0.85, 0.07, 0.05, 0.03],
        [0.15, 0.75, 0.06, 0.04],
        [0.15, 0.10, 0.70, 0.05],
        [0.20, 0.10, 0.10, 0.60],
    ]
)
CODES = ["A", "B", "C", "D"]
GROUPS = (
    (0, 500, "small (< 500 records)"),
    (500, 2000, "medium"),
    (2000, 10**9, "large (>= 2000)"),
)


def area_sizes(areas: int, seed: int, low: int = 100, high: int = 5000) -> np.ndarray:
    """Area sizes log-uniform between ``low`` and ``high`` records (fixed across replicates)."""
    rng = np.random.default_rng(seed)
    return np.round(np.exp(rng.uniform(np.log(low), np.log(high), areas))).astype(int)


def one_replicate(
    sizes: np.ndarray, rng: np.random.Generator, *, audit_rate: float, min_audit_per_area: int
) -> pd.DataFrame:
    """Simulate one population + audit; return per area x code the truth and the estimates."""
    frames, truth = [], []
    for d, size in enumerate(sizes):
        shares = rng.dirichlet(SHARES * 40)  # area shares vary around the national ones
        true = rng.choice(len(CODES), size=size, p=shares)
        cum = CONFUSION[true].cumsum(axis=1)
        machine = (rng.random(size)[:, None] > cum).sum(axis=1)
        m = min(size, max(min_audit_per_area, round(audit_rate * size)))
        audit = np.full(size, "", dtype=object)
        chosen = rng.choice(size, size=m, replace=False)
        audit[chosen] = np.asarray(CODES, dtype=object)[true[chosen]]
        frames.append(
            pd.DataFrame(
                {"area": f"a{d:03d}", "machine": np.asarray(CODES)[machine], "audit": audit}
            )
        )
        truth.extend(
            {"area": f"a{d:03d}", "code": c, "truth": float(np.mean(true == j)), "size": size}
            for j, c in enumerate(CODES)
        )
    data = pd.concat(frames, ignore_index=True)
    est = coded_share_areas(data, predicted="machine", audit="audit", area="area", codes=CODES)
    return est.merge(pd.DataFrame(truth), on=["area", "code"])


def simulate(
    *,
    reps: int,
    areas: int,
    seed: int = 0,
    audit_rate: float = 0.02,
    min_audit_per_area: int = 0,
    size_range: tuple[int, int] = (100, 5000),
) -> pd.DataFrame:
    """Run ``reps`` replicates; return one row per estimator x area-size group with
    ``bias_code_A_pp`` (mean error of the over-predicted code A, percentage points),
    ``mean_abs_bias`` (mean over area x
    code of |average error|, pp), ``rmse`` (pp), ``coverage`` (% of 95 % intervals holding the
    truth) and ``n`` (area x code x replicate cells)."""
    sizes = area_sizes(areas, seed, *size_range)
    rng = np.random.default_rng(seed + 1)
    runs = []
    for r in range(reps):
        one = one_replicate(
            sizes, rng, audit_rate=audit_rate, min_audit_per_area=min_audit_per_area
        )
        one["rep"] = r
        runs.append(one)
    res = pd.concat(runs, ignore_index=True)
    z = 1.959963984540054
    res["direct_low"] = res["direct"] - z * res["direct_se"]
    res["direct_high"] = res["direct"] + z * res["direct_se"]
    rows = []
    for low, high, label in GROUPS:
        part = res[(res["size"] >= low) & (res["size"] < high)]
        if part.empty:
            continue
        for name, est, lo, hi in (
            ("naive (machine share)", "naive", "naive", "naive"),
            ("corrected direct", "direct", "direct_low", "direct_high"),
            ("corrected EBLUP (Fay-Herriot)", "estimate", "ci_low", "ci_high"),
        ):
            ok = part[est].notna()
            err = (part.loc[ok, est] - part.loc[ok, "truth"]) * 100
            cell_bias = err.groupby([part.loc[ok, "area"], part.loc[ok, "code"]]).mean()
            inside = (part.loc[ok, lo] <= part.loc[ok, "truth"] + 1e-12) & (
                part.loc[ok, "truth"] <= part.loc[ok, hi] + 1e-12
            )
            code_a = (part.loc[ok, "code"] == "A").to_numpy()
            rows.append(
                {
                    "areas": label,
                    "estimator": name,
                    "bias_code_A_pp": float(err[code_a].mean()),
                    "mean_abs_bias_pp": float(cell_bias.abs().mean()),
                    "rmse_pp": float(np.sqrt((err**2).mean())),
                    "coverage_pct": float(inside.mean() * 100),
                    "cells": int(ok.sum()),
                    "cells_without_estimate": int((~ok).sum()),
                }
            )
    return pd.DataFrame(rows)


def _markdown(table: pd.DataFrame) -> str:
    head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = ""
    for row in table.itertuples(index=False):
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row]
        body += "| " + " | ".join(cells) + " |\n"
    return head + body


MARK = "## 3. Small-area estimates of coded shares"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--areas", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--audit-rate", type=float, default=0.02)
    args = parser.parse_args()
    start = time.perf_counter()
    table = simulate(reps=args.reps, areas=args.areas, seed=args.seed, audit_rate=args.audit_rate)
    wall = time.perf_counter() - start
    sizes = area_sizes(args.areas, args.seed)
    load = os.getloadavg()
    text = (
        f"{MARK}\n\nRun {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared, load average {load[0]:.2f}), Python "
        f"{platform.python_version()}; command: `.venv/bin/python "
        f"benchmarks/estimation/coded_shares.py --reps {args.reps} --areas {args.areas} "
        f"--seed {args.seed} --audit-rate {args.audit_rate}`; wall time {wall:.0f} s.\n\n"
        f"{args.areas} areas of {sizes.min()}-{sizes.max()} records (log-uniform, median "
        f"{int(np.median(sizes))}); area shares ~ Dirichlet(40 x (0.4, 0.3, 0.2, 0.1)); a coder "
        "with a known confusion matrix (accuracy 85/75/70/60 % by true code, errors mostly to "
        f"code A); a random audit of {args.audit_rate:.0%} of each area's records (areas with "
        "fewer than 2 audited records have no corrected direct share and get the synthetic "
        f"estimate). Target: the true share of each code in each area. {args.reps} replicates "
        "(new population and audit each time). Bias and RMSE in percentage points; coverage of "
        "the 95 % intervals in % (naive: a point, so it covers almost never); "
        "`mean_abs_bias_pp` averages |mean error| over area x code cells.\n\n"
        + _markdown(table)
        + "\nThe machine share is biased by the coder's errors whatever the area size (code A "
        "by about +3.5 points) and its point 'interval' almost never covers; the corrected "
        "direct share removes the bias but is very noisy where the audit is small; the EBLUP "
        "borrows strength across areas through the machine share. EBLUP coverage by group: "
        + ", ".join(
            f"{row.areas} {row.coverage_pct:.1f} %"
            for row in table[table["estimator"].str.startswith("corrected EBLUP")].itertuples()
        )
        + " (below nominal in the smallest areas, conservative in the largest, where the "
        "pseudo-record variance of the direct share and the 2 g3 term dominate). In the "
        "smallest areas the EBLUP's RMSE exceeds the machine share's: the regression on the "
        "machine share undoes the coder's attenuation (slope above 1) and so amplifies the "
        "binomial coding noise of a small area.\n"
    )
    path = Path(__file__).with_name("results.md")
    current = path.read_text(encoding="utf-8") if path.exists() else "# Estimation benchmarks\n"
    if MARK in current:
        current = current[: current.index(MARK)].rstrip() + "\n"
    path.write_text(current.rstrip() + "\n\n" + text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

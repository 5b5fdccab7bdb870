"""Small-area estimates of coded shares: the simulation of benchmarks/estimation at a small
scale (coverage of the intervals), and the edge cases of ``coded_share_areas``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app
from statcoder.errors import EstimationError
from statcoder.estimation.coded_shares import coded_share_areas

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "estimation" / "coded_shares.py"


def _simulation():
    spec = importlib.util.spec_from_file_location("coded_shares_sim", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_simulation_coverage_at_small_scale() -> None:
    sim = _simulation()
    table = sim.simulate(reps=12, areas=24, seed=3).set_index(["areas", "estimator"])
    eblup = table.xs("corrected EBLUP (Fay-Herriot)", level="estimator")
    direct = table.xs("corrected direct", level="estimator")
    naive = table.xs("naive (machine share)", level="estimator")
    # the EBLUP intervals hold the true share near the nominal 95 % in every size group
    # (12 x 24 x 4 cells; Monte-Carlo error of a few points in the smallest group)
    assert (eblup["coverage_pct"] >= 85).all() and (eblup["coverage_pct"] <= 100).all()
    # the naive interval is a point: it misses the truth by the coder's bias
    assert (naive["coverage_pct"] < 20).all()
    assert (naive["bias_code_A_pp"] > 2).all()  # code A is over-predicted by ~3.5 points
    # corrected shares remove the bias; the EBLUP is far more precise than the direct share
    assert (eblup["bias_code_A_pp"].abs() < 2).all()
    assert (eblup["rmse_pp"] < direct["rmse_pp"]).all()


def _records(sizes: dict[str, int], audited: dict[str, int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for area, size in sizes.items():
        truth = rng.choice(["x", "y"], size=size, p=[0.6, 0.4])
        machine = np.where(rng.random(size) < 0.8, truth, np.where(truth == "x", "y", "x"))
        audit = np.full(size, "", dtype=object)
        audit[: audited[area]] = truth[: audited[area]]
        frames.append(pd.DataFrame({"region": area, "code": machine, "human": audit}))
    return pd.concat(frames, ignore_index=True)


def test_exact_synthetic_and_flagged_areas() -> None:
    sizes = {f"r{i}": 400 for i in range(8)} | {"full": 50, "none": 300, "tiny": 300}
    audited = {f"r{i}": 60 for i in range(8)} | {"full": 50, "none": 0, "tiny": 5}
    data = _records(sizes, audited)
    out = coded_share_areas(data, predicted="code", audit="human", area="region")
    rows = out.set_index(["area", "code"])
    full = rows.loc[("full", "x")]
    truth = (data.loc[data["region"] == "full", "human"] == "x").mean()
    assert full["kind"] == "exact" and full["mse"] == 0 and full["estimate"] == pytest.approx(truth)
    assert rows.loc[("none", "x"), "kind"] == "synthetic"
    assert rows.loc[("none", "x"), "mse"] > 0 and np.isnan(rows.loc[("none", "x"), "direct"])
    assert rows.loc[("tiny", "x"), "audit_flag"].startswith("audit too small")
    assert rows.loc[("r0", "x"), "audit_flag"] == "ok" and rows.loc[("r0", "x"), "kind"] == "eblup"
    assert ((out["estimate"] >= 0) & (out["estimate"] <= 1)).all()
    assert ((out["ci_low"] >= 0) & (out["ci_high"] <= 1)).all()


def test_bad_inputs() -> None:
    data = _records({"a": 100, "b": 100, "c": 100}, {"a": 20, "b": 20, "c": 20})
    table = pd.DataFrame({"region": ["a", "b"], "urban": [0.1, 0.5]})
    with pytest.raises(EstimationError, match="not in the area table") as info:
        coded_share_areas(
            data, predicted="code", audit="human", area="region", area_table=table,
            covariates=["urban"],
        )  # fmt: skip
    assert "'c'" in info.value.where
    with pytest.raises(EstimationError, match="without an area table"):
        coded_share_areas(data, predicted="code", audit="human", area="region", covariates=["u"])
    holes = data.copy()
    holes.loc[3, "code"] = ""
    with pytest.raises(EstimationError, match="no machine code"):
        coded_share_areas(holes, predicted="code", audit="human", area="region")


def test_coded_shares_command(tmp_path: Path) -> None:
    sizes = {f"r{i}": 300 for i in range(10)}
    data = _records(sizes, dict.fromkeys(sizes, 40))
    path, out = tmp_path / "coded.csv", tmp_path / "shares.csv"
    data.to_csv(path, index=False)
    result = CliRunner().invoke(
        app,
        ["estimate", "coded-shares", "--data", str(path), "--predicted", "code", "--audit",
         "human", "--area", "region", "--out", str(out), "--min-audit", "50"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 20 and set(table["code"]) == {"x", "y"}
    assert (table["audit_flag"] != "ok").all()  # 40 audited records < 50

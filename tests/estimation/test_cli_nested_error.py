"""``statcoder estimate nested-error`` end to end on the cornsoybean data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()

# samplics tests/sae/test_eblup_unit_model.py, REML with population sizes (R sae::eblupBHF)
REML_EST_FPC = [122.582519, 123.527414, 113.034260, 114.990082, 137.266001, 108.980696,
                116.483886, 122.771075, 111.564754, 124.156518, 112.462566, 131.251525]  # fmt: skip


def _files(estimation_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    means = pd.read_csv(estimation_dir / "cornsoybeanmeans.csv").rename(
        columns={
            "CountyIndex": "County",
            "MeanCornPixPerSeg": "CornPix",
            "MeanSoyBeansPixPerSeg": "SoyBeansPix",
        }
    )
    path = tmp_path / "means.csv"
    means.to_csv(path, index=False)
    return estimation_dir / "cornsoybean.csv", path


def _args(sample: Path, means: Path, out: Path, *extra: str) -> list[str]:
    return [
        "estimate", "nested-error", "--data", str(sample), "--response", "CornHec",
        "--covariates", "CornPix,SoyBeansPix", "--area", "County", "--area-means", str(means),
        "--population-size", "PopnSegments", "--out", str(out), *extra,
    ]  # fmt: skip


def test_nested_error_command_matches_published_eblups(estimation_dir, tmp_path) -> None:
    sample, means = _files(estimation_dir, tmp_path)
    out = tmp_path / "ne.csv"
    result = runner.invoke(app, _args(sample, means, out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns[:4]) == ["area", "n", "N", "estimate"]
    assert {"mse", "rmse", "cv", "ci_low", "ci_high", "kind", "flag"} <= set(table.columns)
    assert table["estimate"].to_numpy() == pytest.approx(REML_EST_FPC, abs=1e-6)
    boot = runner.invoke(app, _args(sample, means, out, "--mse", "bootstrap", "--bootstrap", "50"))
    assert boot.exit_code == 0, boot.output
    table = pd.read_csv(out)
    assert (table["mse"] == table["mse_bootstrap"]).all() and (table["mse"] > 0).all()


def test_nested_error_command_bad_input(estimation_dir, tmp_path) -> None:
    sample, means = _files(estimation_dir, tmp_path)
    short = pd.read_csv(means)
    short[short["County"] != 5].to_csv(tmp_path / "short.csv", index=False)
    result = runner.invoke(app, _args(sample, tmp_path / "short.csv", tmp_path / "x.csv"))
    assert result.exit_code == 2
    assert "no population means" in result.output and "['5']" in result.output
    result = runner.invoke(app, _args(sample, means, tmp_path / "x.csv", "--method", "moments"))
    assert result.exit_code == 2 and "REML" in result.output

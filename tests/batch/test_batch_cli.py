"""`statcoder code` with the local engine: summary line, problems summary, progress lines, errors."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()


def test_code_command_reports_rate_decisions_and_problems(model_dir, records, tmp_path):
    frame = records.iloc[:400].copy()
    frame.loc[0, "text"] = ""
    frame.loc[1, "text"] = "2026-07-01"
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = runner.invoke(app, ["code", "--model", str(model_dir), "--data", str(tmp_path / "in.csv"),
                                 "--out", str(tmp_path / "out.parquet"), "--workers", "1", "--chunk-size", "150"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "coded 400 records in" in output and "records/s" in output and "review" in output
    assert "rows with problems (coded review): missing 1, not_text 1" in output
    # captured stderr (not a terminal): progress as "[statcoder m:ss]" lines with rows/s, never texts
    assert "] coding: 400 / " in result.stderr and "rows/s, done" in result.stderr and "[statcoder " in result.stderr
    assert result.stderr.count("] coding: 400 / 400 rows") == 1  # the end is reported once
    assert frame.loc[5, "text"] not in result.stderr
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["rid"].tolist() == frame["rid"].tolist()


def test_quiet_and_clear_errors(model_dir, records, tmp_path):
    records.iloc[:50].to_parquet(tmp_path / "in.parquet", index=False)
    base = ["code", "--model", str(model_dir), "--data", str(tmp_path / "in.parquet")]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "out.csv"), "--quiet", "--workers", "1"])
    assert result.exit_code == 0 and result.stderr == ""
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "o2.csv"), "--text", "title"])
    assert result.exit_code == 2 and "'title' not found" in result.stderr and "rid" in result.stderr
    assert not (tmp_path / "o2.csv").exists()
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "o3.csv"), "--engine", "dask"])
    assert result.exit_code == 2 and "unknown engine 'dask'" in result.stderr
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "o4.csv"), "--chunk-size", "0"])
    assert result.exit_code == 2 and "--chunk-size must be at least 1" in result.stderr
    # coding other text columns than the model's: done, with a warning naming both
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "o5.csv"), "--text", "survey", "--workers", "1"])
    assert result.exit_code == 0 and "trained on the text column(s) text; coding with survey" in " ".join(
        result.stderr.split())

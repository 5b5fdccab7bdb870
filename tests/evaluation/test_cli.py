"""``statcoder evaluate`` through Typer's runner: tables, JSON, report, model card, comparison."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()


def _data(onet_slice, tmp_path):
    path = tmp_path / "test.csv"
    onet_slice["test"].to_csv(path, index=False)
    return path


def test_evaluate_prints_tables_and_writes_json_report_and_card(onet_slice, saved_model, tmp_path):
    data = _data(onet_slice, tmp_path)
    out_json, out_html, out_md = tmp_path / "e.json", tmp_path / "e.html", tmp_path / "card.md"
    result = runner.invoke(app, [
        "evaluate", "--model", str(saved_model), "--data", str(data), "--text", "text", "--code", "code",
        "--group", "mode", "--json", str(out_json), "--report", str(out_html), "--model-card", str(out_md),
        "--bootstrap", "100", "--minutes-per-record", "2", "--cost-per-hour", "40", "--min-cell", "5",
    ])
    assert result.exit_code == 0, result.output
    assert "Accuracy per level" in result.output and "Decisions" in result.output
    assert "Expected calibration error" in result.output
    payload = json.loads(out_json.read_text())
    assert payload["meta"]["n_records"] == len(onet_slice["test"])
    assert payload["timeliness_cost"]["cost"]["input_minutes_per_record"] == 2
    assert payload["timeliness_cost"]["timings"]["model_load_seconds"] > 0
    html = out_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and "9. Ethics evidence" in html
    assert out_md.read_text().startswith("# Model card")
    # no record text in the terminal output
    assert not any(t in result.output for t in onet_slice["test"]["text"] if len(t.split()) >= 3)


def test_comparison_of_a_model_with_itself_shows_no_difference(onet_slice, saved_model, tmp_path):
    data = _data(onet_slice, tmp_path)
    out_json, out_html = tmp_path / "c.json", tmp_path / "c.html"
    result = runner.invoke(app, [
        "evaluate", "--model", str(saved_model), "--model", str(saved_model), "--data", str(data),
        "--code", "code", "--json", str(out_json), "--report", str(out_html), "--bootstrap", "50",
    ])
    assert result.exit_code == 0, result.output
    payload = json.loads(out_json.read_text())
    assert len(payload["models"]) == 2
    assert all(r["accuracy_difference"] == 0 and r["mcnemar_p"] == 1.0 for r in payload["comparison"]["differences"])
    assert payload["comparison"]["churn"][0]["code_churn"] == 0
    html = out_html.read_text()
    assert "A: 1. Accuracy per level" in html and "B: 1. Accuracy per level" in html


def test_missing_column_is_a_one_line_error(onet_slice, saved_model, tmp_path):
    data = _data(onet_slice, tmp_path)
    result = runner.invoke(app, [
        "evaluate", "--model", str(saved_model), "--data", str(data), "--code", "soc", "--bootstrap", "10",
    ])
    assert result.exit_code == 2
    assert "error:" in result.output and "soc" in result.output and "Traceback" not in result.output


def test_missing_model_directory_is_an_error(onet_slice, tmp_path):
    data = _data(onet_slice, tmp_path)
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "nope"), "--data", str(data), "--code", "code"])
    assert result.exit_code == 2 and "error:" in result.output

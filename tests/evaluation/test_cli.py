"""``statcoder evaluate`` through Typer's runner: tables, JSON, report, model card, comparison."""

from __future__ import annotations

import json

import pandas as pd
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


def test_without_bootstrap_the_card_and_report_say_not_computed_never_nan(onet_slice, saved_model, tmp_path):
    """--bootstrap 0: no interval is a dash with its footnote; versions are a list, not a Python dict."""
    from reportcheck import LEAKS

    data = _data(onet_slice, tmp_path)
    out_html, out_md = tmp_path / "e.html", tmp_path / "card.md"
    result = runner.invoke(app, [
        "evaluate", "--model", str(saved_model), "--data", str(data), "--code", "code", "--group", "mode",
        "--report", str(out_html), "--model-card", str(out_md), "--bootstrap", "0", "--min-cell", "5",
    ])
    assert result.exit_code == 0, result.output
    card = out_md.read_text()
    assert not LEAKS.search(card), card
    assert "| 1 | " in card and "—¹" in card and "¹ not computed: the evaluation ran without bootstrap" in card
    assert "{'" not in card and "  - statcoder " in card
    html = out_html.read_text()
    assert not LEAKS.search(html.split("<pre>")[1].split("</pre>")[0])
    assert "without intervals" in html
    assert not LEAKS.search(result.output)


def test_two_models_without_bootstrap_print_no_nan(onet_slice, saved_model, tmp_path):
    from reportcheck import LEAKS

    data = _data(onet_slice, tmp_path)
    result = runner.invoke(app, ["evaluate", "--model", str(saved_model), "--model", str(saved_model),
                                 "--data", str(data), "--code", "code", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert not LEAKS.search(result.output), result.output


def test_evaluating_on_the_training_data_warns_in_the_terminal_and_the_report(onet_slice, saved_model, tmp_path):
    path = tmp_path / "train.csv"
    onet_slice["train"].to_csv(path, index=False)
    out_html = tmp_path / "e.html"
    result = runner.invoke(app, ["evaluate", "--model", str(saved_model), "--data", str(path), "--code", "code",
                                 "--bootstrap", "0", "--report", str(out_html), "--model-card", str(tmp_path / "c.md")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "warning: the evaluation data is the model's training data (same fingerprint as the model card)" in said
    assert "- **Warning: the evaluation data is the model's training data" in (tmp_path / "c.md").read_text()
    html = out_html.read_text()
    assert 'class="flag">Warning: the evaluation data is the model&#x27;s training data' in html or \
        "Warning: the evaluation data is the model's training data" in html
    # held-out records: no warning
    held_out = runner.invoke(app, ["evaluate", "--model", str(saved_model), "--data", str(_data(onet_slice, tmp_path)),
                                   "--code", "code", "--bootstrap", "0"])
    assert held_out.exit_code == 0 and "training data" not in held_out.output


def test_a_mostly_training_sample_is_measured_by_the_share_of_training_texts(onet_slice):
    import pytest

    from statcoder.coder.overlap import TrainingDataWarning, training_overlap
    from statcoder.evaluation.holistic import evaluate

    coder, train, test = onet_slice["coder"], onet_slice["train"], onet_slice["test"]
    mixed = pd.concat([train.iloc[:240], test.iloc[:60]], ignore_index=True)
    overlap = training_overlap(coder, [t.upper() + "  " for t in mixed["text"]], list(mixed["code"]))
    assert not overlap.same_data and overlap.share_training_texts == pytest.approx(0.8)  # normalised texts
    assert training_overlap(coder, list(test["text"]), list(test["code"])).share_training_texts == 0
    with pytest.warns(TrainingDataWarning, match="80 % of the texts in the evaluation data are training texts"):
        ev = evaluate(coder, mixed, n_boot=0)
    assert ev.results["meta"]["training_overlap"]["share_training_texts"] == pytest.approx(0.8)

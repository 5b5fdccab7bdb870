"""``statcoder monitor`` user errors: columns missing from one of the files, misspelt tolerances."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def monitored(shared_data, tmp_path_factory):
    """A small ISCO coder and a reference / current pair where only the current file has ``mode``."""
    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str.startswith(("72", "22"))].reset_index(drop=True)
    folder = tmp_path_factory.mktemp("monitor-cli")
    frame.to_csv(folder / "train.csv", index=False)
    model = folder / "model"
    trained = runner.invoke(app, ["train", "--data", str(folder / "train.csv"), "--code", "code",
                                  "--classification", str(shared_data / "classifications" / "isco08.csv"),
                                  "--out", str(model), "--cv-folds", "2"])
    assert trained.exit_code == 0, trained.output
    sample = frame.sample(120, random_state=0)
    sample[["text", "code"]].to_csv(folder / "ref.csv", index=False)
    sample.assign(mode=["web", "phone"] * 60)[["text", "mode"]].to_csv(folder / "cur.csv", index=False)
    return folder, model


def _monitor(folder, model, *extra: str):
    return runner.invoke(app, ["monitor", "--model", str(model), "--reference", str(folder / "ref.csv"),
                               "--current", str(folder / "cur.csv"), "--period-size", "60",
                               "--report", str(folder / "m.html"), *extra])


def test_a_column_only_in_the_current_file_names_the_reference_file(monitored):
    folder, model = monitored
    result = _monitor(folder, model, "--column", "mode")
    out = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"error: column 'mode' not found in {folder / 'ref.csv'} (--column)" in out
    assert "the columns of ref.csv are: text, code" in out
    assert "Traceback" not in out and "KeyError" not in out
    assert "coding the reference" not in out  # found before any coding


@pytest.mark.parametrize(("extra", "expected"), [
    (["--text", "title"], "column 'title' not found in {ref} (--text)"),
    (["--code", "isco"], "column 'isco' not found in {ref} (--code)"),
    (["--audit-col", "audit"], "column 'audit' not found in {cur} (--audit-col)"),
    (["--training", "{ref}", "--text", "text", "--column", "nope"], "column 'nope' not found in {ref} (--column)"),
])
def test_every_file_read_names_itself_and_the_option(monitored, extra, expected):
    folder, model = monitored
    ref, cur = folder / "ref.csv", folder / "cur.csv"
    result = _monitor(folder, model, *[e.format(ref=ref) for e in extra])
    assert result.exit_code == 2, result.output
    assert expected.format(ref=ref, cur=cur) in " ".join(result.output.split())


def test_a_column_missing_from_the_training_file_names_it(monitored, tmp_path):
    folder, model = monitored
    pd.DataFrame({"title": ["welder"], "code": ["7212"]}).to_csv(tmp_path / "train.csv", index=False)
    result = _monitor(folder, model, "--training", str(tmp_path / "train.csv"))
    assert result.exit_code == 2, result.output
    assert f"column 'text' not found in {tmp_path / 'train.csv'} (--text)" in " ".join(result.output.split())


def test_a_misspelt_tolerance_is_refused_with_the_valid_names(monitored):
    folder, model = monitored
    result = _monitor(folder, model, "--tolerance", "acurracy=0.05")
    out = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "unknown tolerance name(s): 'acurracy' (--tolerance)" in out and "accuracy, audit, gap" in out
    assert "Traceback" not in out
    for fine in ("accuracy=0.05", "accuracy_cbpe=0.04", "share_review=0.1"):
        assert _monitor(folder, model, "--tolerance", fine).exit_code == 0

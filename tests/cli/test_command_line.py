"""One command line: start-up cost, shared options and checks, aliases, input encodings, progress."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()
STATCODER = Path(sys.executable).parent / "statcoder"
HEAVY = ("pandas", "numpy", "sklearn", "scipy", "matplotlib", "pyarrow")


def _imported_by(args: list[str]) -> list[str]:
    code = (
        "import sys\nfrom statcoder.cli import app\nimport typer.main\n"
        f"try:\n    typer.main.get_command(app)({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = out.stdout[out.stdout.rindex("HEAVY:") + len("HEAVY:"):].strip()
    return [m for m in line.split(",") if m]


def test_top_level_help_imports_no_heavy_module():
    assert _imported_by(["--help"]) == []


@pytest.mark.parametrize("command", ["train", "code", "evaluate", "quality", "monitor", "demo", "serve"])
def test_command_help_imports_no_heavy_module(command):
    assert _imported_by([command, "--help"]) == []


def test_estimate_group_is_listed_without_being_imported():
    code = ("import sys\nfrom statcoder.cli import app\nimport typer.main\n"
            "try:\n    typer.main.get_command(app)(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print('statcoder.cli.estimate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "estimate" in out.stdout and out.stdout.strip().endswith("False")
    result = runner.invoke(app, ["estimate", "--help"])
    assert result.exit_code == 0 and "survey" in result.output


@pytest.mark.parametrize("folds", ["0", "1"])
@pytest.mark.parametrize("command", ["train", "quality"])
def test_cv_folds_below_two_refused_with_the_same_message(command, folds, tmp_path):
    (tmp_path / "d.csv").write_text("text,code\na,1\n")
    args = [command, "--data", str(tmp_path / "d.csv"), "--code", "code", "--out", str(tmp_path / "o"),
            "--cv-folds", folds]
    if command == "quality":
        args += ["--classification", str(tmp_path / "c.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"--cv-folds must be at least 2, got {folds}" in " ".join(result.output.split())


@pytest.mark.parametrize(("command", "option"), [
    ("train", "--seed"), ("quality", "--seed"), ("monitor", "--seed"), ("evaluate", "--seed"),
    ("evaluate", "--retrain-seed"), ("demo", "--seed"), ("estimate model-assisted", "--seed"),
    ("estimate nested-error", "--seed"), ("retrain", "--seed")])
def test_a_negative_seed_is_refused_before_any_work(command, option):
    result = runner.invoke(app, [*command.split(), option, "-1"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.replace("│", " ").split())  # the message is boxed and wrapped
    assert f"Invalid value for '{option}'" in said and "greater than or equal to 0" in said


def test_old_spellings_are_hidden_and_warn(tmp_path):
    help_text = runner.invoke(app, ["monitor", "--help"]).output
    assert "--code" in help_text and "--label-col" not in help_text
    result = runner.invoke(app, ["monitor", "--model", str(tmp_path / "none"), "--reference", "r.csv",
                                 "--current", "c.csv", "--report", "m.html", "--label-col", "isco"])
    assert "--label-col is deprecated; use --code" in " ".join(result.output.split())
    result = runner.invoke(app, ["code", "--model", str(tmp_path / "none"), "--input", "in.csv", "--output", "o.csv"])
    output = " ".join(result.output.split())
    assert "--input is deprecated; use --data" in output and "--output is deprecated; use --out" in output
    result = runner.invoke(app, ["code", "--model", str(tmp_path / "none"), "--data", "a.csv", "--input", "b.csv",
                                 "--out", "o.csv"])
    assert result.exit_code == 2 and "both --data and --input" in " ".join(result.output.split())


def test_same_text_and_code_options_in_every_labelled_command():
    for command in ("train", "evaluate", "quality", "monitor"):
        help_text = runner.invoke(app, [command, "--help"]).output
        assert "--text" in help_text and "--code" in help_text and "--encoding" in help_text, command


# ---- input files ---------------------------------------------------------------------------------

CP1250 = "text,code\nKierowca wózka widłowego,8344\nKsięgowa,3313\n"


def test_encoding_option_reads_a_cp1250_file_and_the_error_without_it_says_how(tmp_path):
    from statcoder.errors import InputError
    from statcoder.io import read_table

    path = tmp_path / "pl.csv"
    path.write_bytes(CP1250.encode("cp1250"))
    with pytest.raises(InputError) as exc:
        read_table(path)
    assert "--encoding" in exc.value.hint
    assert read_table(path, encoding="cp1250")["text"].tolist() == ["Kierowca wózka widłowego", "Księgowa"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_byte_order_mark_is_detected(tmp_path, encoding):
    from statcoder.io import read_table

    path = tmp_path / "bom.csv"
    path.write_bytes(CP1250.encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == ["text", "code"]
    assert frame["code"].tolist() == ["8344", "3313"]


def test_binary_file_error_says_it_looks_binary(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)))
    result = runner.invoke(app, ["code", "--model", str(tmp_path), "--data", str(path), "--out", "o.csv"])
    from statcoder.errors import InputError
    from statcoder.io import read_table

    with pytest.raises(InputError, match="looks binary"):
        read_table(path)
    assert result.exit_code == 2


def test_header_only_input_warning_in_code(small_model, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("text\n")
    result = runner.invoke(app, ["code", "--model", str(small_model), "--data", str(path),
                                 "--out", str(tmp_path / "o.csv")])
    assert "has 0 records" in " ".join(result.output.split())


def test_code_says_to_pass_the_encoding_when_texts_are_not_utf8(small_model, tmp_path):
    path = tmp_path / "pl.csv"
    path.write_bytes(CP1250.encode("cp1250"))
    args = ["code", "--model", str(small_model), "--data", str(path), "--workers", "1", "--quiet"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "2 record(s) have text that is not valid UTF-8" in said and "--encoding (e.g. cp1250" in said
    again = runner.invoke(app, [*args, "--encoding", "cp1250", "--out", str(tmp_path / "o2.csv")])
    assert again.exit_code == 0 and "not valid UTF-8" not in again.output
    assert pd.read_csv(tmp_path / "o2.csv")["text"].tolist() == ["Kierowca wózka widłowego", "Księgowa"]


def test_code_refuses_to_write_over_its_input(small_model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("text\nnurse\n")
    result = runner.invoke(app, ["code", "--model", str(small_model), "--data", str(path), "--out", str(path)])
    assert result.exit_code == 2 and "would replace the input file" in " ".join(result.output.split())
    assert path.read_text() == "text\nnurse\n"


@pytest.fixture(scope="module")
def small_training(shared_data, tmp_path_factory):
    frame = pd.read_csv(shared_data / "coding" / "ilo_isco08_index.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["code"].str.startswith(("72", "22"))].reset_index(drop=True)
    folder = tmp_path_factory.mktemp("progress")
    frame.to_csv(folder / "train.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def small_model(small_training, shared_data):
    model = small_training / "model"
    result = runner.invoke(app, ["train", "--data", str(small_training / "train.csv"), "--code", "code",
                                 "--classification", str(shared_data / "classifications" / "isco08.csv"),
                                 "--out", str(model), "--cv-folds", "2"])
    assert result.exit_code == 0, result.output
    return model


def test_progress_lines_appear_while_training_runs_with_output_captured(small_training, shared_data):
    """Outside a terminal, each stage writes a line with elapsed time while the command is still running."""
    args = [str(STATCODER), "train", "--data", str(small_training / "train.csv"), "--code", "code",
            "--classification", str(shared_data / "classifications" / "isco08.csv"),
            "--out", str(small_training / "m2"), "--cv-folds", "3"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "120"})
    seen_running, lines = [], []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line.rstrip())
        seen_running.append(proc.poll() is None)
    out = proc.stdout.read() if proc.stdout else ""
    assert proc.wait(timeout=600) == 0, "\n".join(lines)
    progress = [(line, running) for line, running in zip(lines, seen_running, strict=True)
                if line.startswith("[statcoder ")]
    assert progress, lines
    assert progress[0][1], "the first progress line must come while the command still runs"
    text = "\n".join(line for line, _ in progress)
    # the steps are named as steps, and the fold count is the one asked for
    assert "3-fold cross-validation in 3 steps (features, fold models, out-of-fold scores): 3/3 done in" in text
    assert "steps/s" in text and "training on" in text and "reading train.csv" in text
    assert "trained" in out  # the summary still goes to stdout, after the progress


def test_progress_log_eta_is_per_stage_and_absent_for_short_stages():
    import io

    from statcoder.cli._common import ProgressLog

    now = [0.0]
    stream = io.StringIO()
    log = ProgressLog(stream, every=0.0, clock=lambda: now[0])
    log(0, 1, "final model")
    now[0] = 30.0
    log(1, 1, "final model")
    for done in range(1, 5):
        now[0] += 10.0
        log(done, 10, "coding")
    lines = stream.getvalue().splitlines()
    assert any("final model: 1/1 done in 30.0 s" in line for line in lines)
    assert not any("final model" in line and "left" in line for line in lines)
    eta = next(line for line in lines if "coding: 4/10" in line)
    assert "this stage about 1:00 left" in eta  # 6 steps at 1 step per 10 s
    # unequal steps (three quick checks, then minutes of cross-validation): no ETA at all
    now[0], stream2 = 0.0, io.StringIO()
    log = ProgressLog(stream2, every=0.0, clock=lambda: now[0])
    for done, at in ((1, 0.1), (2, 0.2), (3, 0.3), (4, 200.0)):
        now[0] = at
        log(done, 5, "quality checks")
    assert "left" not in stream2.getvalue().splitlines()[-1]


def test_outputs_respect_the_umask(tmp_path):
    from statcoder.io import atomic_write_text, write_table_atomic

    old = os.umask(0o022)
    try:
        assert (atomic_write_text(tmp_path / "a.txt", "x").stat().st_mode & 0o777) == 0o644
        os.umask(0o027)
        path = write_table_atomic(pd.DataFrame({"a": ["1"]}), tmp_path / "b.csv")
        assert (path.stat().st_mode & 0o777) == 0o640
    finally:
        os.umask(old)


def test_console_script_lists_every_command():
    out = subprocess.run([str(STATCODER), "--help"], capture_output=True, text=True, check=True)
    for name in ("train", "code", "evaluate", "quality", "monitor", "estimate", "demo", "serve"):
        assert name in out.stdout


def _outcome(result) -> tuple[int, str]:
    text = " ".join(result.output.split())
    error = next((part for part in text.split("error: ")[1:2]), "")
    return result.exit_code, error.split(" (")[0]


def test_evaluate_and_monitor_handle_long_texts_as_code_does(small_model, tmp_path):
    """One rule for over-long texts: whatever `code` does with them, evaluate and monitor do too."""
    path = tmp_path / "long.csv"
    # 60 records (monitoring needs a reference of at least 50), one of them over the limit
    texts = ["welder", "software developer " * 10, "electrician"] + [f"welder {i}" for i in range(57)]
    pd.DataFrame({"text": texts, "code": ["7212", "2512", "7411"] + ["7212"] * 57}).to_csv(path, index=False)
    coded = runner.invoke(app, ["code", "--model", str(small_model), "--data", str(path), "--out",
                                str(tmp_path / "o.csv"), "--max-text-length", "50"])
    evaluated = runner.invoke(app, ["evaluate", "--model", str(small_model), "--data", str(path), "--code", "code",
                                    "--max-text-length", "50", "--bootstrap", "0", "--on-unknown-code", "drop"])
    monitored = runner.invoke(app, ["monitor", "--model", str(small_model), "--reference", str(path),
                                    "--current", str(path), "--period-size", "30", "--report", str(tmp_path / "m.html"),
                                    "--max-text-length", "50"])
    assert _outcome(coded)[1] == _outcome(evaluated)[1] == _outcome(monitored)[1]
    assert (coded.exit_code == 0) == (evaluated.exit_code == 0) == (monitored.exit_code == 0)
    if coded.exit_code:
        assert "longer than 50 characters" in _outcome(coded)[1]


def test_monitor_warns_about_audit_codes_it_cannot_use(small_model, small_training, tmp_path):
    frame = pd.read_csv(small_training / "train.csv", dtype=str, keep_default_na=False).sample(120, random_state=0)
    frame.to_csv(tmp_path / "ref.csv", index=False)
    current = frame.assign(text=frame["text"] + " zzzz", audit=frame["code"])  # every record "audited"
    current.to_csv(tmp_path / "cur.csv", index=False)
    result = runner.invoke(app, ["monitor", "--model", str(small_model), "--reference", str(tmp_path / "ref.csv"),
                                 "--current", str(tmp_path / "cur.csv"), "--period-size", "60", "--audit-col", "audit",
                                 "--report", str(tmp_path / "m.html")])
    assert result.exit_code == 0, result.output
    assert "audit codes in 'audit' are on records not coded auto and were not used" in " ".join(result.output.split())


def test_a_stage_that_fails_is_reported_stopped_not_done(capsys):
    """An error inside a stage must not be preceded by "<stage>: done" (a new user read it as success)."""
    import typer

    from statcoder.cli._common import progress
    from statcoder.errors import InputError

    with pytest.raises(InputError), progress() as bar:
        bar.stage("reading nosuch.csv")
        raise InputError("input file not found: nosuch.csv")
    err = capsys.readouterr().err
    assert "reading nosuch.csv: stopped after" in err and "done" not in err
    with pytest.raises(typer.Exit), progress() as bar:  # ending on purpose with success is "done"
        bar.stage("writing the report")
        raise typer.Exit(0)
    assert "writing the report: done in" in capsys.readouterr().err


def test_monitor_checks_its_inputs_before_coding_anything(small_model, small_training, tmp_path):
    """A wrong period column (or both ways of splitting) fails before the reference is coded."""
    frame = pd.read_csv(small_training / "train.csv", dtype=str, keep_default_na=False).sample(80, random_state=0)
    frame.to_csv(tmp_path / "ref.csv", index=False)
    base = ["monitor", "--model", str(small_model), "--reference", str(tmp_path / "ref.csv"),
            "--current", str(tmp_path / "ref.csv"), "--report", str(tmp_path / "m.html")]
    wrong = runner.invoke(app, [*base, "--period-col", "month"])
    assert wrong.exit_code != 0
    out = " ".join(wrong.output.split())
    assert "period column 'month' not found" in out and "ref.csv" in out
    assert "reading ref.csv" in out and "coding the reference" not in out
    both = runner.invoke(app, [*base, "--period-col", "code", "--period-size", "40"])
    assert both.exit_code != 0 and "both --period-col and --period-size" in " ".join(both.output.split())
    old = runner.invoke(app, [*base, "--chunk-size", "40"])  # the old spelling still works, with a warning
    assert old.exit_code == 0, old.output
    assert "--chunk-size is deprecated; use --period-size" in " ".join(old.output.split())


@pytest.mark.parametrize("command", [["train"], ["code"], ["monitor"], ["serve"], ["estimate", "survey"]])
def test_flags_are_shown_without_a_value_type(command):
    """On/off flags must not read as options taking a value (``--flat <bool>``)."""
    result = runner.invoke(app, [*command, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "--help" in result.output and "<bool>" not in result.output
    assert "<int>" in result.output or "<path>" in result.output or "<text>" in result.output  # other types stay


def test_quality_cuts_over_long_texts_as_train_does(small_training, shared_data, tmp_path):
    frame = pd.read_csv(small_training / "train.csv", dtype=str, keep_default_na=False)
    frame.loc[frame.index[:2], "text"] = frame["text"].iloc[:2] + " and more" * 20
    frame.to_csv(tmp_path / "long.csv", index=False)
    isco = str(shared_data / "classifications" / "isco08.csv")
    common = ["--data", str(tmp_path / "long.csv"), "--code", "code", "--classification", isco,
              "--max-text-length", "100", "--cv-folds", "2"]
    checked = runner.invoke(app, ["quality", *common, "--out", str(tmp_path / "q")])
    trained = runner.invoke(app, ["train", *common, "--out", str(tmp_path / "m")])
    assert checked.exit_code == trained.exit_code == 0, checked.output + trained.output
    assert "2 text(s) longer than 100 characters cut" in " ".join(checked.output.split())
    assert (tmp_path / "q" / "report.html").exists()

"""An invalid STATCODER_* setting is the project's error (variable, reason, hint), not a traceback."""

import pytest
from typer.testing import CliRunner

from statcoder.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("STATCODER_PROJECT_CPU_CONTENDED", "1.5", "less than or equal to 1"),
    ("STATCODER_PROJECT_CPU_CONTENDED", "abc", "valid number"),
    ("STATCODER_PROJECT_RECORDS_CONTENDED", "-1", "greater than or equal to 0"),
])
def test_invalid_setting_names_the_variable(tmp_path, monkeypatch, variable, value, reason):
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path / "data"), "--port", "1"])
    assert result.exit_code == 2
    output = result.output
    assert f"setting {variable} is invalid" in output and reason in output
    assert "hint:" in output and "Traceback" not in output
    assert not (tmp_path / "data").exists()  # refused before anything was created

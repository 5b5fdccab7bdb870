"""``statcoder admin`` bootstraps a project and its first key; ``statcoder serve`` serves them."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from statcoder.cli import app
from statcoder.service import audit, keys
from statcoder.service.context import ServiceContext
from statcoder.service.errors import RevokedKeyError
from statcoder.service.settings import ServiceSettings


def test_admin_bootstrap_create_project_key_and_revoke(tmp_path, db_url, model_dir, foreign_model_dir):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "service"))
    from kit import write_classification

    runner = CliRunner()
    common = ["--data-dir", str(tmp_path / "data"), "--database-url", db_url]
    csv_path = write_classification(tmp_path / "cls")
    r = runner.invoke(app, ["admin", "create-project", "lfs", "--classification", str(csv_path),
                            "--classification-name", "trades", "--model", str(model_dir), *common])
    assert r.exit_code == 0, r.output
    assert "now active" in r.output
    r = runner.invoke(app, ["admin", "create-key", "lfs", "--scope", "admin", "--scope", "code", *common])
    assert r.exit_code == 0, r.output
    secret = re.search(r"sc_[0-9a-f]+_\S+", r.output).group(0)
    # no key cache: the CLI is another process, whose changes a cache would see only after its TTL
    ctx = ServiceContext(ServiceSettings(data_dir=tmp_path / "data", database_url=db_url, auth_cache_seconds=0))
    principal = keys.authenticate(ctx, secret)
    assert principal.project_id == "lfs" and principal.scopes == {"admin", "code"}
    r = runner.invoke(app, ["admin", "add-model", "lfs", str(foreign_model_dir), *common])
    assert r.exit_code == 2 and "error:" in r.output and "hint:" in r.output
    r = runner.invoke(app, ["admin", "create-key", "nope", "--scope", "code", *common])
    assert r.exit_code == 2
    r = runner.invoke(app, ["admin", "revoke-key", "lfs", principal.key_id, *common])
    assert r.exit_code == 0, r.output
    with pytest.raises(RevokedKeyError):
        keys.authenticate(ctx, secret)
    actions = [e.action for e in audit.read_log(ctx, "lfs")]
    assert actions[:2] == ["key.revoke", "key.create"] and "model.promote" in actions
    assert all(e.actor.startswith("cli") for e in audit.read_log(ctx, "lfs"))
    ctx.close()

"""Projects, hashed API keys, scopes, expiry, revocation and the audit trail of each change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statcoder.errors import ClassificationError, InputError
from statcoder.service import audit, keys, projects
from statcoder.service.errors import (
    ConflictError,
    ExpiredKeyError,
    InvalidKeyError,
    MissingKeyError,
    NotFoundError,
    PermissionDeniedError,
    RevokedKeyError,
)
from statcoder.store import utcnow
from statcoder.store.projects import KeyRepository


@pytest.fixture
def project(ctx, classification_csv):
    return projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv,
                                   classification_name="TRADES", actor="cli:test")


def test_project_records_its_classification_and_default_audit_rate(ctx, project):
    assert project.classification_name == "TRADES"
    assert len(project.classification_fingerprint) == 64
    assert project.audit_rate == pytest.approx(0.02)
    assert ctx.classification_path("lfs").is_file()
    assert "11" in ctx.classification(project)


def test_invalid_or_duplicate_projects_are_refused(ctx, project, classification_csv, tmp_path):
    with pytest.raises(ConflictError):
        projects.create_project(ctx, "lfs", name="x", classification_csv=classification_csv, actor="t")
    with pytest.raises(InputError):
        projects.create_project(ctx, "Bad Id!", name="x", classification_csv=classification_csv, actor="t")
    broken = tmp_path / "broken.csv"
    broken.write_text("code,title,level,parent\n11,Bakers,2,9\n", encoding="utf-8")
    with pytest.raises(ClassificationError):
        projects.create_project(ctx, "other", name="x", classification_csv=broken, actor="t")


def test_key_secret_is_stored_only_as_a_hash(ctx, project):
    issued = keys.issue_key(ctx, "lfs", scopes=["code"], actor="cli:test")
    with ctx.db.read() as session:
        stored = KeyRepository(session).get(issued.key.id)
    secret = issued.secret.split("_", 2)[2]
    assert secret not in stored.secret_hash and stored.secret_hash == keys.hash_secret(secret)
    principal = keys.authenticate(ctx, issued.secret)
    assert principal.project_id == "lfs" and principal.scopes == frozenset({"code"})


def test_authentication_failures_have_distinct_errors(ctx, project):
    issued = keys.issue_key(ctx, "lfs", scopes=["admin"], actor="cli:test")
    with pytest.raises(MissingKeyError):
        keys.authenticate(ctx, None)
    with pytest.raises(InvalidKeyError):
        keys.authenticate(ctx, "not-a-key")
    with pytest.raises(InvalidKeyError):  # right id, wrong secret
        keys.authenticate(ctx, issued.secret[:-2] + "xx")
    soon = keys.issue_key(ctx, "lfs", scopes=["code"], actor="t", expires_at=utcnow() + timedelta(seconds=1))
    with ctx.db.write() as session:  # age the key instead of sleeping
        KeyRepository(session).get(soon.key.id).expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(ExpiredKeyError):
        keys.authenticate(ctx, soon.secret)
    keys.revoke_key(ctx, "lfs", issued.key.id, actor="t")
    with pytest.raises(RevokedKeyError):
        keys.authenticate(ctx, issued.secret)


def test_authorize_hides_other_projects_and_checks_scopes(ctx, project, classification_csv):
    projects.create_project(ctx, "other", name="O", classification_csv=classification_csv, actor="t")
    principal = keys.authenticate(ctx, keys.issue_key(ctx, "lfs", scopes=["code"], actor="t").secret)
    assert keys.authorize(ctx, principal, "lfs", "code").id == "lfs"
    with pytest.raises(NotFoundError):
        keys.authorize(ctx, principal, "other", "code")
    with pytest.raises(NotFoundError):  # same answer as for a project that does not exist
        keys.authorize(ctx, principal, "nope", "code")
    with pytest.raises(PermissionDeniedError):
        keys.authorize(ctx, principal, "lfs", "admin")


def test_keys_of_another_project_cannot_be_revoked(ctx, project, classification_csv):
    projects.create_project(ctx, "other", name="O", classification_csv=classification_csv, actor="t")
    foreign = keys.issue_key(ctx, "other", scopes=["code"], actor="t")
    with pytest.raises(NotFoundError):
        keys.revoke_key(ctx, "lfs", foreign.key.id, actor="t")
    assert keys.authenticate(ctx, foreign.secret).project_id == "other"


def test_bad_scopes_and_past_expiry_are_refused(ctx, project):
    with pytest.raises(InputError):
        keys.issue_key(ctx, "lfs", scopes=["root"], actor="t")
    with pytest.raises(InputError):
        keys.issue_key(ctx, "lfs", scopes=["code"], actor="t", expires_at=utcnow() - timedelta(days=1))


def test_every_change_is_in_the_audit_log(ctx, project):
    issued = keys.issue_key(ctx, "lfs", scopes=["code"], actor="cli:test")
    keys.revoke_key(ctx, "lfs", issued.key.id, actor="key:admin1")
    projects.update_settings(ctx, "lfs", audit_rate=0.1, actor="key:admin1")
    events = audit.read_log(ctx, "lfs")
    assert [e.action for e in events] == ["project.settings", "key.revoke", "key.create", "project.create"]
    assert events[0].actor == "key:admin1" and events[2].actor == "cli:test"
    assert all(e.created_at is not None for e in events)
    assert [e.action for e in audit.read_log(ctx, "lfs", limit=2, before_id=events[1].id)] == [
        "key.create", "project.create"]
    with pytest.raises(InputError):
        projects.update_settings(ctx, "lfs", audit_rate=1.5, actor="t")

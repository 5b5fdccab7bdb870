"""The key/project cache: hits skip the store, local changes apply at once, others after the TTL."""

from __future__ import annotations

import pytest

from statcoder.service import keys, projects, registry
from statcoder.service.auth_cache import AuthCache
from statcoder.service.errors import RevokedKeyError
from statcoder.store import utcnow
from statcoder.store.projects import KeyRepository


class Clock:
    """A hand-driven clock for the cache."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl_and_can_be_dropped():
    clock = Clock()
    cache = AuthCache(2.0, clock=clock)
    cache.put("key", "k1", "row")
    assert cache.get("key", "k1") == "row" and cache.get("project", "k1") is None
    clock.now = 2.5
    assert cache.get("key", "k1") is None
    cache.put("key", "k1", "row")
    cache.drop("key", "k1")
    assert cache.get("key", "k1") is None
    cache.put("key", "unknown", None)  # rows that do not exist are never remembered
    assert cache.get("key", "unknown") is None
    assert AuthCache(0).get("key", "k1") is None


def test_out_of_band_revocation_applies_after_the_ttl(ctx, classification_csv):
    clock = Clock()
    ctx.auth_cache = AuthCache(2.0, clock=clock)
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    issued = keys.issue_key(ctx, "lfs", scopes=["code"], actor="t")
    assert keys.authenticate(ctx, issued.secret).project_id == "lfs"
    assert keys.authenticate(ctx, issued.secret, cached_only=True) is not None  # a cache hit
    with ctx.db.write() as session:  # as if another server process revoked it
        KeyRepository(session).revoke(KeyRepository(session).get(issued.key.id), utcnow())
    clock.now = 2.1
    with pytest.raises(RevokedKeyError):
        keys.authenticate(ctx, issued.secret)


def test_local_changes_drop_the_cached_rows(ctx, classification_csv, model_dir):
    from statcoder.coder import Coder

    clock = Clock()
    ctx.auth_cache = AuthCache(60.0, clock=clock)
    projects.create_project(ctx, "lfs", name="LFS", classification_csv=classification_csv, actor="t")
    issued = keys.issue_key(ctx, "lfs", scopes=["admin"], actor="t")
    principal = keys.authenticate(ctx, issued.secret)
    assert keys.authorize(ctx, principal, "lfs", "admin").audit_rate == pytest.approx(0.02)
    projects.update_settings(ctx, "lfs", audit_rate=0.5, actor="t")
    assert keys.authorize(ctx, principal, "lfs", "admin").audit_rate == 0.5
    row = registry.add_coder(ctx, projects.get_project(ctx, "lfs"), Coder.load(model_dir), source="cli", actor="t")
    registry.promote(ctx, "lfs", row.version, actor="t")
    assert keys.authorize(ctx, principal, "lfs", "admin").active_model_version == row.version
    keys.revoke_key(ctx, "lfs", issued.key.id, actor="t")
    with pytest.raises(RevokedKeyError):
        keys.authenticate(ctx, issued.secret)

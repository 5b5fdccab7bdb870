"""API keys: creation (secret shown once), authentication against a stored hash, revocation.

A key reads ``sc_<id>_<secret>``. The id is public (it names the key in lists and the audit
log); only SHA-256 of the secret is stored. The secret has 256 bits of entropy, so a plain
hash suffices (no password-stretching needed) and a lookup costs one indexed read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from statcoder.errors import InputError
from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.errors import (
    ExpiredKeyError,
    InvalidKeyError,
    MissingKeyError,
    NotFoundError,
    PermissionDeniedError,
    RevokedKeyError,
    shown_id,
)
from statcoder.store import utc, utcnow
from statcoder.store.projects import KeyRepository, ProjectRepository
from statcoder.store.tables import ApiKey, Project

SCOPES = ("admin", "code", "review")
PREFIX = "sc"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its project and its scopes."""

    key_id: str
    project_id: str
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        """Return the actor string written to the audit log."""
        return f"key:{self.key_id}"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key; ``secret`` is the full token, shown once and never stored."""

    key: ApiKey
    secret: str


def hash_secret(secret: str) -> str:
    """Return the hex SHA-256 of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_scopes(scopes: list[str] | tuple[str, ...]) -> str:
    """Return the scopes as a sorted comma-separated string; InputError for unknown scopes."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InputError(
            f"unknown or missing scope(s): {', '.join(unknown) or '(none)'}",
            where="scopes", hint=f"use one or more of {', '.join(SCOPES)}",
        )
    return ",".join(sorted(set(scopes)))


def issue_key(
    ctx: ServiceContext, project_id: str, *, scopes: list[str] | tuple[str, ...], name: str = "",
    expires_at: datetime | None = None, actor: str,
) -> IssuedKey:
    """Create a key for the project and record it in the audit log; returns it with its secret."""
    scope_text = normalise_scopes(scopes)
    if expires_at is not None and utc(expires_at) <= utcnow():
        raise InputError("the expiry time is in the past", where="expires_at", hint="give a future time")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with ctx.db.write() as session:
        if ProjectRepository(session).get(project_id) is None:
            raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
        key = KeyRepository(session).add(
            ApiKey(
                id=key_id, project_id=project_id, name=name, scopes=scope_text,
                secret_hash=hash_secret(secret), created_at=utcnow(), expires_at=utc(expires_at),
            )
        )
        record(session, project_id, actor=actor, action="key.create", target=key_id,
               details={"scopes": scope_text.split(","), "name": name,
                        "expires_at": utc(expires_at).isoformat() if expires_at else None})
    return IssuedKey(key=key, secret=f"{PREFIX}_{key_id}_{secret}")


def _parse(token: str | None) -> tuple[str, str]:
    if not token:
        raise MissingKeyError(
            "no API key given", hint="send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise InvalidKeyError("the API key is malformed", hint="keys look like sc_<id>_<secret>")
    return parts[1], parts[2]


def authenticate(ctx: ServiceContext, token: str | None, *, cached_only: bool = False) -> Principal | None:
    """Return the caller behind ``token``; raises an AuthenticationError subclass otherwise.

    With ``cached_only`` it never touches the store and returns None when the key row is not
    in the in-process cache (the caller then retries without it, off the event loop).
    """
    key_id, secret = _parse(token)
    key = ctx.auth_cache.get("key", key_id)
    if key is None:
        if cached_only:
            return None
        with ctx.db.read() as session:
            key = KeyRepository(session).get(key_id)
        ctx.auth_cache.put("key", key_id, key)
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        raise InvalidKeyError("the API key is not valid", hint="ask a project admin for a key")
    if key.revoked_at is not None:
        raise RevokedKeyError("the API key was revoked", hint="ask a project admin for a new key")
    if key.expires_at is not None and utc(key.expires_at) <= utcnow():
        raise ExpiredKeyError("the API key has expired", hint="ask a project admin for a new key")
    return Principal(key_id=key.id, project_id=key.project_id, scopes=frozenset(key.scopes.split(",")))


def authorize(
    ctx: ServiceContext, principal: Principal, project_id: str, scope: str | None, *,
    cached_only: bool = False,
) -> Project | None:
    """Return the project if the key belongs to it and has ``scope``.

    A key of another project gets NotFoundError, exactly as for a project that does not
    exist, so keys cannot probe which projects exist. ``scope=None`` accepts any scope.
    With ``cached_only``, returns None instead of reading the store on a cache miss.
    """
    if principal.project_id != project_id:
        raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
    if scope is not None and scope not in principal.scopes:
        raise PermissionDeniedError(
            f"this key lacks the '{scope}' scope", hint=f"use a key with the '{scope}' scope"
        )
    project = ctx.auth_cache.get("project", project_id)
    if project is None:
        if cached_only:
            return None
        with ctx.db.read() as session:
            project = ProjectRepository(session).get(project_id)
        ctx.auth_cache.put("project", project_id, project)
    if project is None:
        raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
    return project


def list_keys(ctx: ServiceContext, project_id: str) -> list[ApiKey]:
    """Return the project's keys (never their hashes to callers: see the API schema)."""
    with ctx.db.read() as session:
        return KeyRepository(session).for_project(project_id)


def revoke_key(ctx: ServiceContext, project_id: str, key_id: str, *, actor: str) -> ApiKey:
    """Revoke one of the project's keys and record it; NotFoundError for another project's key."""
    with ctx.db.write() as session:
        repo = KeyRepository(session)
        key = repo.get(key_id)
        if key is None or key.project_id != project_id:
            raise NotFoundError(f"key {shown_id(key_id)} not found", hint="list the project's keys")
        already = key.revoked_at is not None
        repo.revoke(key, utcnow())
        if not already:
            record(session, project_id, actor=actor, action="key.revoke", target=key_id)
    ctx.auth_cache.drop("key", key_id)
    return key

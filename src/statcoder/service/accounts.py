"""Workbench accounts: coders and supervisors, password sign-in, browser sessions.

Passwords are hashed with scrypt (``hashlib.scrypt``, RFC 7914; N=2**14, r=8, p=1, 16-byte
salt), stored as ``scrypt$N$r$p$salt$hash``. A session is a random 256-bit cookie value of
which only the SHA-256 is stored, with its own CSRF token and an expiry. A user sees only the
projects they were given (a membership with role ``coder`` or ``supervisor``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from statcoder.errors import InputError, StatcoderError
from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.errors import AuthenticationError, ConflictError, NotFoundError, shown_id
from statcoder.store import utc, utcnow
from statcoder.store.projects import ProjectRepository
from statcoder.store.tables import Project
from statcoder.store.workbench_tables import Membership, User, WebSession

ROLES = ("coder", "supervisor")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200
_N, _R, _P = 2**14, 8, 1


class SignInError(AuthenticationError):
    """Wrong user name or password (never says which)."""

    code = "sign_in_failed"


class SessionExpiredError(AuthenticationError):
    """The browser session is unknown or past its expiry."""

    code = "session_expired"


def hash_password(password: str) -> str:
    """Return the scrypt hash string of ``password`` (a fresh random salt each time)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    enc = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${enc(salt).decode()}${enc(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Return True when ``password`` matches the stored scrypt hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown user names against, so they cost the same work (made on first use)."""
    return hash_password(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> None:
    """Raise InputError (field ``password``) unless the password is 10..200 characters."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InputError(
            f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters", where="password",
            hint="use a long pass phrase",
        )


def check_username(username: str) -> str:
    """Return the user name stripped; InputError (field ``username``) when it is not allowed."""
    username = username.strip()
    if not USERNAME.match(username):
        raise InputError(
            "the user name must have 2-100 letters, digits, '.', '_', '@' or '-'", where="username",
            hint="e.g. a.smith",
        )
    return username


@dataclass(frozen=True)
class Account:
    """A signed-in user and the projects they may use (project id -> role)."""

    user_id: int
    username: str
    display_name: str
    roles: dict[str, str]

    @property
    def actor(self) -> str:
        """Return the actor string written to the audit log."""
        return f"user:{self.username}"

    def role(self, project_id: str) -> str | None:
        """Return the user's role in the project, or None when they have none."""
        return self.roles.get(project_id)


def create_account(
    ctx: ServiceContext, project_id: str, *, username: str, password: str | None, role: str,
    display_name: str = "", actor: str, colleagues_of: Collection[str] = (),
) -> User:
    """Give ``username`` the ``role`` in the project, creating the user when new.

    A new user needs a password (InputError otherwise). User names are shared by all projects,
    so an existing user is only ever *added*, never re-created: a password given for one is
    refused (ConflictError; it would be silently ignored and whoever created the name first
    would hold the account), and only a member of this project (a role change) or of one of
    ``colleagues_of`` (projects the caller supervises: a supervisor adds a colleague) may be
    added; any other existing name is "taken" (ConflictError), so one project's admin cannot
    pull another project's user - and their sign-in - into their project. Audited.
    """
    username = check_username(username)
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", where="role", hint="use coder or supervisor")
    with ctx.db.write() as session:
        if ProjectRepository(session).get(project_id) is None:
            raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is not None:
            _check_existing_user(session, user, project_id, password=password, colleagues_of=colleagues_of)
        if user is None:
            if not password:
                raise InputError("a new account needs a password", where="password",
                                 hint=f"give {MIN_PASSWORD} characters or more")
            check_password_rules(password)
            user = User(username=username, display_name=display_name.strip()[:200] or username,
                        password_hash=hash_password(password), created_at=utcnow())
            session.add(user)
            session.flush()
        member = session.get(Membership, (user.id, project_id))
        if member is not None and member.role == role:
            raise ConflictError(f"{username} is already a {role} of this project", where="username",
                                hint="choose another user name")
        _set_role(session, user, member, project_id, role, actor=actor)
    return user


def _check_existing_user(session: Any, user: User, project_id: str, *, password: str | None,
                         colleagues_of: Collection[str]) -> None:
    """ConflictError unless an existing user may be added to the project without a password."""
    projects = set(session.scalars(select(Membership.project_id).where(Membership.user_id == user.id)))
    if project_id not in projects and not projects & set(colleagues_of):
        raise ConflictError(f"the user name {user.username} is taken", where="username",
                            hint="choose another user name (user names are shared by all projects)")
    if password:
        raise ConflictError(f"{user.username} already has an account: its password is not changed here",
                            where="password", hint="leave the password empty to add the existing user")


def grant(ctx: ServiceContext, project_id: str, *, username: str, role: str, actor: str) -> None:
    """Give an existing user ``role`` in the project: the server operator's way to let one person
    work on several projects (user names are shared; a project's admin may not add another's
    users). NotFoundError for an unknown project or user. Audited."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", where="role", hint="use coder or supervisor")
    with ctx.db.write() as session:
        if ProjectRepository(session).get(project_id) is None:
            raise NotFoundError(f"project {shown_id(project_id)} not found", hint="check the project id")
        user = session.scalars(select(User).where(User.username == username.strip())).one_or_none()
        if user is None:
            raise NotFoundError(f"user {shown_id(username)} not found", hint="check the user name")
        _set_role(session, user, session.get(Membership, (user.id, project_id)), project_id, role, actor=actor)


def _set_role(session: Any, user: User, member: Membership | None, project_id: str, role: str, *, actor: str) -> None:
    """Give ``user`` the ``role`` in the project (a new membership, or ``member``'s role changed); audited."""
    if member is None:
        session.add(Membership(user_id=user.id, project_id=project_id, role=role, created_at=utcnow()))
    else:
        member.role = role
    record(session, project_id, actor=actor, action="account.grant", target=user.username, details={"role": role})


def set_password(ctx: ServiceContext, username: str, password: str) -> None:
    """Replace a user's password and end their sessions."""
    check_password_rules(password)
    with ctx.db.write() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            raise NotFoundError(f"user {shown_id(username)} not found", hint="check the user name")
        user.password_hash = hash_password(password)
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def members(ctx: ServiceContext, project_id: str) -> list[tuple[User, str]]:
    """Return the project's users with their roles, by user name."""
    with ctx.db.read() as session:
        rows = session.execute(
            select(User, Membership.role).join(Membership, Membership.user_id == User.id)
            .where(Membership.project_id == project_id).order_by(User.username)
        ).all()
    return [(u, r) for u, r in rows]


class SignInThrottledError(StatcoderError):
    """Too many sign-in attempts (from this client, for this name, or for the process): wait."""

    code = "too_many_requests"


class SignInThrottle:
    """Bounds password checks per process, before any scrypt work is done.

    * a client (address) gets ``per_client`` failed sign-ins per ``window_s``, and a user name
      ``per_pair`` from one client: guessing stops there (a lock per name alone would let anyone
      lock a colleague out);
    * the process checks at most ``rate`` passwords per second (burst ``burst``): a scrypt check
      costs ~50 ms of a core, so a flood of sign-ins cannot take the CPU other projects' coding
      requests need.
    """

    def __init__(self, *, per_client: int = 20, per_pair: int = 5, window_s: float = 900.0, rate: float = 4.0,
                 burst: float = 8.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.per_pair, self.window_s = per_client, per_pair, window_s
        self.rate, self.burst, self._clock = rate, burst, clock
        self._failures: dict[tuple[str, str], list[float]] = {}  # (client, name or "") -> failure times
        self._tokens, self._seen = burst, clock()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, ()) if t > now - self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def check(self, client: str, username: str) -> None:
        """SignInThrottledError when this attempt may not be checked now; else takes a token."""
        with self._lock:
            now = self._clock()
            if len(self._recent((client, ""), now)) >= self.per_client or (
                    len(self._recent((client, username), now)) >= self.per_pair):
                raise SignInThrottledError(
                    "too many failed sign-ins from here", where="password",
                    hint=f"wait {self.window_s / 60:.0f} minutes, or ask the operator to reset your password")
            self._tokens = min(self.burst, self._tokens + (now - self._seen) * self.rate)
            self._seen = now
            if self._tokens < 1:
                raise SignInThrottledError("the server is busy with sign-ins", where="password",
                                           hint="try again in a few seconds")
            self._tokens -= 1

    def failed(self, client: str, username: str) -> None:
        """Count a failed sign-in of ``username`` from ``client``."""
        with self._lock:
            now = self._clock()
            if len(self._failures) > 10_000:  # forget old entries (a flood of addresses)
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window_s}
            for key in ((client, ""), (client, username)):
                self._failures.setdefault(key, []).append(now)


def sign_in(ctx: ServiceContext, username: str, password: str, *, client: str = "",
            throttle: SignInThrottle | None = None) -> tuple[str, WebSession]:
    """Check the password and open a session; returns (cookie value, session row).

    SignInError for a wrong name or password alike (the same work is done either way);
    SignInThrottledError, before any password work, past the ``throttle``'s bounds for ``client``.
    """
    username = username.strip()
    if throttle is not None:
        throttle.check(client, username)
    with ctx.db.read() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
    stored = user.password_hash if user is not None else _dummy_hash()
    ok = verify_password(password, stored) and user is not None and user.disabled_at is None
    if not ok:
        if throttle is not None:
            throttle.failed(client, username)
        raise SignInError("wrong user name or password", where="password",
                          hint="ask the operator to reset it")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSession(
        token_hash=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id,
        csrf_token=secrets.token_urlsafe(32), created_at=now,
        expires_at=now + timedelta(hours=ctx.settings.session_hours),
    )
    with ctx.db.write() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(row)
    return token, row


def session_account(ctx: ServiceContext, token: str | None) -> tuple[Account, WebSession]:
    """Return the account and session behind a cookie value; SessionExpiredError otherwise."""
    if not token or len(token) > 200:
        raise SessionExpiredError("you are not signed in", hint="sign in again")
    digest = hashlib.sha256(token.encode()).hexdigest()
    with ctx.db.read() as session:
        row = session.get(WebSession, digest)
        if row is None or utc(row.expires_at) <= utcnow():
            raise SessionExpiredError("your session has ended", hint="sign in again")
        user = session.get(User, row.user_id)
        if user is None or user.disabled_at is not None:
            raise SessionExpiredError("your account is disabled", hint="ask your supervisor")
        roles = dict(session.execute(
            select(Membership.project_id, Membership.role).where(Membership.user_id == user.id)
        ).all())
    return Account(user.id, user.username, user.display_name, roles), row


def sign_out(ctx: ServiceContext, token: str | None) -> None:
    """End the session behind the cookie value (nothing happens for an unknown one)."""
    if not token:
        return
    digest = hashlib.sha256(token.encode()).hexdigest()
    with ctx.db.write() as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == digest))


def check_csrf(row: WebSession, submitted: str | None) -> bool:
    """Return True when the form's token is the session's (constant-time compare)."""
    return bool(submitted) and hmac.compare_digest(row.csrf_token.encode(), str(submitted).encode())


def projects_of(ctx: ServiceContext, account: Account) -> list[tuple[Project, str]]:
    """Return the projects the account may use, with its role in each, by id."""
    with ctx.db.read() as session:
        repo = ProjectRepository(session)
        found = [(repo.get(pid), role) for pid, role in sorted(account.roles.items())]
    return [(p, r) for p, r in found if p is not None]

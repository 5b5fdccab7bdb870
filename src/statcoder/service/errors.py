"""Errors of the service use cases. Each is a StatcoderError; the API maps the class to a status."""

from __future__ import annotations

import re

from statcoder.errors import ModelFileError, StatcoderError


class NotFoundError(StatcoderError):
    """The resource does not exist, or belongs to another project (indistinguishable on purpose)."""

    code = "not_found"


class AuthenticationError(StatcoderError):
    """No usable API key was presented."""

    code = "unauthenticated"


class MissingKeyError(AuthenticationError):
    """The request carries no API key."""

    code = "missing_key"


class InvalidKeyError(AuthenticationError):
    """The API key is malformed or unknown."""

    code = "invalid_key"


class ExpiredKeyError(AuthenticationError):
    """The API key is past its expiry time."""

    code = "expired_key"


class RevokedKeyError(AuthenticationError):
    """The API key was revoked."""

    code = "revoked_key"


class PermissionDeniedError(StatcoderError):
    """The key is valid but lacks the scope the route needs."""

    code = "forbidden"


class PathNotAllowedError(PermissionDeniedError):
    """A server-side path outside the allowed job directories."""

    code = "path_not_allowed"


class ConflictError(StatcoderError):
    """The request conflicts with the resource's state (already claimed, not finished...)."""

    code = "conflict"


class NoActiveModelError(ConflictError):
    """The project has no active model yet."""

    code = "no_active_model"


class PurgedError(ConflictError):
    """The data was deleted by the project's retention policy."""

    code = "purged"


class PayloadTooLargeError(StatcoderError):
    """The request or file exceeds a configured size limit."""

    code = "payload_too_large"


class ClassificationMismatchError(ModelFileError):
    """A model was trained for another classification than the project's."""

    code = "classification_mismatch"


_PLAIN_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


def shown_id(value: object) -> str:
    """Return an id for an error message ("job {shown_id(x)} not found"): quoted when it looks like an
    id, else "with that id" (a client may send free text where an id belongs; messages never echo it)."""
    text = str(value)
    return repr(text) if _PLAIN_ID.fullmatch(text) else "with that id"

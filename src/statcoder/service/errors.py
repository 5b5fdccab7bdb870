"""Errors of the service use cases. Each is a StatcoderError; the API maps the class to a status."""

from __future__ import annotations

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

"""The StatcoderError hierarchy: every error a user can cause and fix.

Each error carries a ``message`` (what was wrong), ``where`` (file, row, column or field)
and a ``hint`` (what to do). Domain code raises these; the CLI prints them as
``error: <message> (<where>)`` / ``hint: <hint>`` with exit code 2, and the API maps the
class to an HTTP status with ``{"error": {"code", "message", "hint"}}``.
"""

from __future__ import annotations


class StatcoderError(Exception):
    """Base for every error a user can cause and fix."""

    #: short machine-readable identifier used by the API error body
    code: str = "statcoder_error"

    def __init__(self, message: str, *, hint: str = "", where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def __str__(self) -> str:
        text = self.message
        if self.where:
            text += f" ({self.where})"
        if self.hint:
            text += f"; hint: {self.hint}"
        return text


class InputError(StatcoderError, ValueError):
    """Input data cannot be read or has the wrong shape (missing column, bad type...).

    Also a ``ValueError``, as scikit-learn's conventions expect of bad input to ``fit``.
    """

    code = "invalid_input"


class ClassificationError(StatcoderError):
    """A classification file is malformed (duplicate codes, missing parents, cycles...)."""

    code = "invalid_classification"


class UnknownCodeError(StatcoderError):
    """Codes that are not in the classification."""

    code = "unknown_code"


class IndexConflictError(StatcoderError):
    """The exact-match index maps one normalised text to more than one code."""

    code = "index_conflict"


class ModelFileError(StatcoderError):
    """A model directory is missing, tampered with, of another format or an incompatible version."""

    code = "invalid_model"


class NotFittedError(StatcoderError):
    """An estimator or monitor was used before it was fitted."""

    code = "not_fitted"


class ConfigurationError(StatcoderError, ValueError):
    """A setting or option has a value that cannot work (also a ``ValueError``)."""

    code = "invalid_configuration"


class EstimationError(StatcoderError):
    """A survey design or estimator cannot be computed from the data given."""

    code = "estimation_error"

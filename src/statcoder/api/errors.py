"""Translation of errors into HTTP responses ``{"error": {"code", "message", "hint"}}``.

StatcoderError subclasses map to a status by class (the most specific class in the table
wins); validation errors never echo the submitted values (they may be personal free text);
anything else is a 500 whose log line names the exception type and code location only.
"""

from __future__ import annotations

import logging
import re
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from statcoder import errors as core
from statcoder.io.archive_limits import ArchiveTooLargeError
from statcoder.service import errors as svc

log = logging.getLogger("statcoder.api")

STATUS_BY_CLASS: dict[type[core.StatcoderError], int] = {
    svc.NotFoundError: 404,
    svc.AuthenticationError: 401,
    svc.PermissionDeniedError: 403,
    svc.ConflictError: 409,
    svc.PurgedError: 410,
    svc.PayloadTooLargeError: 413,
    ArchiveTooLargeError: 413,
    core.NotFittedError: 409,
    core.InputError: 422,
    core.ClassificationError: 422,
    core.UnknownCodeError: 422,
    core.IndexConflictError: 422,
    core.ModelFileError: 422,
    core.ConfigurationError: 422,
    core.EstimationError: 422,
    core.StatcoderError: 400,
}

HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests",
    408: "request_timeout", 410: "gone", 503: "unavailable",
}


def status_for(exc: core.StatcoderError) -> int:
    """Return the HTTP status of a StatcoderError: the entry of its nearest class in the table."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 400


def error_response(status: int, code: str, message: str, hint: str = "", headers: dict | None = None) -> JSONResponse:
    """Return the JSON error response."""
    return JSONResponse(
        {"error": {"code": code, "message": message, "hint": hint}}, status_code=status, headers=headers
    )


# An absolute path with at least two components (``/srv/data/x.csv``); route names such as
# ``/docs`` have one and stay.
SERVER_PATH = re.compile(r"(?<![\w/.~-])/(?:[^\s'\"(),;:/]+/)+([^\s'\"(),;:/]*)")


def without_server_paths(text: str) -> str:
    """Return ``text`` with absolute file paths cut to their last component (``/srv/a/b.csv`` -> ``b.csv``)."""
    return SERVER_PATH.sub(lambda m: m.group(1) or "(directory)", text)


def _statcoder(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, core.StatcoderError)
    status = status_for(exc)
    message = f"{exc.message} ({exc.where})" if exc.where else exc.message
    message = without_server_paths(message)  # domain errors name files by path; clients see names
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, message, exc.hint, headers)


JSON_HINT = "send a JSON object (UTF-8) with Content-Type: application/json"


def _content_type(request: Request) -> str:
    """The request's media type, lower case, without parameters ("" when none was sent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json_type(content_type: str) -> bool:
    """True for ``application/json`` and the ``+json`` types (not for ``application/jsonx``)."""
    return content_type == "application/json" or (content_type.startswith("application/")
                                                  and content_type.endswith("+json"))


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return error_response(400, "malformed_json", "the request body is not valid JSON", JSON_HINT)
    if any(p.get("type") == "string_unicode" for p in problems):
        return _bad_text(request, exc)  # a lone surrogate, caught by the schema: the same answer
    content_type = _content_type(request)
    if content_type and not is_json_type(content_type) and any(tuple(p.get("loc", ())) == ("body",) for p in problems):
        # FastAPI reads a body of another content type as bytes and reports a type error
        return error_response(415, "unsupported_media_type", f"the request body is {content_type}, not JSON",
                              JSON_HINT)
    problems = _one_per_field_value(problems)
    shown = []
    for p in problems[:5]:
        where = ".".join(str(part) for part in p.get("loc", ()))
        shown.append(f"{where}: {p.get('msg', 'invalid')}")  # p["input"] deliberately left out
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return error_response(422, "invalid_request", "; ".join(shown) + more,
                          "check the request against the OpenAPI schema at /openapi.json")


#: the members of a record's field value (``schemas.FieldValue``) as pydantic names them in a location
_FIELD_VALUE_MEMBERS = {"str", "int", "float", "bool"}


def _one_per_field_value(problems: list[dict]) -> list[dict]:
    """Return the problems with the failures of one field value against every member of its
    union (text, integer, number, boolean) folded into one: what the value must be."""
    folded: list[dict] = []
    seen: dict[tuple, dict] = {}
    for p in problems:
        loc = tuple(p.get("loc", ()))
        if len(loc) < 2 or loc[-1] not in _FIELD_VALUE_MEMBERS:
            folded.append(p)
            continue
        where = loc[:-1]
        finite = p.get("type") == "finite_number"
        if where in seen:
            seen[where]["finite"] = seen[where]["finite"] or finite
            continue
        seen[where] = {"loc": where, "finite": finite}
        folded.append(seen[where])
    for p in seen.values():
        p["msg"] = ("must be a finite number (NaN and infinities are not accepted)" if p.pop("finite")
                    else "must be text, a number, true/false or null")
    return folded


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # the framework could not parse the body
        content_type = _content_type(request)
        if "json" in content_type:  # e.g. not UTF-8
            return error_response(400, "malformed_json", "the request body could not be read as JSON", JSON_HINT)
        return error_response(400, "bad_request", "the request body could not be parsed",
                              f"send a well-formed {content_type or 'request'} body")
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    hint = "see /docs for the routes" if exc.status_code in (404, 405) else ""
    return error_response(exc.status_code, code, message, hint, getattr(exc, "headers", None))


def _unstorable(_: Request, exc: Exception) -> JSONResponse:
    # e.g. a NUL character PostgreSQL cannot store in text: the value is the client's mistake
    return error_response(422, "invalid_input", "a value in the request cannot be stored",
                          "remove control characters such as NUL from the values")


def _bad_text(_: Request, exc: Exception) -> JSONResponse:
    # A lone surrogate (valid as a JSON escape, not in UTF-8) anywhere in the request.
    return error_response(422, "invalid_input", "a value in the request is not valid Unicode text",
                          "send UTF-8 text; remove unpaired surrogate escapes (\\ud800-\\udfff)")


RETRY_AFTER_S = 5


def _store_busy(_: Request, exc: Exception) -> JSONResponse:
    # Locked past the busy timeout, pool exhausted, or the database unreachable: try again later.
    log.warning("store unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
    return error_response(503, "store_unavailable", "the database is busy or unreachable",
                          f"retry after {RETRY_AFTER_S} seconds", headers={"Retry-After": str(RETRY_AFTER_S)})


def where_it_failed(exc: BaseException, frames: int = 3) -> str:
    """Return the innermost code locations of ``exc`` as ``file:line in function`` (no source, no message)."""
    stack = traceback.extract_tb(exc.__traceback__)[-frames:]
    return " <- ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(stack))


def _short(filename: str) -> str:
    marker = "/statcoder/"
    return filename[filename.rindex(marker) + 1:] if marker in filename else filename.rsplit("/", 1)[-1]


def log_unexpected(exc: BaseException, method: str, route: str) -> None:
    """Log a server fault: exception type and code location only (its message could quote a text)."""
    log.error("unhandled %s on %s %s at %s", type(exc).__name__, method, route, where_it_failed(exc))


def internal_error_body() -> dict:
    """Return the JSON body of a 500."""
    return {"error": {"code": "internal_error", "message": "the server failed to handle the request",
                      "hint": "retry later; if it persists, report it to the operators with the time"}}


HANDLERS: tuple[tuple[type[BaseException], object], ...] = (
    (core.StatcoderError, _statcoder),
    (RequestValidationError, _validation),
    (StarletteHTTPException, _http),
    (DataError, _unstorable),
    (UnicodeError, _bad_text),
    (OperationalError, _store_busy),
    (PoolTimeoutError, _store_busy),
)


def response_for(exc: BaseException) -> JSONResponse | None:
    """Return the error response the app's handlers give ``exc`` (None: not handled, a 500).

    For code that runs outside FastAPI's exception middleware (the ``POST /code`` fast path).
    """
    for cls in type(exc).__mro__:
        for handled, handler in HANDLERS:
            if cls is handled:
                return handler(None, exc)  # type: ignore[operator]
    return None


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    for cls, handler in HANDLERS:
        app.add_exception_handler(cls, handler)  # type: ignore[arg-type]
    # Other exceptions are caught by api.middleware.CatchAll: logged without message, answered
    # with a JSON 500, and never re-raised to the server (which would log the full traceback).

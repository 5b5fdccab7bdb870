"""A lean path for the common case of ``POST /v1/projects/{id}/code``.

FastAPI's routing (matching ~100 routes), dependency solving and request wrapping cost more
CPU per 1-record request than the service's own work. This ASGI middleware sits inside the
app's other middleware (size and body-time limits, metrics, the last-resort 500) and answers
``POST /code`` itself when the request is the ordinary case:

* the key is valid for the project with the ``code`` scope (key and project rows come from
  the in-process cache of ``service.auth_cache``, or from the store off the event loop);
* the body is JSON (no or a JSON Content-Type) that ``orjson`` parses and the route's own
  ``CodeRequest`` model validates.

Anything else - a missing, bad or revoked key, malformed JSON, a validation error -
is handed, with the body already read, to the FastAPI route, which answers exactly as it
would have (the route and its OpenAPI description stay the reference). Both paths do the
work through :func:`statcoder.api.routers.coding.answer`; errors raised while coding are
answered by the app's own handlers (:func:`statcoder.api.errors.response_for`).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from statcoder.api.errors import response_for
from statcoder.api.routers import coding as route
from statcoder.api.schemas import CodeRequest
from statcoder.service.context import ServiceContext
from statcoder.service.keys import authenticate, authorize

CODE_PATH = re.compile(r"/v1/projects/([^/]{1,64})/code")
JSON_TYPES = (b"application/json",)


def _token(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bytes | None]:
    """Return (API key as the route's dependencies read it, Content-Type)."""
    bearer = header_key = content_type = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, param = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and param.strip():
                bearer = param.strip()
        elif name == b"x-api-key":
            header_key = value.decode("latin-1")
        elif name == b"content-type":
            content_type = value
    return bearer if bearer is not None else header_key, content_type


def _json_content(content_type: bytes | None) -> bool:
    if content_type is None:
        return True
    main = content_type.split(b";", 1)[0].strip().lower()
    return main in JSON_TYPES or (main.startswith(b"application/") and main.endswith(b"+json"))


class FastCode:
    """Serve the ordinary ``POST /code`` request directly; hand everything else to ``app``."""

    def __init__(self, app: Any, *, context: ServiceContext) -> None:
        self.app = app
        self.ctx = context
        # the route object FastAPI would put in the scope (the metrics read its path template)
        self.route = next(r for r in route.router.routes if getattr(r, "path", None) == route.PATH)
        self.served = 0  # requests answered here (the rest went to the route); read by tests
        self.enabled = True  # False: every request goes to the route (tests compare the two)

    async def _project(self, token: str, project_id: str) -> Any:
        """Return the project the key may code for; reads the store (off the loop) on a cache miss."""
        ctx = self.ctx
        principal = authenticate(ctx, token, cached_only=True)
        if principal is None:
            principal = await run_in_threadpool(authenticate, ctx, token)
        project = authorize(ctx, principal, project_id, "code", cached_only=True)
        if project is None:
            project = await run_in_threadpool(authorize, ctx, principal, project_id, "code")
        return project

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not self.enabled:
            await self.app(scope, receive, send)
            return
        matched = CODE_PATH.fullmatch(scope["path"])
        if matched is None:
            await self.app(scope, receive, send)
            return
        token, content_type = _token(scope["headers"])
        project = None
        if token is not None and _json_content(content_type):
            try:
                project = await self._project(token, matched.group(1))
            except Exception:  # noqa: BLE001 - the route gives the proper error
                project = None
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        body = None
        if project is not None:
            try:
                body = CodeRequest.model_validate(orjson.loads(raw))
            except (orjson.JSONDecodeError, ValidationError, TypeError, ValueError):
                body = None
            if body is not None and _maybe_big_integer(body):
                body = None  # the route's parser keeps an integer past 64 bits exact
        if body is None:
            await self.app(scope, _replay(raw, receive), send)
            return
        self.served += 1
        scope["route"] = self.route  # the metrics label the request by its route template
        try:
            payload = await route.answer(self.ctx, project, body, connection=scope.get("client"))
        except Exception as exc:
            response = response_for(exc)
            if response is None:
                raise  # api.middleware.CatchAll answers 500 and logs type and location only
            await response(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def _maybe_big_integer(body: CodeRequest) -> bool:
    """True when a value may be an integer too large for 64 bits: orjson reads one as a float
    (``10**25`` -> ``1e+25``) where the route's parser keeps every digit; such a request goes
    to the route so that both answer alike."""
    return any(type(v) is float and not -BIG_FLOAT < v < BIG_FLOAT for r in body.records for v in r.values())


#: floats at least this large may have been integers beyond 64 bits in the request (2**64)
BIG_FLOAT = 18446744073709551616.0


def _replay(raw: bytes, receive: Any) -> Any:
    """Return a ``receive`` that yields the body already read, then defers to the original."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay

"""Pure ASGI middleware: request-size limit, Prometheus request metrics."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from statcoder.service.metrics import ServiceMetrics

UPLOAD_PATHS = ("/jobs", "/models", "/models/train", "/monitoring")


def _error(status: int, code: str, message: str, hint: str) -> tuple[dict, bytes]:
    body = json.dumps({"error": {"code": code, "message": message, "hint": hint}}).encode()
    start = {
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, body


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


class LimitBodySize:
    """Refuse bodies over the limit with 413: by Content-Length up front, else while streaming.

    File-upload routes (job creation, model upload and training, monitoring runs) get the larger upload limit.
    """

    def __init__(self, app: Any, *, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request = max_request_bytes
        self.max_upload = max_upload_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if scope["path"].rstrip("/").endswith(UPLOAD_PATHS) else self.max_request
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False
            if too_big:
                await self._reject(send, limit)
                return
        seen = 0
        exceeded = False
        started = False

        async def limited_receive() -> dict:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: dict) -> None:
            # Whatever the app answers to a body cut short (FastAPI says 400), the client gets 413.
            nonlocal started
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._reject(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, limit)

    @staticmethod
    async def _reject(send: Any, limit: int) -> None:
        start, body = _error(
            413, "payload_too_large", f"the request body exceeds {limit} bytes",
            "send less data per request, or create a job for large files",
        )
        await send(start)
        await send({"type": "http.response.body", "body": body})


class CatchAll:
    """Answer any exception the app did not handle with a JSON 500, logged by type and location.

    Starlette's own last-resort handler re-raises after answering, so the server would log the
    full traceback with the exception's message (which could quote a record) and drop the
    keep-alive connection; this middleware keeps both from happening.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last resort: log safely, answer 500
            from statcoder.api.errors import internal_error_body, log_unexpected

            route = getattr(scope.get("route"), "path", None) or "unmatched"
            log_unexpected(exc, scope.get("method", "?"), route)
            if not started:
                body = json.dumps(internal_error_body()).encode()
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})


class ClientTooSlow(Exception):
    """Raised from ``receive`` when the client pauses too long inside a request body."""


class BodyTimeout:
    """Answer 408 (and close) when a client pauses longer than ``seconds`` inside a request body.

    Only the body is timed: once it is complete, ``receive`` (which also reports disconnects
    during long responses) is passed through untouched.
    """

    def __init__(self, app: Any, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        timed_out = False
        started = False

        async def timed_receive() -> dict:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except TimeoutError:
                timed_out = True
                raise ClientTooSlow() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def reject() -> None:
            nonlocal started
            started = True
            start, body = _error(408, "request_timeout", "the request body came too slowly",
                                 "send the body without long pauses")
            start["headers"].append((b"connection", b"close"))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        async def guarded_send(message: dict) -> None:
            # Whatever the app answers to a body cut short (FastAPI says 400), the client gets 408.
            nonlocal started
            if timed_out:
                if message["type"] == "http.response.start" and not started:
                    await reject()
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except ClientTooSlow:
            if not started:
                await reject()


class RequestMetrics:
    """Count requests and time them, labelled by route template (never by raw path)."""

    def __init__(self, app: Any, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(time.perf_counter() - started)

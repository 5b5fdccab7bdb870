"""uvicorn's httptools HTTP protocol with a request-header deadline (slow-client protection).

uvicorn closes idle keep-alive connections, but a client that opens a connection and sends
its headers a byte at a time (slowloris) is never cut. Here each request's headers must be
complete within ``header_timeout`` seconds of the connection or of the request's first
byte, else the server answers 408 and closes the connection. (Bodies have their own
deadline: :class:`statcoder.api.middleware.BodyTimeout`.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_BODY_408 = (b'{"error":{"code":"request_timeout","message":"the request headers came too slowly",'
             b'"hint":"send the request head at once (check the client or proxy for stalls)"}}\n')
REQUEST_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_BODY_408)).encode() + b"\r\n\r\n" + _BODY_408
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that cuts connections whose request headers take too long."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.write(REQUEST_TIMEOUT_408)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def timeout_keep_alive_handler(self) -> None:
        self._disarm()
        super().timeout_keep_alive_handler()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # idle between requests is the keep-alive timeout's business


def protocol_with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """Return the protocol class with ``seconds`` as its header deadline (uvicorn's ``http=``)."""
    return type("StatcoderHttpProtocol", (HeaderTimeoutProtocol,), {"header_timeout": float(seconds)})

"""Slow clients are cut: request headers and bodies have deadlines (issue 15). Real server, real sockets."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import uvicorn

from statcoder.api.app import create_app
from statcoder.api.protocol import HeaderTimeoutProtocol


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    from statcoder.service.settings import ServiceSettings

    settings = ServiceSettings(data_dir=tmp_path / "data", job_worker=False, header_timeout_seconds=0.5,
                               body_timeout_seconds=0.5)
    port = _free_port()
    protocol = type("P", (HeaderTimeoutProtocol,), {"header_timeout": settings.header_timeout_seconds})
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, http=protocol, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(300):
        if srv.started:
            break
        time.sleep(0.02)
    yield port
    srv.should_exit = True
    thread.join(10)


def _read_all(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data + b"<timeout>"
        if not chunk:
            return data
        data += chunk


def test_headers_sent_too_slowly_get_408_and_the_connection_closed(server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # ... and the rest never comes
        started = time.monotonic()
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408") and answer.endswith(b"}\n"), answer
    assert time.monotonic() - started < 4
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["code"] == "request_timeout" and error["hint"]  # what to do, as every error says


def test_a_silent_connection_is_cut_too(server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        assert _read_all(sock).startswith(b"HTTP/1.1 408")


def test_a_body_paused_too_long_gets_408(server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"POST /v1/projects/alpha/code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"records\"")
        answer = _read_all(sock)
    assert b" 408 " in answer.split(b"\r\n", 1)[0] and b"request_timeout" in answer, answer


def test_a_normal_client_on_a_kept_alive_connection_is_not_cut(server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        for _ in range(3):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.7)  # idle longer than the header deadline, shorter than keep-alive

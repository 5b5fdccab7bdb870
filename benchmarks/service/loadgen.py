"""Lean load generator for the service benchmark: raw HTTP/1.1 keep-alive sockets on loopback.

    python loadgen.py single --url URL --key KEY --texts FILE --concurrency 50 --duration 20 [--think 1.0]
    python loadgen.py batch  --url URL --key KEY --texts FILE --batch 100 --requests 60

The load generator shares the machine's cores with the server, so it must cost little per
request: each process drives its connections from one ``selectors`` loop, writes
pre-encoded requests and reads answers by ``Content-Length`` (no HTTP library, no asyncio).
``--processes P`` splits the clients over P processes. Prints one JSON object: requests,
errors, latency percentiles (ms), throughput.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import selectors
import socket
import time
from urllib.parse import urlsplit


def percentiles(latencies: list[float]) -> dict[str, float]:
    """Return p50/p95/p99/max of latencies given in seconds, in milliseconds (nearest rank)."""
    if not latencies:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    ordered = sorted(latencies)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))] * 1000

    return {"p50_ms": rank(0.50), "p95_ms": rank(0.95), "p99_ms": rank(0.99), "max_ms": ordered[-1] * 1000}


class Target:
    """Where requests go: host, port and the request head (path, key) for ``POST <path>/code``."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path.rstrip("/") + "/code"
        self.head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nX-API-Key: {key}\r\n"
                     "Content-Type: application/json\r\n").encode()

    def request(self, body: bytes) -> bytes:
        """Return the bytes of one keep-alive request carrying ``body``."""
        return self.head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body

    def connect(self) -> socket.socket:
        """Return a connected TCP socket (Nagle off: each request is one write)."""
        sock = socket.create_connection((self.host, self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


class Answer:
    """Incremental parser of one HTTP/1.1 response with a Content-Length."""

    def __init__(self) -> None:
        self.buffer = b""
        self.status = 0
        self.length = -1
        self.head_end = -1

    def feed(self, data: bytes) -> bool:
        """Add received bytes; True once the whole response is in ``self.body``."""
        self.buffer += data
        if self.head_end < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            self.head_end = end + 4
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            self.status = int(head[0].split(" ", 2)[1])
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    self.length = int(value)
            if self.length < 0:
                raise RuntimeError("answer without Content-Length")
        return len(self.buffer) - self.head_end >= self.length

    @property
    def body(self) -> bytes:
        return self.buffer[self.head_end : self.head_end + self.length]


def _body(rng: random.Random, texts: list[str], n: int) -> bytes:
    return json.dumps({"records": [{"id": str(rng.random()), "text": rng.choice(texts)} for _ in range(n)]}).encode()


def closed_loop(url: str, key: str, texts: list[str], clients: int, duration: float, seed: int,
                records: int = 1, think: float = 0.0) -> dict:
    """``clients`` connections in one selectors loop, each sending a request as soon as the last answered.

    With ``think > 0`` each client pauses an exponential time of that mean (s) between an answer
    and its next request. Returns latencies (s), status counts and the elapsed time.
    """
    target = Target(url, key)
    rng = random.Random(seed)
    sel = selectors.DefaultSelector()
    state: dict[socket.socket, list] = {}
    sleeping: list[tuple[float, socket.socket]] = []  # (when to send, socket), for think time

    def send(sock: socket.socket) -> None:
        state[sock] = [time.perf_counter(), Answer()]
        sock.sendall(target.request(_body(rng, texts, records)))

    for _ in range(clients):
        sock = target.connect()
        sel.register(sock, selectors.EVENT_READ)
        send(sock)
    started = time.perf_counter()
    stop_at = started + duration
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def close(sock: socket.socket) -> None:
        sel.unregister(sock)
        sock.close()
        del state[sock]

    while state:
        now = time.perf_counter()
        for due in [s for s in sleeping if s[0] <= now]:
            sleeping.remove(due)
            send(due[1])
        timeout = max(0.0, min(s[0] for s in sleeping) - now) if sleeping else 60
        for event, _ in sel.select(timeout=timeout):
            sock = event.fileobj
            sent, answer = state[sock]
            data = sock.recv(262144)
            if not data:
                errors["closed"] = errors.get("closed", 0) + 1
                close(sock)
                continue
            if not answer.feed(data):
                continue
            now = time.perf_counter()
            if answer.status == 200:
                latencies.append(now - sent)
            else:
                errors[str(answer.status)] = errors.get(str(answer.status), 0) + 1
            if now >= stop_at:
                close(sock)
            elif think > 0:
                sleeping.append((now + rng.expovariate(1 / think), sock))
            else:
                send(sock)
    return {"latencies": latencies, "errors": errors, "elapsed_s": time.perf_counter() - started}


def _worker(args: tuple) -> dict:
    return closed_loop(*args)


def single(args: argparse.Namespace, texts: list[str]) -> dict:
    """``concurrency`` closed-loop clients sending 1-record requests, split over ``processes``."""
    processes = max(1, min(args.processes, args.concurrency))
    shares = [args.concurrency // processes + (i < args.concurrency % processes) for i in range(processes)]
    jobs = [(args.url, args.key, texts, n, args.duration, args.seed * 1000 + i, 1, args.think)
            for i, n in enumerate(shares)]
    if processes == 1:
        parts = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            parts = pool.map(_worker, jobs)
    latencies = [x for p in parts for x in p["latencies"]]
    errors: dict[str, int] = {}
    for p in parts:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
    elapsed = max(p["elapsed_s"] for p in parts)
    out = {"requests": len(latencies) + sum(errors.values()), "ok": len(latencies), "errors": errors,
           "elapsed_s": elapsed, "requests_per_s": len(latencies) / elapsed, **percentiles(latencies)}
    if args.latencies:  # every answered request's latency (ms), for percentiles over several runs
        out["latencies_ms"] = [round(x * 1000, 4) for x in latencies]
    return out


def batch_bodies(texts: list[str], batch: int, requests: int, seed: int) -> list[bytes]:
    """Return the JSON bodies of ``requests`` requests of ``batch`` records (texts drawn with ``seed``).

    The benchmark codes exactly these texts with ``Coder.code`` as the reference rate.
    """
    rng = random.Random(seed)
    return [_body(rng, texts, batch) for _ in range(requests)]


def batch(args: argparse.Namespace, texts: list[str]) -> dict:
    """Sequential requests of ``batch`` records each; throughput in records per second.

    The requests are encoded before the clock starts and the answers decoded and checked (one
    record per record sent, in order) after it stops: the client's own JSON work is not the
    service's, and on this shared machine it would otherwise be counted against it.
    """
    target = Target(args.url, args.key)
    bodies = batch_bodies(texts, args.batch, args.requests, args.seed)
    payloads = [target.request(body) for body in bodies]
    sock = target.connect()
    latencies, answers = [], []
    started = time.perf_counter()
    for payload in payloads:
        t0 = time.perf_counter()
        sock.sendall(payload)
        answer = Answer()
        while not answer.feed(sock.recv(1 << 20)):
            pass
        latencies.append(time.perf_counter() - t0)
        answers.append(answer)
    elapsed = time.perf_counter() - started
    sock.close()
    ok = []
    for body, answer, latency in zip(bodies, answers, latencies, strict=True):
        sent = [r["id"] for r in json.loads(body)["records"]]
        if answer.status == 200 and [r["id"] for r in json.loads(answer.body)["records"]] == sent:
            ok.append(latency)
    errors = args.requests - len(ok)
    out = {"requests": args.requests, "errors": errors, "elapsed_s": elapsed,
           "records_per_s": len(ok) * args.batch / elapsed, **percentiles(ok)}
    if args.latencies:
        out["latencies_ms"] = [round(x * 1000, 4) for x in ok]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["single", "batch"])
    parser.add_argument("--url", required=True, help="project base URL, e.g. http://127.0.0.1:8000/v1/projects/p")
    parser.add_argument("--key", required=True)
    parser.add_argument("--texts", required=True, help="file with one text per line")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--processes", type=int, default=1, help="load-generator processes (single mode)")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--think", type=float, default=0.0, help="mean think time between requests (s)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latencies", action="store_true", help="also print every latency (ms)")
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle if line.strip()]
    print(json.dumps(single(args, texts) if args.mode == "single" else batch(args, texts)))


if __name__ == "__main__":
    main()

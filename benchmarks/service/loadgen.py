"""Load generator for the service benchmark; runs in its own process, talks HTTP on loopback.

    python loadgen.py single --url URL --key KEY --texts FILE --concurrency 50 --duration 60
    python loadgen.py batch  --url URL --key KEY --texts FILE --batch 1000 --requests 20

Prints one JSON object: requests, errors, latency percentiles (ms), throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import httpx
import numpy as np


def percentiles(latencies: list[float]) -> dict[str, float]:
    """Return p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    if not latencies:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    arr = np.asarray(latencies) * 1000
    return {"p50_ms": float(np.percentile(arr, 50)), "p95_ms": float(np.percentile(arr, 95)),
            "p99_ms": float(np.percentile(arr, 99)), "max_ms": float(arr.max())}


async def single(args: argparse.Namespace, texts: list[str]) -> dict:
    """``concurrency`` closed-loop clients, each sending one-record requests back to back."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop_at = time.perf_counter() + args.duration
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=args.url, headers={"X-API-Key": args.key}, limits=limits,
                                 timeout=30) as client:
        async def one_client(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                body = {"records": [{"id": str(rng.random()), "text": rng.choice(texts)}]}
                started = time.perf_counter()
                try:
                    r = await client.post("/code", json=body)
                    if r.status_code != 200:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                    else:
                        latencies.append(time.perf_counter() - started)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if args.think:
                    await asyncio.sleep(rng.expovariate(1 / args.think))

        started = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    return {"requests": len(latencies) + sum(errors.values()), "ok": len(latencies), "errors": errors,
            "elapsed_s": elapsed, "requests_per_s": len(latencies) / elapsed, **percentiles(latencies)}


async def batch(args: argparse.Namespace, texts: list[str]) -> dict:
    """Sequential requests of ``batch`` records each; throughput in records per second."""
    rng = random.Random(0)
    latencies, errors = [], 0
    async with httpx.AsyncClient(base_url=args.url, headers={"X-API-Key": args.key}, timeout=300) as client:
        started = time.perf_counter()
        for _ in range(args.requests):
            body = {"records": [{"id": str(i), "text": rng.choice(texts)} for i in range(args.batch)]}
            t0 = time.perf_counter()
            r = await client.post("/code", json=body)
            if r.status_code == 200 and len(r.json()["records"]) == args.batch:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1
        elapsed = time.perf_counter() - started
    return {"requests": args.requests, "errors": errors, "records_per_s": len(latencies) * args.batch / elapsed,
            **percentiles(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["single", "batch"])
    parser.add_argument("--url", required=True, help="project base URL, e.g. http://127.0.0.1:8000/v1/projects/p")
    parser.add_argument("--key", required=True)
    parser.add_argument("--texts", required=True, help="file with one text per line")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--think", type=float, default=0.0, help="mean think time between requests (s)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle if line.strip()]
    result = asyncio.run(single(args, texts) if args.mode == "single" else batch(args, texts))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

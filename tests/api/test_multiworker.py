"""``statcoder serve --workers 2``: several HTTP processes, a job-worker process, /metrics summed
over all of them (Prometheus multiprocess mode). A real server started as a subprocess."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(server: subprocess.Popen) -> None:
    """End a ``statcoder serve`` started in its own session (SIGTERM, then SIGKILL after 30 s)."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def _total(metrics: str, route: str) -> float:
    pattern = re.compile(r'^statcoder_http_requests_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$', re.MULTILINE)
    return sum(float(m["value"]) for m in pattern.finditer(metrics)
               if f'route="{route}"' in m["labels"] and 'status="200"' in m["labels"])


def test_metrics_are_summed_over_worker_processes(tmp_path):
    port = _free_port()
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "STATCODER_PRELOAD_MODELS": "false"}
    command = [str(Path(sys.executable).parent / "statcoder"), "serve", "--workers", "2", "--port", str(port),
               "--data-dir", str(tmp_path / "data")]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            assert server.poll() is None, server.stdout.read().decode(errors="replace")
            time.sleep(0.3)
        # wait until both HTTP workers have built their app (each writes its metric files)
        while len({p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}) < 3:
            assert time.monotonic() < deadline, sorted(p.name for p in metrics_dir.iterdir())
            time.sleep(0.3)
        n = 40
        for _ in range(n):  # a new connection each: the kernel spreads them over the processes
            assert httpx.get(f"{base}/health", headers={"Connection": "close"}).status_code == 200
        served_by = set()
        for path in metrics_dir.glob("counter_*.db"):
            from prometheus_client.mmap_dict import MmapedDict

            values = MmapedDict.read_all_values_from_file(str(path))
            if any('"/health"' in key and value > 0 for key, value, *_ in values):
                served_by.add(path.stem)
        totals = set()
        for _ in range(6):  # whichever process answers, it reports the sum over all of them
            metrics = httpx.get(f"{base}/metrics", headers={"Connection": "close"}).text
            totals.add(_total(metrics, "/health"))
        # every /health request counted exactly once (the readiness polls above included)
        assert len(totals) == 1 and totals.pop() >= n
        assert len(served_by) >= 2, served_by  # and more than one process did serve them
    finally:
        _stop(server)


def test_a_killed_job_worker_process_is_replaced(tmp_path):
    port = _free_port()
    log_file = tmp_path / "server.log"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "STATCODER_PRELOAD_MODELS": "false"}
    command = [str(Path(sys.executable).parent / "statcoder"), "serve", "--workers", "2", "--port", str(port),
               "--data-dir", str(tmp_path / "data")]
    with open(log_file, "wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def started() -> list[int]:
        return [int(p) for p in re.findall(r"job worker process (\d+) started", log_file.read_text(errors="replace"))]

    try:
        deadline = time.monotonic() + 240
        while not started():
            assert time.monotonic() < deadline and server.poll() is None, log_file.read_text(errors="replace")
            time.sleep(0.3)
        first = started()[0]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(started()) < 2:
            assert time.monotonic() < deadline, log_file.read_text(errors="replace")
            time.sleep(0.3)
        second = started()[1]
        assert second != first and "ended (exit code -9)" in log_file.read_text(errors="replace")
        time.sleep(3)
        os.kill(second, 0)  # the replacement runs (raises if it ended)
    finally:
        _stop(server)

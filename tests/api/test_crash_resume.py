"""A job survives ``kill -9`` of the server: after a restart it completes with every input
record exactly once. The server runs as a real ``statcoder serve`` subprocess."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from apikit import make_tenant

from statcoder.service.context import ServiceContext
from statcoder.service.settings import ServiceSettings
from statcoder.store.jobs import JobRepository

N_RECORDS = 3000
CHUNK = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, db_url: str, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ, "STATCODER_DATA_DIR": str(data_dir), "STATCODER_DATABASE_URL": db_url,
        "STATCODER_PORT": str(port), "STATCODER_JOB_CHUNK_SIZE": str(CHUNK),
        "STATCODER_JOB_LEASE_SECONDS": "2", "STATCODER_JOB_POLL_SECONDS": "0.1",
        "STATCODER_JOB_PAUSE_SECONDS": "0.02",
    }
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "statcoder"), "serve"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not become ready")


@pytest.mark.slow
def test_job_survives_sigkill_and_restart(tmp_path, db_url, model_dir):
    data_dir = tmp_path / "data"
    ctx = ServiceContext(ServiceSettings(data_dir=data_dir, database_url=db_url))
    ctx.start()
    tenant = make_tenant(ctx, "crash", tmp_path / "cls", model_dir)
    texts = ["baker bread oven", "butcher meat", "carpenter wood", "electrician cable", "qq zz"]
    frame = pd.DataFrame({"rid": [f"r{i:06d}" for i in range(N_RECORDS)],
                          "text": [texts[i % 5] for i in range(N_RECORDS)]})
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1/projects/crash/jobs"
    log = tmp_path / "server.log"
    server = start_server(data_dir, db_url, port, log)
    try:
        r = httpx.post(base, headers=tenant.headers("code"), timeout=30,
                       files={"file": ("in.csv", frame.to_csv(index=False).encode())},
                       data={"text_columns": "text", "id_column": "rid"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = httpx.get(f"{base}/{job_id}", headers=tenant.headers("code"), timeout=5).json()["n_done"]
            if done >= 10 * CHUNK:
                break
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()
    with ctx.db.read() as session:
        job = JobRepository(session).by_id(job_id)
        assert job.status == "running" and 10 * CHUNK <= job.n_done < N_RECORDS, "kill came too late"
        killed_at = job.n_done

    server = start_server(data_dir, db_url, port, log)
    try:
        deadline = time.monotonic() + 120
        status = {}
        while time.monotonic() < deadline:
            status = httpx.get(f"{base}/{job_id}", headers=tenant.headers("code"), timeout=5).json()
            if status["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.1)
        assert status["status"] == "succeeded", status
        result = httpx.get(f"{base}/{job_id}/result", headers=tenant.headers("code"), timeout=60)
    finally:
        server.terminate()
        server.wait(20)
    out = pd.read_csv(io.StringIO(result.text), dtype=str, keep_default_na=False)
    assert len(out) == N_RECORDS and out["rid"].is_unique
    assert out["rid"].tolist() == frame["rid"].tolist()
    assert out["text"].tolist() == frame["text"].tolist()
    assert status["n_done"] == N_RECORDS and killed_at < N_RECORDS
    with ctx.db.read() as session:
        assert JobRepository(session).chunk_count(job_id) == (N_RECORDS // CHUNK, N_RECORDS)
    ctx.close()

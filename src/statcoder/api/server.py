"""Running the app: shared by ``statcoder serve`` and ``python -m statcoder.api``.

One process (``workers == 1``): uvicorn serves the app built from the settings, the job worker
runs as a thread inside it. Several processes (``workers > 1``): the settings are handed to
uvicorn's worker processes through the ``STATCODER_*`` environment, every process builds its
app with :func:`app_from_environment`, the job worker runs as its own process, and
``/metrics`` aggregates all processes through Prometheus' multiprocess mode.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from statcoder.service.settings import ServiceSettings

log = logging.getLogger("statcoder.api")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: how long a thread may keep the interpreter lock while another waits for it (s; Python's
#: default is 0.005). A server process runs the event loop, the model thread and the task
#: writer; with 5 ms, each hand-over of a request between them could wait 5 ms behind another
#: project's work (a model call's Python parts, answers being assembled).
SWITCH_INTERVAL_S = 0.001


def quick_thread_switches() -> None:
    """Set the interpreter's thread switch interval of a server process to ``SWITCH_INTERVAL_S``."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def settings_environment(settings: ServiceSettings) -> dict[str, str]:
    """Return ``settings`` as ``STATCODER_*`` variables that ``ServiceSettings()`` reads back."""
    env = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, list):
            text = os.pathsep.join(str(v) for v in value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[f"STATCODER_{name.upper()}"] = text
    return env


def app_from_environment() -> Any:
    """Return the app of one HTTP worker process (uvicorn ``factory=True``); no job worker inside."""
    from statcoder.api.app import create_app
    from statcoder.api.protocol import HeaderTimeoutProtocol

    settings = ServiceSettings()
    quick_thread_switches()
    HeaderTimeoutProtocol.header_timeout = settings.header_timeout_seconds
    return create_app(settings, start_worker=False)


def _job_worker_process() -> None:
    """Run the job worker in its own process until SIGTERM/SIGINT (settings from the environment)."""
    from statcoder.service.context import ServiceContext
    from statcoder.service.worker import JobWorker

    ctx = ServiceContext(ServiceSettings())
    ctx.start()
    worker = JobWorker(ctx)
    signal.signal(signal.SIGTERM, lambda *_: worker._stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker._stop.set())
    try:
        worker.run()
    finally:
        ctx.close()


def _uvicorn_options(settings: ServiceSettings) -> dict[str, Any]:
    return {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level,
        "timeout_keep_alive": settings.keep_alive_seconds, "timeout_graceful_shutdown": 10,
        "loop": "auto",
    }


def serve(settings: ServiceSettings | None = None) -> None:
    """Serve the API on ``settings.host:settings.port`` until interrupted (SIGINT/SIGTERM)."""
    import uvicorn

    settings = settings or ServiceSettings()
    if settings.workers == 1:
        from statcoder.api.app import create_app
        from statcoder.api.protocol import HeaderTimeoutProtocol

        HeaderTimeoutProtocol.header_timeout = settings.header_timeout_seconds
        quick_thread_switches()
        uvicorn.run(create_app(settings), http=HeaderTimeoutProtocol, **_uvicorn_options(settings))
        return
    serve_many(settings)


def serve_many(settings: ServiceSettings) -> None:
    """Serve with ``settings.workers`` HTTP processes plus one job-worker process."""
    import uvicorn

    from statcoder.service.context import ServiceContext

    ctx = ServiceContext(settings)
    ctx.start()  # migrate once (waiting for a locked store), before the workers start
    ctx.close()
    own_dir = MULTIPROC_ENV not in os.environ
    metrics_dir = Path(os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="statcoder-metrics-"))
    for stale in metrics_dir.glob("*.db"):  # values of a previous run must not be summed in
        stale.unlink()
    os.environ.update(settings_environment(settings.model_copy(update={"job_worker": False})))
    os.environ[MULTIPROC_ENV] = str(metrics_dir)
    jobs = None
    if settings.job_worker:
        jobs = multiprocessing.get_context("spawn").Process(target=_job_worker_process, name="statcoder-jobs")
        jobs.start()
        log.info("job worker process %s started", jobs.pid)
    try:
        # A worker imports the scientific stack and loads models before it answers the
        # supervisor's health pings: give it time on a busy machine.
        uvicorn.run("statcoder.api.server:app_from_environment", factory=True, workers=settings.workers,
                    http="statcoder.api.protocol:HeaderTimeoutProtocol", timeout_worker_healthcheck=120,
                    **_uvicorn_options(settings))
    finally:
        if jobs is not None:
            jobs.terminate()
            jobs.join(15)
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)

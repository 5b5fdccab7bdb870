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
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
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


#: a path segment the access log shows as it is (ids, names); anything else is shown as "…"
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{0,64}")
#: an API key's secret (``sc_<id>_<secret>``) pasted into a path: never logged
_KEY_LIKE = re.compile(r"sc_[0-9a-f]{6,}_")


def loggable_path(full_path: str) -> str:
    """Return a request target as the access log may show it: no query string (a careless client
    puts its key there: ``?api_key=sc_…``) and "…" for a path segment that is not a plain id or name
    (a client can put free text there)."""
    path, _, query = full_path.partition("?")
    shown = "/".join(part if _SAFE_SEGMENT.fullmatch(part) and not _KEY_LIKE.match(part) else "…"
                     for part in path.split("/"))
    return shown + ("?…" if query else "")


class AccessLogFilter(logging.Filter):
    """Rewrites uvicorn's access records (client, method, target, version, status) with :func:`loggable_path`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], loggable_path(args[2]), args[3], args[4])
        return True


class _UvicornLikeFormatter(logging.Formatter):
    """``INFO:     …`` / ``WARNING:  …``: the level and colon padded to uvicorn's width, so the columns line up."""

    def format(self, record: logging.LogRecord) -> str:
        record.levelprefix = f"{record.levelname}:".ljust(9)
        return super().format(record)


def configure_logging(level: str = "info") -> None:
    """Send the ``statcoder`` loggers' records to stderr in uvicorn's format (``INFO:     ...``),
    at ``level``; once per process (a server process, the supervisor, the job worker). Without
    it only warnings reached stderr, bare (Python's last-resort handler). Records never hold
    free text or keys (see the modules' log calls)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in access.filters):
        access.addFilter(AccessLogFilter())  # kept when uvicorn configures the logger's handlers
    logger = logging.getLogger("statcoder")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UvicornLikeFormatter("%(levelprefix)s %(message)s [%(name)s]"))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


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
    configure_logging(settings.log_level)
    quick_thread_switches()
    HeaderTimeoutProtocol.header_timeout = settings.header_timeout_seconds
    return create_app(settings, start_worker=False)


def _job_worker_process() -> None:
    """Run the job worker in its own process until SIGTERM/SIGINT (settings from the environment)."""
    from statcoder.service.context import ServiceContext
    from statcoder.service.worker import JobWorker

    settings = ServiceSettings()
    configure_logging(settings.log_level)
    ctx = ServiceContext(settings)
    ctx.start()
    worker = JobWorker(ctx)
    signal.signal(signal.SIGTERM, lambda *_: worker._stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker._stop.set())
    try:
        worker.run()
    finally:
        ctx.close()


class JobWorkerSupervisor:
    """Keeps one job-worker process running beside the HTTP workers: one that ends (killed, out
    of memory) is replaced, after a pause that doubles while replacements keep ending within a
    minute (up to ``MAX_RESTART_DELAY_S``), so a worker that cannot start does not spin."""

    MAX_RESTART_DELAY_S = 60.0

    def __init__(self) -> None:
        self.process: multiprocessing.process.BaseProcess | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the job worker and the thread that watches it."""
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="statcoder-jobs-watch", daemon=True)
        self._thread.start()

    def _spawn(self) -> None:
        self.process = multiprocessing.get_context("spawn").Process(target=_job_worker_process, name="statcoder-jobs")
        self.process.start()
        self._started = time.monotonic()
        log.info("job worker process %s started", self.process.pid)

    def _watch(self) -> None:
        delay = 1.0
        while not self._stop.wait(0.5):
            process = self.process
            if process is None or process.is_alive():
                continue
            quick = time.monotonic() - self._started <= 60  # it ended within a minute of its start
            if not quick:
                delay = 1.0
            log.warning("job worker process %s ended (exit code %s); starting another in %.0f s",
                        process.pid, process.exitcode, delay)
            if self._stop.wait(delay):
                return
            self.restarts += 1
            self._spawn()
            if quick:  # the next quick end waits twice as long
                delay = min(delay * 2, self.MAX_RESTART_DELAY_S)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop watching, then end the job worker (SIGTERM: it finishes its chunk and releases its lease)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.process is not None:
            self.process.terminate()
            self.process.join(timeout)


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
    configure_logging(settings.log_level)
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
    jobs = JobWorkerSupervisor() if settings.job_worker else None
    if jobs is not None:
        jobs.start()
    try:
        # A worker imports the scientific stack and loads models before it answers the
        # supervisor's health pings: give it time on a busy machine.
        uvicorn.run("statcoder.api.server:app_from_environment", factory=True, workers=settings.workers,
                    http="statcoder.api.protocol:HeaderTimeoutProtocol", timeout_worker_healthcheck=120,
                    **_uvicorn_options(settings))
    finally:
        if jobs is not None:
            jobs.stop()
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)

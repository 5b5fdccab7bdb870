"""The service's shared state: settings, store, model cache and metrics, built once per process."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from statcoder.service.activity import ActivityBoard
from statcoder.service.auth_cache import AuthCache
from statcoder.service.batching import MicroBatcher
from statcoder.service.fairness import FairGate
from statcoder.service.metrics import ServiceMetrics
from statcoder.service.model_cache import ModelCache
from statcoder.service.settings import ServiceSettings
from statcoder.service.task_writer import TaskWriter
from statcoder.store import Database
from statcoder.store.tables import Project

if TYPE_CHECKING:
    from statcoder.classifications import Classification

log = logging.getLogger("statcoder.service")


def private_directory(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700: record texts, models and inputs live below."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


def retry_store(action, *, within_s: float, first_delay_s: float = 0.25, max_delay_s: float = 10.0) -> None:
    """Call ``action()`` until the store lets it through (locked or unreachable) or ``within_s`` passes.

    A server started while the database is locked (a long write, a backup) or while
    PostgreSQL is still starting waits for it instead of exiting. The last error is raised
    once the time is up.
    """
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + within_s
    delay = first_delay_s
    while True:
        try:
            action()
            return
        except OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("store not available (%s); retrying in %.1f s", type(exc.orig or exc).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_delay_s)


class ServiceContext:
    """Everything a use case needs. ``start()`` creates the data directory and migrates the store."""

    def __init__(self, settings: ServiceSettings | None = None) -> None:
        self.settings = settings or ServiceSettings()
        self.data_dir: Path = self.settings.data_dir.resolve()
        self.db = Database(self._database_url(), busy_timeout_s=self.settings.db_busy_timeout_seconds)
        self.metrics = ServiceMetrics()
        self.models = ModelCache(self.data_dir, on_change=self.metrics.models_loaded.set)
        self.batcher = MicroBatcher(wait_s=self.settings.batch_wait_ms / 1000, enabled=self.settings.batching,
                                    on_call=self.metrics.model_call)
        # the audit sample's draws; a Generator serialises its own calls, so threads may share it
        self.rng = np.random.default_rng()
        self.auth_cache = AuthCache(self.settings.auth_cache_seconds)
        self.task_writer = TaskWriter(self.db)
        self.gate = FairGate(
            total_records=self.settings.coding_records_in_flight,
            project_records=self.settings.project_records_in_flight,
            small_records=self.settings.small_request_records,
            contended_records=self.settings.project_records_contended,
            contended_cpu_share=self.settings.project_cpu_contended,
            board=self._activity_board(),
            on_cpu_hold=self.metrics.cpu_reserve_holds.inc,
        )
        self._classifications: dict[str, Classification] = {}

    def _activity_board(self) -> ActivityBoard | None:
        """Return the board of active projects shared by this data directory's server processes."""
        if not (self.settings.project_records_contended or self.settings.project_cpu_contended):
            return None
        private_directory(self.data_dir / "run")
        private_directory(self.data_dir)
        return ActivityBoard(self.data_dir / "run" / "active-projects")

    def _database_url(self) -> str:
        if not self.settings.database_url:
            private_directory(self.data_dir)
        return self.settings.resolved_database_url()

    def start(self) -> None:
        """Create the data directories and bring the schema up to date (idempotent)."""
        private_directory(self.data_dir)
        for sub in ("models", "projects", "jobs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        retry_store(self.db.upgrade, within_s=self.settings.startup_retry_seconds)
        self.db.start_checkpoints()  # SQLite: no commit pays for a WAL checkpoint
        log.info("store ready (%s)", self.db.engine.dialect.name)

    def close(self) -> None:
        """Write queued review tasks and release pooled database connections."""
        self.task_writer.close()
        self.db.dispose()

    def classification_path(self, project_id: str) -> Path:
        """Return where the project's classification CSV is kept."""
        return self.data_dir / "projects" / project_id / "classification.csv"

    def classification(self, project: Project) -> Classification:
        """Return the project's classification, loaded once per process."""
        cached = self._classifications.get(project.id)
        if cached is None:
            from statcoder.classifications import Classification

            cached = Classification.from_csv(
                self.classification_path(project.id), name=project.classification_name,
                version=project.classification_version,
            )
            self._classifications[project.id] = cached
        return cached

"""Settings from the environment (prefix ``STATCODER_``): one class for the library and the service.

Nothing else reads ``os.environ``. ``get_settings()`` reads them once per process
(``get_settings.cache_clear()`` re-reads them, e.g. in tests).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """All run-time settings. Every field is read from ``STATCODER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="STATCODER_", extra="ignore")

    # ---- library ------------------------------------------------------------------------------
    #: where the demo caches downloaded public data and writes its outputs
    demo_dir: Path = Path(".demo")
    #: directory where tests look for the shared reference data
    shared_data: Path = Path("../shared/data")
    #: longer texts (characters, text columns joined) are cut to this at training and coding;
    #: a trained model keeps the limit it was trained with; the service's /code refuses longer ones
    max_text_length: int = Field(default=10_000, gt=0)
    #: threads a model may use when fitting and predicting (1 keeps runs reproducible and comparable)
    threads: int = Field(default=1, gt=0)

    # ---- service ------------------------------------------------------------------------------
    #: where the SQLite database, model versions, classifications and job files live
    data_dir: Path = Path("statcoder-data")
    #: SQLAlchemy URL; empty means SQLite at ``<data_dir>/statcoder.db``
    database_url: str = ""
    #: directories from which jobs may read server-side files (``os.pathsep`` or comma separated)
    allowed_job_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    #: largest request body accepted on JSON routes (bytes)
    max_request_bytes: int = Field(default=10_000_000, gt=0)
    #: largest file accepted by job creation and model upload (bytes)
    max_upload_bytes: int = Field(default=2_000_000_000, gt=0)
    #: most records in one synchronous ``POST /code`` request
    max_batch_records: int = Field(default=1000, gt=0)
    #: most labelled records accepted by the synchronous train endpoint
    max_train_records: int = Field(default=200_000, gt=0)
    #: default share of ``auto`` records sent to the audit sample of a new project
    default_audit_rate: float = Field(default=0.02, ge=0.0, le=1.0)
    #: how long key and project rows are reused from memory (s; 0 = read the store each time);
    #: changes made by another process (e.g. a revocation) take effect within this delay
    auth_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    #: micro-batching of ``POST /code``: concurrent requests on one model share one model call
    batching: bool = True
    #: extra time the model thread lets requests gather before a call (ms; 0 = code what is
    #: queued at once, batches still form while a call runs)
    batch_wait_ms: float = Field(default=0.0, ge=0, le=1000)
    #: records per job chunk (one store transaction each)
    job_chunk_size: int = Field(default=5000, gt=0)
    #: how long a worker's claim on a job lasts without progress before another may take it (s)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    #: how often an idle worker looks for work (s)
    job_poll_seconds: float = Field(default=1.0, gt=0)
    #: pause between chunks so interactive requests get CPU on a small machine (s)
    job_pause_seconds: float = Field(default=0.0, ge=0)
    #: run the job worker inside ``statcoder serve``
    job_worker: bool = True
    #: load every project's active model at start-up (``/ready`` waits for it)
    preload_models: bool = True
    #: interface and port of ``statcoder serve``
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: how long the server keeps an idle HTTP connection open (s); longer than clients' pools
    #: (httpx: 5 s) so a client never reuses a connection the server is closing
    keep_alive_seconds: int = Field(default=30, ge=1, le=3600)
    #: most bytes a model archive (and the arrays of its weights) may unpack to
    max_model_bytes: int = Field(default=1_000_000_000, gt=0)
    #: largest compression ratio of one member (over 1 MB) of an uploaded zip/xlsx/npz
    max_archive_ratio: float = Field(default=200.0, gt=1)
    #: most fields in one record of ``POST /code`` (text, id and auxiliary fields)
    max_record_fields: int = Field(default=50, gt=0)
    #: most distinct field names in one ``POST /code`` request (all records together)
    max_batch_fields: int = Field(default=200, gt=0)
    #: largest JSON answer of ``POST /code`` (bytes); larger answers are a 413
    max_response_bytes: int = Field(default=50_000_000, gt=0)
    #: records in flight in ``POST /code`` per process (large requests; the shared pool)
    coding_records_in_flight: int = Field(default=4000, gt=0)
    #: records in flight in ``POST /code`` per project; more waits, projects served round-robin
    project_records_in_flight: int = Field(default=2000, gt=0)
    #: while another project is active in the process, a project with records in flight is
    #: admitted only up to this many (0 = off): another project's request then waits behind
    #: at most this much of its work (see docs/service.md, fair sharing)
    project_records_contended: int = Field(default=8, ge=0)
    #: while a light project (requests one at a time) is active in any server process, a busy
    #: project (requests in flight or waiting) is admitted only while the process has used less
    #: than this share of one core (0 = off): the rest stays free for the light project's
    #: requests (CPU reserve, see docs/service.md)
    project_cpu_contended: float = Field(default=0.15, ge=0, le=1)
    #: requests of at most this many records use only their project's share, never the pool
    small_request_records: int = Field(default=10, ge=0)
    #: how long a write waits for a locked SQLite database before the request is a 503 (s)
    db_busy_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    #: how long a starting server retries a store that is locked or unreachable (s)
    startup_retry_seconds: float = Field(default=300.0, ge=0)
    #: a client must send its request headers within this time (s), else the connection is cut
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    #: a client must not pause longer than this between two parts of a request body (s): 408
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: HTTP worker processes of ``statcoder serve`` (1 = one process, job worker inside)
    workers: int = Field(default=1, ge=1, le=64)
    #: how long a claim on a review task lasts (s); after it, another coder may take the task
    review_lease_seconds: float = Field(default=600.0, gt=0, le=86_400)
    #: lifetime of a workbench sign-in session (hours)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    #: mark the workbench session cookie ``Secure`` (serve over HTTPS, e.g. behind a proxy)
    session_cookie_secure: bool = False
    #: log level of the service loggers
    log_level: str = "info"

    @field_validator("allowed_job_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for chunk in value.split(os.pathsep) for p in chunk.split(",")]
            return [Path(p) for p in parts if p]
        return value

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'statcoder.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()

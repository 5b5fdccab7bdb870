"""The job worker: claims jobs, stages their input, codes chunk after chunk, commits each.

Crash safety: a chunk's output, its review tasks and the job's counters are committed in one
transaction, by the worker holding the job's lease. After a crash (or ``kill -9``) the lease
runs out, a worker claims the job again and codes only the chunks not yet committed, so no
record is lost or written twice.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.exc import OperationalError

from statcoder.batch.chunks import BATCH_COLUMNS, code_chunk
from statcoder.errors import StatcoderError
from statcoder.service.coding import decision_counts, model_path
from statcoder.service.context import ServiceContext
from statcoder.service.jobs import job_dir
from statcoder.service.review import build_tasks
from statcoder.service.staging import stage_input
from statcoder.store import utcnow
from statcoder.store.jobs import JobRepository
from statcoder.store.projects import ProjectRepository
from statcoder.store.review import ReviewRepository
from statcoder.store.tables import Job
from statcoder.text import join_columns

log = logging.getLogger("statcoder.service.worker")


class LostJob(Exception):
    """The job was cancelled or taken over by another worker; stop working on it."""


class JobWorker:
    """Processes jobs from the store, one at a time, until ``stop()`` is called."""

    def __init__(self, ctx: ServiceContext, *, worker_id: str | None = None) -> None:
        self.ctx = ctx
        self.worker_id = worker_id or f"{os.getpid()}-{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Run the worker loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="statcoder-job-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to stop after the current chunk and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Poll for work until stopped."""
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception as exc:  # noqa: BLE001 - keep the loop alive; never log record data
                log.error("worker loop error: %s", type(exc).__name__)
                worked = False
            if not worked:
                self._stop.wait(self.ctx.settings.job_poll_seconds)

    def _lease(self):
        return utcnow() + timedelta(seconds=self.ctx.settings.job_lease_seconds)

    # ---- one job --------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Claim and process one job; returns False when there was nothing to do."""
        with self.ctx.db.write() as session:
            job = JobRepository(session).claim_next(self.worker_id, now=utcnow(), lease_until=self._lease())
        if job is None:
            return False
        log.info("job %s claimed by %s", job.id, self.worker_id)
        try:
            self._process(job)
        except LostJob:
            log.info("job %s released (cancelled or taken over)", job.id)
        except StatcoderError as exc:
            message = exc.message + (f" ({exc.where})" if exc.where else "")
            self._fail(job, exc.code, json.dumps({"message": message, "hint": exc.hint}))  # job_out reads both
        except OperationalError as exc:
            # The store is unreachable: leave the job for a later claim once the lease expires.
            log.error("job %s paused: store error %s", job.id, type(exc).__name__)
        except Exception as exc:  # noqa: BLE001
            log.error("job %s failed: %s", job.id, type(exc).__name__)
            self._fail(job, "internal_error", json.dumps({
                "message": f"the job failed ({type(exc).__name__})",
                "hint": "submit it again; if it fails again, tell the operator (the server log names the cause)"}))
        return True

    def _fail(self, job: Job, code: str, message: str) -> None:
        with self.ctx.db.write() as session:
            JobRepository(session).holds(
                job.id, self.worker_id, lease_until=utcnow(), status="failed", error_code=code,
                error_message=message, finished_at=utcnow(),
            )
        log.info("job %s failed (%s)", job.id, code)

    def _renew(self, job: Job, **values: object) -> None:
        with self.ctx.db.write() as session:
            if not JobRepository(session).holds(job.id, self.worker_id, lease_until=self._lease(), **values):
                raise LostJob(job.id)

    def _stage(self, job: Job) -> str:
        staged = job_dir(self.ctx, job.id) / "input.parquet"
        if job.n_chunks is None or not staged.exists():
            n = stage_input(
                Path(job.input_path), job.input_format, staged,
                chunk_size=job.chunk_size, text_columns=json.loads(job.text_columns),
                on_chunk=lambda _rows: self._renew(job),
            )
            n_chunks = -(-n // job.chunk_size)
            self._renew(job, n_records=n, n_chunks=n_chunks)
            job.n_records, job.n_chunks = n, n_chunks
            if Path(job.input_path).parent == job_dir(self.ctx, job.id):  # our own copy
                Path(job.input_path).unlink(missing_ok=True)
        return str(staged)

    def _process(self, job: Job) -> None:
        staged = self._stage(job)
        with self.ctx.db.read() as session:
            project = ProjectRepository(session).get(job.project_id)
            done = JobRepository(session).done_chunks(job.id)
        coder = self.ctx.models.get(job.project_id, job.model_version, model_path(job.project_id, job.model_version))
        text_columns = json.loads(job.text_columns)
        parquet = pq.ParquetFile(staged, pre_buffer=False)  # read row groups are not kept (batch/sources.py)
        rng = np.random.default_rng()
        for index in range(job.n_chunks or 0):
            if index in done:
                continue
            if self._stop.is_set():
                raise LostJob(job.id)
            frame = parquet.read_row_group(index).to_pandas()
            # the batch engines' chunk function: bad rows are coded review with a `problem`
            coded = code_chunk(coder, frame, text_columns=text_columns, top_k=job.top_k,
                               max_text_length=self.ctx.settings.max_text_length, where="job input")
            coded["model_version"] = job.model_version
            counts = decision_counts(coded["decision"])
            buffer = io.BytesIO()
            pq.write_table(pa.Table.from_pandas(coded, preserve_index=False), buffer, compression="zstd")
            ids = frame[job.id_column].tolist() if job.id_column in frame.columns else [None] * len(frame)
            _, tasks = build_tasks(
                project, coded, join_columns(frame, text_columns), record_ids=ids,
                model_version=job.model_version, job_id=job.id, rng=rng,
                exclude=[*text_columns, job.id_column, *BATCH_COLUMNS],  # the record's own other fields only
            )
            with self.ctx.db.write() as session:
                if not JobRepository(session).commit_chunk(
                    job.id, self.worker_id, chunk_index=index, data=buffer.getvalue(),
                    counts=counts, lease_until=self._lease(),
                ):
                    raise LostJob(job.id)
                if tasks:
                    ReviewRepository(session).add_many(tasks)
            self.ctx.metrics.job_chunks.inc()
            self.ctx.metrics.count_decisions(counts, "job")
            if self.ctx.settings.job_pause_seconds:
                time.sleep(self.ctx.settings.job_pause_seconds)
        self._finish(job)

    def _finish(self, job: Job) -> None:
        with self.ctx.db.write() as session:
            repo = JobRepository(session)
            n_chunks, n_records = repo.chunk_count(job.id)
            if n_chunks != job.n_chunks or n_records != job.n_records:
                raise StatcoderError(
                    f"job output has {n_records} records in {n_chunks} chunks, expected "
                    f"{job.n_records} in {job.n_chunks}", hint="resubmit the job",
                )
            if not repo.holds(job.id, self.worker_id, lease_until=utcnow(), status="succeeded",
                              finished_at=utcnow()):
                raise LostJob(job.id)
        log.info("job %s succeeded (%s records)", job.id, job.n_records)

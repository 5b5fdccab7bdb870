"""Batch jobs: creation from an upload or an allowed server-side path, status, cancel, results.

The worker (:mod:`statcoder.service.worker`) does the coding; this module holds the use
cases the API calls and the file layout under ``<data_dir>/jobs/<job id>/``.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from statcoder.errors import InputError
from statcoder.io import atomic_write_with
from statcoder.io.csv_safety import CSV_LINE_END, neutralise_frame
from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.errors import (
    ConflictError,
    NoActiveModelError,
    NotFoundError,
    PathNotAllowedError,
    PurgedError,
    shown_id,
)
from statcoder.service.staging import snapshot_checked_file
from statcoder.store import utcnow
from statcoder.store.jobs import JobRepository
from statcoder.store.tables import Job, Project

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def new_job_id() -> str:
    """Return a fresh random job id (hex, unguessable)."""
    return secrets.token_hex(12)


def job_dir(ctx: ServiceContext, job_id: str) -> Path:
    """Return the job's working directory."""
    return ctx.data_dir / "jobs" / job_id


def input_format(name: str) -> str:
    """Return "csv" or "parquet" from a file name; InputError for other extensions."""
    fmt = FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        raise InputError(
            f"unsupported job file type {Path(name).suffix or '(none)'!r}", where="file",
            hint="send a .csv or .parquet file",
        )
    return fmt


MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def allowed_path(ctx: ServiceContext, path: str, project_id: str) -> Path:
    """Return the resolved path if it is a file inside the project's job directory.

    A project reads only ``<allowed dir>/<project id>/`` of each directory in
    ``STATCODER_ALLOWED_JOB_DIRS``: an inbox shared by all projects would let any tenant read
    (or probe for) the files placed for another. Symlinks and ``..`` are resolved first, so a
    link cannot lead out of the directory; the service's own data directory (other projects'
    staged inputs) is never allowed. Names longer than the file system takes are an
    InputError, never an OS error. Use :func:`snapshot_from_path` to read the file: it
    re-checks what it opens (and refuses hard links).
    """
    roots = [d.resolve() for d in ctx.settings.allowed_job_dirs]
    if not roots:
        raise PathNotAllowedError(
            "server-side paths are disabled", where="path",
            hint="upload the file, or ask the operator to set STATCODER_ALLOWED_JOB_DIRS",
        )
    if "\x00" in path:
        raise InputError("the path holds a NUL character", where="path", hint="give the file's path as it is")
    if not Path(path).is_absolute():
        raise InputError("the path must be absolute", where="path", hint="give the full path")
    try:
        encoded = [part.encode("utf-8") for part in Path(path).parts]
    except UnicodeEncodeError:
        raise InputError("the path is not valid UTF-8", where="path", hint="rename the file") from None
    if sum(len(p) + 1 for p in encoded) > MAX_PATH_BYTES or any(len(p) > MAX_NAME_BYTES for p in encoded):
        raise InputError(
            f"the path is too long (names up to {MAX_NAME_BYTES} bytes, paths up to {MAX_PATH_BYTES})",
            where="path", hint="rename the file with a shorter name",
        )
    try:
        resolved = Path(path).resolve()
        is_file = resolved.is_file()
    except (OSError, RuntimeError):
        raise InputError("the path cannot be resolved", where="path", hint="check the path") from None
    if not _is_allowed(ctx, resolved, project_id):
        raise PathNotAllowedError(
            "the path is outside this project's job directories", where="path",
            hint=f"place the file in the project's own directory, <dir>/{project_id}/, of a directory set in "
            "STATCODER_ALLOWED_JOB_DIRS",
        )
    if not is_file:
        raise InputError("no such file", where="path", hint="check the path")
    return resolved


def _is_allowed(ctx: ServiceContext, resolved: Path, project_id: str) -> bool:
    """True if ``resolved`` lies in the project's directory of an allowed job directory and
    outside the data directory."""
    if resolved.is_relative_to(ctx.data_dir):
        return False
    return any(resolved.is_relative_to(d.resolve() / project_id) for d in ctx.settings.allowed_job_dirs)


def snapshot_from_path(ctx: ServiceContext, path: str, job_id: str, project_id: str) -> tuple[Path, str]:
    """Check ``path`` and copy the file it names into the job's directory; returns (copy, format).

    The file is opened once, after the check, without following links, and the copy is made
    from that descriptor at submission: the worker later reads the copy, so swapping the
    path for a link after the ``202`` cannot make a job read another file.
    """
    resolved = allowed_path(ctx, path, project_id)
    fmt = input_format(resolved.name)
    target = job_dir(ctx, job_id) / f"source.{fmt}"
    try:
        snapshot_checked_file(
            resolved, target, allowed=lambda p: _is_allowed(ctx, p, project_id),
            max_bytes=ctx.settings.max_upload_bytes,
        )
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return target, fmt


def create_job(
    ctx: ServiceContext, project: Project, *, input_path: Path, source: str, fmt: str,
    text_columns: list[str], id_column: str | None, top_k: int, actor: str, job_id: str | None = None,
) -> Job:
    """Register a job on an input file already in place; the worker picks it up. Returns it."""
    if project.active_model_version is None:
        raise NoActiveModelError(
            f"project {project.id!r} has no active model",
            hint="upload or train a model, then promote it",
        )
    if not text_columns:
        raise InputError("no text column given", where="text_columns", hint="e.g. text")
    if not 1 <= top_k <= 50:
        raise InputError("top_k must be between 1 and 50", where="top_k", hint="e.g. 5")
    job = Job(
        id=job_id or new_job_id(), project_id=project.id, status="queued", source=source,
        input_path=str(input_path), input_format=fmt, text_columns=json.dumps(text_columns),
        id_column=id_column or None, top_k=top_k, chunk_size=ctx.settings.job_chunk_size,
        model_version=project.active_model_version, n_done=0, n_auto=0, n_partial=0, n_review=0,
        created_by=actor, created_at=utcnow(),
    )
    with ctx.db.write() as session:
        JobRepository(session).add(job)
        record(session, project.id, actor=actor, action="job.create", target=job.id,
               details={"source": source, "format": fmt, "model_version": job.model_version})
    return job


def get_job(ctx: ServiceContext, project_id: str, job_id: str) -> Job:
    """Return the project's job; NotFoundError for an unknown job or another project's."""
    with ctx.db.read() as session:
        job = JobRepository(session).get(project_id, job_id)
    if job is None:
        raise NotFoundError(f"job {shown_id(job_id)} not found", hint="list the project's jobs")
    return job


def list_jobs(ctx: ServiceContext, project_id: str, *, limit: int = 50, offset: int = 0) -> list[Job]:
    """Return the project's jobs, newest first."""
    with ctx.db.read() as session:
        return JobRepository(session).page(project_id, limit=limit, offset=offset)


def cancel_job(ctx: ServiceContext, project_id: str, job_id: str, *, actor: str) -> Job:
    """Cancel a queued or running job (chunks already committed stay); ConflictError if finished."""
    with ctx.db.write() as session:
        repo = JobRepository(session)
        if repo.get(project_id, job_id) is None:
            raise NotFoundError(f"job {shown_id(job_id)} not found", hint="list the project's jobs")
        if not repo.cancel(job_id, utcnow()):
            raise ConflictError(f"job {job_id!r} has already finished", hint="nothing to cancel")
        record(session, project_id, actor=actor, action="job.cancel", target=job_id)
    return get_job(ctx, project_id, job_id)


def _require_finished(job: Job) -> None:
    if job.purged_at is not None:
        raise PurgedError(f"the results of job {job.id!r} were deleted by the project's retention policy",
                          hint="results are kept for the project's retention_days; code the input again")
    if job.status != "succeeded":
        raise ConflictError(
            f"job {job.id!r} is {job.status}; results are available once it has succeeded",
            hint="poll GET .../jobs/{id} until status is 'succeeded'",
        )


def result_csv(ctx: ServiceContext, job: Job) -> Iterator[bytes]:
    """Yield the job's output as CSV bytes (header first), one committed chunk at a time."""
    _require_finished(job)
    with ctx.db.read() as session:
        for i, data in enumerate(JobRepository(session).iter_chunks(job.id)):
            frame = neutralise_frame(pq.read_table(io.BytesIO(data)).to_pandas())  # no formulas
            yield frame.to_csv(index=False, header=i == 0, lineterminator=CSV_LINE_END).encode()


def result_parquet(ctx: ServiceContext, job: Job) -> Path:
    """Return a Parquet file with the job's output, assembled from its chunks on first request."""
    _require_finished(job)
    target = job_dir(ctx, job.id) / "result.parquet"
    if target.exists():
        return target

    def write(tmp: Path) -> None:
        writer = None
        with ctx.db.read() as session:
            for data in JobRepository(session).iter_chunks(job.id):
                table = pq.read_table(io.BytesIO(data))
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
        if writer is None:  # a job over an empty file
            pq.write_table(pa.table({}), tmp)
        else:
            writer.close()

    return atomic_write_with(target, write)

"""Batch job routes: create (upload or server-side path), list, status, cancel, result (scope ``code``)."""

from __future__ import annotations

import shutil
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from statcoder.api import convert
from statcoder.api.deps import CodeProject, ContextDep, PrincipalDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import JobFromPath, JobList, JobOut
from statcoder.service import jobs

router = APIRouter(prefix="/v1/projects/{project_id}/jobs", tags=["jobs"], responses=ERRORS)
JobId = Annotated[str, Path(min_length=1, max_length=32)]


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


@router.post("", response_model=JobOut, status_code=202)
def create_job_upload(
    project: CodeProject, principal: PrincipalDep, ctx: ContextDep,
    file: Annotated[UploadFile, File(description="CSV or Parquet file of records")],
    text_columns: Annotated[str, Form(max_length=2000, description="comma-separated text columns")] = "text",
    id_column: Annotated[str | None, Form(max_length=200)] = None,
    top_k: Annotated[int, Form(ge=1, le=50)] = 5,
) -> JobOut:
    """Upload a CSV/Parquet file and code it in the background; poll the returned job."""
    fmt = jobs.input_format(file.filename or "")
    job_id = jobs.new_job_id()
    target = jobs.job_dir(ctx, job_id) / f"upload.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(file.file, out, length=1 << 20)
    try:
        job = jobs.create_job(
            ctx, project, input_path=target, source="upload", fmt=fmt,
            text_columns=_columns(text_columns), id_column=id_column, top_k=top_k,
            actor=principal.actor, job_id=job_id,
        )
    except Exception:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return convert.job_out(job)


@router.post("/from-path", response_model=JobOut, status_code=202)
def create_job_from_path(
    body: JobFromPath, project: CodeProject, principal: PrincipalDep, ctx: ContextDep
) -> JobOut:
    """Code a file already on the server, in the project's directory (``<dir>/<project id>/``) of a
    directory of STATCODER_ALLOWED_JOB_DIRS."""
    job_id = jobs.new_job_id()
    # Checked, opened once and copied now: the worker reads the copy, never the path again.
    copy, fmt = jobs.snapshot_from_path(ctx, body.path, job_id, project.id)
    try:
        job = jobs.create_job(
            ctx, project, input_path=copy, source="path", fmt=fmt, text_columns=body.text_columns,
            id_column=body.id_column, top_k=body.top_k, actor=principal.actor, job_id=job_id,
        )
    except Exception:
        shutil.rmtree(copy.parent, ignore_errors=True)
        raise
    return convert.job_out(job)


@router.get("", response_model=JobList)
def list_jobs(
    project: CodeProject, ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobList:
    """The project's jobs, newest first."""
    return JobList(jobs=[convert.job_out(j) for j in jobs.list_jobs(ctx, project.id, limit=limit, offset=offset)])


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, project: CodeProject, ctx: ContextDep) -> JobOut:
    """The job's status and progress."""
    return convert.job_out(jobs.get_job(ctx, project.id, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: JobId, project: CodeProject, principal: PrincipalDep, ctx: ContextDep) -> JobOut:
    """Cancel a queued or running job."""
    return convert.job_out(jobs.cancel_job(ctx, project.id, job_id, actor=principal.actor))


@router.get(
    "/{job_id}/result",
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
    response_class=StreamingResponse,
    response_model=None,
)
def job_result(
    job_id: JobId, project: CodeProject, ctx: ContextDep,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
) -> StreamingResponse | FileResponse:
    """The coded records of a succeeded job, one row per input record, in input order."""
    job = jobs.get_job(ctx, project.id, job_id)
    if format == "parquet":
        return FileResponse(
            jobs.result_parquet(ctx, job), media_type="application/vnd.apache.parquet",
            filename=f"{job.id}.parquet",
        )
    stream = jobs.result_csv(ctx, job)
    first = next(stream, b"")  # raises ConflictError now, before the response starts

    def body():
        yield first
        yield from stream

    return StreamingResponse(
        body(), media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{job.id}.csv"'},
    )

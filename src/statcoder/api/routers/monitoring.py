"""Model-monitoring routes: run on demand (scope ``admin``), list, fetch, HTML report (any scope)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import HTMLResponse

from statcoder.api import convert
from statcoder.api.deps import AdminProject, AnyProject, ContextDep, PrincipalDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import MonitoringRunList, MonitoringRunOut
from statcoder.service import monitoring
from statcoder.service.monitoring import MonitoringOptions
from statcoder.store.tables import MAX_ROW_ID

router = APIRouter(prefix="/v1/projects/{project_id}/monitoring", tags=["monitoring"], responses=ERRORS)
RunId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
Column = Annotated[str, Form(min_length=1, max_length=200)]


def _read(ctx, upload: UploadFile, directory: FsPath, role: str):
    name = FsPath(upload.filename or "").name
    target = directory / f"{role}{FsPath(name).suffix.lower()}"
    with open(target, "wb") as out:
        shutil.copyfileobj(upload.file, out, length=1 << 20)
    return monitoring.read_upload(target, name, role=role, max_records=ctx.settings.max_train_records)


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.post("", response_model=MonitoringRunOut, status_code=201)
def create_run(
    project: AdminProject, principal: PrincipalDep, ctx: ContextDep,
    reference: Annotated[UploadFile, File(description="labelled held-out records (.csv or .parquet)")],
    current: Annotated[UploadFile, File(description="production records to monitor (.csv or .parquet)")],
    text_column: Column = "text",
    label_column: Column = "code",
    audit_column: Annotated[str | None, Form(max_length=200, description="auditor codes (blank if none)")] = None,
    period_column: Annotated[str | None, Form(max_length=200, description="period of each record")] = None,
    chunk_size: Annotated[int | None, Form(ge=1, le=10_000_000, description="records per period")] = None,
    estimator: Annotated[Literal["average_confidence", "cbpe", "atc"], Form()] = "cbpe",
) -> MonitoringRunOut:
    """Monitor the active model on the current file against the reference; store the run.

    Periods come from ``period_column``, else consecutive chunks of ``chunk_size`` records,
    else the whole current file is one period. Synchronous: the answer carries the alerts.
    """
    options = MonitoringOptions(
        text_column=text_column, label_column=label_column, audit_column=_blank_to_none(audit_column),
        period_column=_blank_to_none(period_column), chunk_size=chunk_size, estimator=estimator,
    )
    with tempfile.TemporaryDirectory(dir=ctx.data_dir) as tmp:
        ref = _read(ctx, reference, FsPath(tmp), "reference")
        cur = _read(ctx, current, FsPath(tmp), "current")
    run = monitoring.run_monitoring(ctx, project, ref, cur, options=options, actor=principal.actor)
    return convert.monitoring_run_out(run)


@router.get("", response_model=MonitoringRunList)
def list_runs(
    project: AnyProject, ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MonitoringRunList:
    """The project's monitoring runs, newest first, with their alerts."""
    runs = monitoring.list_runs(ctx, project.id, limit=limit, offset=offset)
    return MonitoringRunList(runs=[convert.monitoring_run_out(r, with_periods=False) for r in runs])


@router.get("/{run_id}", response_model=dict[str, Any])
def get_run(run_id: RunId, project: AnyProject, ctx: ContextDep) -> dict[str, Any]:
    """The run's full stored result (``MonitoringResult.to_dict()``) with the run's metadata."""
    run = monitoring.get_run(ctx, project.id, run_id)
    summary = convert.monitoring_run_out(run, with_periods=False)
    return {"run": summary.model_dump(mode="json", exclude={"alerts", "periods"}),
            "result": monitoring.run_result(run)}


@router.get("/{run_id}/report", response_class=HTMLResponse, responses={200: {"content": {"text/html": {}}}})
def run_report(run_id: RunId, project: AnyProject, ctx: ContextDep) -> HTMLResponse:
    """The run's HTML report (self-contained: inline SVG charts, sortable tables)."""
    return HTMLResponse(monitoring.report_html(monitoring.get_run(ctx, project.id, run_id)))

"""On-demand model-decay monitoring of a project's active model; runs are stored and listed.

A run fits :class:`statcoder.monitoring.Monitor` on a labelled reference file (the model's
held-out records) and calculates every signal on a current file split into periods. The
result JSON is stored with its alerts; the HTML report is rebuilt from it on request.
Record texts are never logged; the audit event holds counts and versions only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from statcoder.errors import InputError
from statcoder.service.audit import record
from statcoder.service.coding import active_coder
from statcoder.service.context import ServiceContext
from statcoder.service.errors import NotFoundError, PayloadTooLargeError
from statcoder.store.database import utcnow
from statcoder.store.monitoring import MonitoringRepository
from statcoder.store.tables import MonitoringRun, Project

TABLE_SUFFIXES = (".csv", ".parquet")
MAX_PERIODS = 200  # each period is scored and tested separately; more belongs to offline runs


@dataclass(frozen=True)
class MonitoringOptions:
    """Column names and period split of one run (None = not used)."""

    text_column: str = "text"
    label_column: str = "code"
    audit_column: str | None = None
    period_column: str | None = None
    chunk_size: int | None = None
    estimator: str = "cbpe"


def read_upload(path: Path, filename: str, *, role: str, max_records: int) -> pd.DataFrame:
    """Read an uploaded CSV or Parquet file as a frame of strings; InputError names ``role``.

    The server-side temporary path never appears in the error (``where`` is the role and the
    client's file name).
    """
    from statcoder.io import read_table

    suffix = Path(filename).suffix.lower()
    where = f"{role} file {filename!r}" if filename else f"{role} file"
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"unsupported {role} file type {suffix or '(none)'!r}", where=where,
                         hint="send a .csv (UTF-8, header row) or .parquet file")
    try:
        if suffix == ".csv":  # comma-separated, like job uploads (sniffing misreads one-column files)
            frame = _read_csv(path)
        else:
            frame = read_table(path)
    except InputError as exc:
        message = exc.message.replace(str(path), filename or role).replace(str(path.parent), "")
        raise InputError(f"the {role} file cannot be read: {message}", where=where,
                         hint=exc.hint or "send a valid CSV or Parquet file") from None
    if len(frame) > max_records:
        raise PayloadTooLargeError(f"{len(frame):,} records in the {role} file; the limit is {max_records:,}",
                                   where=where, hint="monitor a sample of the records")
    if frame.empty:
        raise InputError(f"the {role} file has no rows", where=where, hint="send a file with records")
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
                         hint="save it as UTF-8 (in Excel: 'CSV UTF-8')") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot parse the CSV: {first}", hint="send UTF-8 CSV with a header row") from None


def _require_columns(frame: pd.DataFrame, columns: list[str], *, role: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:30]))
        raise InputError(f"column(s) {', '.join(map(repr, missing))} not found", where=f"{role} file",
                         hint=f"the columns are: {shown}")


def run_monitoring(
    ctx: ServiceContext, project: Project, reference: pd.DataFrame, current: pd.DataFrame, *,
    options: MonitoringOptions, actor: str,
) -> MonitoringRun:
    """Monitor the project's active model on ``current`` against ``reference``; store the run.

    Without a period column or chunk size the whole current file is one period. Returns the
    stored run (its ``result_json`` is ``MonitoringResult.to_dict()``). NoActiveModelError if
    the project has no active model; InputError for missing columns or unusable data.
    """
    from statcoder.monitoring import AlertPolicy, Monitor, split_periods

    version, coder = active_coder(ctx, project)
    _require_columns(reference, [options.text_column, options.label_column], role="reference")
    wanted = [options.text_column] + [c for c in (options.period_column, options.audit_column) if c]
    _require_columns(current, wanted, role="current")
    chunk_size = options.chunk_size
    if options.period_column is None and chunk_size is None:
        chunk_size = len(current)
    monitor = Monitor(
        coder, text_columns=[options.text_column], label_column=options.label_column,
        audit_column=options.audit_column, period_column=options.period_column, chunk_size=chunk_size,
        policy=AlertPolicy(estimator=options.estimator),
    )
    parts = split_periods(current, period_column=options.period_column, chunk_size=chunk_size,
                          where="current file")
    if len(parts) > MAX_PERIODS:
        raise PayloadTooLargeError(f"{len(parts)} periods in one run; the limit is {MAX_PERIODS}",
                                   where="current file", hint="use a coarser period column or a larger chunk_size")
    for name, part in parts:
        # a period without any text cannot be scored (the monitor's calibrators need records)
        if not part[options.text_column].astype(str).str.strip().ne("").any():
            raise InputError(f"period {name!r} has no text in column {options.text_column!r}",
                             where="current file", hint="drop the records without text, or fill the text column")
    result = monitor.fit(reference).calculate(dict(parts))
    stored = result.to_dict()
    alerts = stored.get("alerts", [])
    run = MonitoringRun(
        project_id=project.id, model_version=version, n_periods=len(result.periods), n_alerts=len(alerts),
        alerts_json=json.dumps(alerts, ensure_ascii=False),
        result_json=json.dumps(stored, ensure_ascii=False, default=str),
        created_by=actor, created_at=utcnow(),
    )
    with ctx.db.write() as session:
        MonitoringRepository(session).add(run)
        record(session, project.id, actor=actor, action="monitoring.run", target=str(run.id), details={
            "model_version": version, "n_reference": len(reference), "n_current": len(current),
            "n_periods": run.n_periods, "n_alerts": run.n_alerts,
        })
    return run


def list_runs(ctx: ServiceContext, project_id: str, *, limit: int = 50, offset: int = 0) -> list[MonitoringRun]:
    """Return the project's monitoring runs, newest first."""
    with ctx.db.read() as session:
        return MonitoringRepository(session).page(project_id, limit=limit, offset=offset)


def get_run(ctx: ServiceContext, project_id: str, run_id: int) -> MonitoringRun:
    """Return the project's run; NotFoundError for an unknown run or another project's."""
    with ctx.db.read() as session:
        run = MonitoringRepository(session).get(project_id, run_id)
    if run is None:
        raise NotFoundError(f"monitoring run {run_id} not found", hint="list the project's monitoring runs")
    return run


def run_alerts(run: MonitoringRun) -> list[dict[str, Any]]:
    """Return the run's alerts (``Alert.to_dict`` each)."""
    return json.loads(run.alerts_json)


def run_result(run: MonitoringRun) -> dict[str, Any]:
    """Return the run's full stored result (``MonitoringResult.to_dict()``)."""
    return json.loads(run.result_json)


def report_html(run: MonitoringRun) -> str:
    """Return the HTML report of a stored run (rebuilt from its result JSON)."""
    from statcoder.monitoring import MonitoringResult
    from statcoder.monitoring.report import build_report

    result = MonitoringResult.from_dict(run_result(run))
    title = f"Model monitoring · project {run.project_id} · run {run.id}"
    return build_report(result, title=title).render()

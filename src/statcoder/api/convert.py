"""Store rows -> response schemas (timestamps made UTC-aware, JSON columns parsed)."""

from __future__ import annotations

import json

from statcoder.api import schemas
from statcoder.store import utc
from statcoder.store.tables import (
    ApiKey,
    AuditEvent,
    Job,
    ModelVersion,
    MonitoringRun,
    Project,
    ReviewTask,
)


def project_out(p: Project) -> schemas.ProjectOut:
    """Return the project's public view."""
    return schemas.ProjectOut(
        id=p.id, name=p.name, classification_name=p.classification_name,
        classification_version=p.classification_version,
        classification_fingerprint=p.classification_fingerprint, audit_rate=p.audit_rate,
        active_model_version=p.active_model_version, created_at=utc(p.created_at),
        retention_days=p.retention_days,
    )


def key_out(k: ApiKey) -> schemas.KeyOut:
    """Return the key without any secret material."""
    return schemas.KeyOut(
        id=k.id, name=k.name, scopes=k.scopes.split(","), created_at=utc(k.created_at),
        expires_at=utc(k.expires_at), revoked_at=utc(k.revoked_at),
    )


def model_out(m: ModelVersion, active: str | None) -> schemas.ModelOut:
    """Return the model version with its card."""
    return schemas.ModelOut(
        version=m.version, active=m.version == active, source=m.source, created_by=m.created_by,
        created_at=utc(m.created_at), card=json.loads(m.card_json),
    )


def job_error(stored: str | None) -> dict[str, str]:
    """Return a failed job's ``message`` and ``hint`` from its stored error (JSON; older rows: the
    message with the hint in it)."""
    if stored and stored.startswith('{"message"'):
        try:
            value = json.loads(stored)
            return {"message": str(value.get("message", "")), "hint": str(value.get("hint", ""))}
        except ValueError:
            pass
    return {"message": stored or "", "hint": ""}


def job_out(j: Job) -> schemas.JobOut:
    """Return the job's state and progress."""
    error = None
    if j.error_code:
        error = schemas.ErrorDetail(code=j.error_code, **job_error(j.error_message))
    progress = None
    if j.n_records is not None:
        progress = 1.0 if j.n_records == 0 else round(j.n_done / j.n_records, 6)
    return schemas.JobOut(
        id=j.id, status=j.status, source=j.source, input_format=j.input_format,
        text_columns=json.loads(j.text_columns), id_column=j.id_column,
        model_version=j.model_version, n_records=j.n_records, n_done=j.n_done, progress=progress,
        decisions={"auto": j.n_auto, "partial": j.n_partial, "review": j.n_review},
        error=error, created_at=utc(j.created_at), started_at=utc(j.started_at),
        finished_at=utc(j.finished_at), purged_at=utc(j.purged_at),
    )


def task_out(t: ReviewTask) -> schemas.TaskOut:
    """Return the task with its candidates parsed."""
    return schemas.TaskOut(
        id=t.id, reason=t.reason, status=t.status, record_id=t.record_id, job_id=t.job_id,
        text=t.text, predicted_code=t.predicted_code, predicted_level=t.predicted_level,
        confidence=t.confidence, decision=t.decision, candidates=json.loads(t.candidates),
        model_version=t.model_version, claimed_by=t.claimed_by, claimed_at=utc(t.claimed_at),
        code=t.code, coder_id=t.coder_id, time_spent_s=t.time_spent_s,
        submitted_at=utc(t.submitted_at), created_at=utc(t.created_at), margin=t.margin,
        fields=_fields(t.fields),
    )


def _fields(stored: str | None) -> dict[str, str] | None:
    """The task's auxiliary fields parsed (None when absent or not the JSON object written)."""
    try:
        value = json.loads(stored) if stored else None
    except ValueError:
        return None
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None


def event_out(e: AuditEvent) -> schemas.AuditEventOut:
    """Return the audit event with its details parsed."""
    return schemas.AuditEventOut(
        id=e.id, actor=e.actor, action=e.action, target=e.target, details=json.loads(e.details),
        created_at=utc(e.created_at),
    )


def monitoring_run_out(run: MonitoringRun, *, with_periods: bool = True) -> schemas.MonitoringRunOut:
    """Return a monitoring run's summary (periods from the stored result when asked)."""
    from statcoder.service.monitoring import run_alerts, run_result

    return schemas.MonitoringRunOut(
        id=run.id, created_at=utc(run.created_at), created_by=run.created_by, model_version=run.model_version,
        n_periods=run.n_periods, n_alerts=run.n_alerts,
        periods=run_result(run).get("periods", []) if with_periods else [],
        alerts=[schemas.MonitoringAlertOut(**a) for a in run_alerts(run)],
    )

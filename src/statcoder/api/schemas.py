"""Request and response bodies of the API (pydantic). No free text beyond what callers sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from statcoder.contract import Decision  # the one spelling of the decisions (auto, partial, review)

Scope = Literal["admin", "code", "review"]
#: a record's field value; NaN and infinities are refused (a report never shows them)
FieldValue = str | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None


class ErrorDetail(BaseModel):
    """What went wrong, a machine-readable code, and what to do about it."""

    code: str
    message: str
    hint: str = ""


class ErrorBody(BaseModel):
    """Every 4xx/5xx response body."""

    error: ErrorDetail


# ---- projects ---------------------------------------------------------------------------
class ProjectOut(BaseModel):
    """A project as its own keys see it."""

    id: str
    name: str
    classification_name: str
    classification_version: str
    classification_fingerprint: str
    audit_rate: float
    active_model_version: str | None
    created_at: datetime
    retention_days: int | None = Field(default=None, description="days finished job data and decided review texts are kept; null = forever")


class ProjectList(BaseModel):
    """The projects visible to the key: only its own."""

    projects: list[ProjectOut]


class ProjectSettingsIn(BaseModel):
    """Settings an admin may change."""

    model_config = ConfigDict(extra="forbid")
    audit_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    retention_days: int | None = Field(
        default=None, ge=1, le=36_500,
        description="purge finished jobs' inputs/results and decided review texts after this many days; "
        "null keeps them forever (omit the field to leave it unchanged)",
    )


# ---- keys -------------------------------------------------------------------------------
class KeyIn(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    expires_at: datetime | None = None


class KeyOut(BaseModel):
    """A key without its secret."""

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    """A new key; ``key`` is the secret token, shown only in this response."""

    key: str


class KeyList(BaseModel):
    """The project's keys."""

    keys: list[KeyOut]


# ---- models -----------------------------------------------------------------------------
class ModelOut(BaseModel):
    """A stored model version."""

    version: str
    active: bool
    source: str
    created_by: str
    created_at: datetime
    card: dict[str, Any]


class ModelList(BaseModel):
    """The project's model versions, oldest first, and the active one."""

    active_version: str | None
    models: list[ModelOut]


# ---- coding -----------------------------------------------------------------------------
class CodeRequest(BaseModel):
    """Records to code: each a flat object of fields; ``text_columns`` name the text fields."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"records": [{"id": "17", "text": "primary school teacher"}], "text_columns": ["text"], "top_k": 5},
        {"records": [{"id": "a", "title": "baker", "tasks": "bread and pastry"}], "text_columns": ["title", "tasks"]},
    ]})
    records: list[dict[str, FieldValue]] = Field(min_length=1)
    text_columns: list[str] = Field(default=["text"], min_length=1, max_length=20)
    id_field: str | None = Field(default="id", description="field copied to review tasks as record id")
    top_k: int = Field(default=5, ge=1, le=50)
    queue_review: StrictBool = Field(default=True, description="store review decisions and the audit sample as tasks")


class Candidate(BaseModel):
    """One candidate code with its title and probability."""

    code: str
    title: str = ""
    p: float


class CodedRecord(BaseModel):
    """An input record (fields echoed as strings) plus the coded-output contract."""

    model_config = ConfigDict(extra="allow")
    predicted_code: str
    predicted_level: int
    confidence: float
    decision: Decision
    source: str
    candidates: list[Candidate]
    review_task_id: int | None = None


class CodeResponse(BaseModel):
    """Coded records and the model version that produced them."""

    model_version: str
    records: list[CodedRecord]


# ---- jobs -------------------------------------------------------------------------------
class JobOut(BaseModel):
    """A job's state and progress."""

    id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    source: str
    input_format: str
    text_columns: list[str]
    id_column: str | None
    model_version: str
    n_records: int | None
    n_done: int
    progress: float | None = Field(description="share of records done, 0..1; null before staging")
    decisions: dict[str, int]
    error: ErrorDetail | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    purged_at: datetime | None = Field(default=None, description="when retention removed input and results")


class JobList(BaseModel):
    """The project's jobs, newest first."""

    jobs: list[JobOut]


class JobFromPath(BaseModel):
    """A job reading a file already on the server, inside an allowed directory."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=1000)
    text_columns: list[str] = Field(default=["text"], min_length=1, max_length=20)
    id_column: str | None = None
    top_k: int = Field(default=5, ge=1, le=50)


# ---- review -----------------------------------------------------------------------------
class TaskOut(BaseModel):
    """A review task with the model's candidates and, once submitted, the human code."""

    id: int
    reason: Literal["review", "audit", "quality"]
    status: Literal["open", "claimed", "done", "uncodable", "referred", "adjudicate"]
    record_id: str | None
    job_id: str | None
    text: str
    predicted_code: str
    predicted_level: int
    confidence: float
    decision: Decision
    candidates: list[Candidate]
    model_version: str
    claimed_by: str | None
    claimed_at: datetime | None
    code: str | None
    coder_id: str | None
    time_spent_s: float | None
    submitted_at: datetime | None
    created_at: datetime
    margin: float | None = Field(default=None, description="the model's first minus second candidate probability")
    fields: dict[str, str] | None = Field(default=None, description="the record's other fields sent with it (text)")


class TaskList(BaseModel):
    """A page of tasks; pass ``next_after_id`` as ``after_id`` for the next page."""

    tasks: list[TaskOut]
    next_after_id: int | None
    counts: dict[str, int]


CODER_ID_DOC = ("optional; decisions are bound to the calling key (recorded as 'key:<key id>'); "
                "if given it must equal that identity")


class ClaimIn(BaseModel):
    """A claim; the coder is the calling key."""

    model_config = ConfigDict(extra="forbid")
    coder_id: str | None = Field(default=None, min_length=1, max_length=100, description=CODER_ID_DOC)


class SubmitIn(BaseModel):
    """The coder's decision."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"code": "2341", "time_spent_s": 12.5}]})
    code: str = Field(min_length=1, max_length=50)
    coder_id: str | None = Field(default=None, min_length=1, max_length=100, description=CODER_ID_DOC)
    time_spent_s: float | None = Field(default=None, ge=0, le=86_400, allow_inf_nan=False)


# ---- audit ------------------------------------------------------------------------------
class AuditEventOut(BaseModel):
    """One state change."""

    id: int
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    created_at: datetime


class AuditList(BaseModel):
    """A page of events, newest first; pass ``next_before_id`` as ``before_id`` for older ones."""

    events: list[AuditEventOut]
    next_before_id: int | None


# ---- operations -------------------------------------------------------------------------
class Health(BaseModel):
    """Liveness / readiness."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = {}


# ---- monitoring -------------------------------------------------------------------------
class MonitoringAlertOut(BaseModel):
    """One alert of a monitoring run (see docs/monitoring.md for the signals)."""

    period: str
    signal: str
    level: int | None = Field(None, description="classification level (1 = top); null if none")
    severity: str = Field(description="\"warning\" (size > tolerance) or \"critical\" (> 2 x tolerance)")
    size: float | None = Field(None, description="deterioration, in the signal's units")
    since: str = Field("", description="first period of the run beyond tolerance")
    advice: str = ""
    value: float | None = None
    reference: float | None = None
    tolerance: float | None = None
    p_value: float | None = None
    q_value: float | None = None


class MonitoringRunOut(BaseModel):
    """A stored monitoring run: when, which model, its periods and alerts."""

    id: int
    created_at: datetime
    created_by: str
    model_version: str
    n_periods: int
    n_alerts: int
    periods: list[dict[str, Any]] = Field(
        default_factory=list, description="per period: records, estimated accuracy, audit accuracy, alerts"
    )
    alerts: list[MonitoringAlertOut]


class MonitoringRunList(BaseModel):
    """A page of monitoring runs, newest first."""

    runs: list[MonitoringRunOut]

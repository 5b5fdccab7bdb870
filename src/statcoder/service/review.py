"""The review queue: tasks from ``review`` decisions and the audit sample of ``auto`` ones.

Coders list, claim and submit tasks; submitted codes are kept with who and when, and can be
exported as labelled data for the next training set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from statcoder.errors import UnknownCodeError
from statcoder.io.csv_safety import CSV_LINE_END, neutralise_cell
from statcoder.service.audit import record
from statcoder.service.context import ServiceContext
from statcoder.service.errors import ConflictError, NotFoundError, shown_id
from statcoder.store import utc, utcnow
from statcoder.store.review import ReviewRepository
from statcoder.store.tables import Project, ReviewTask

EXPORT_COLUMNS = (
    "task_id", "record_id", "text", "code", "coder_id", "submitted_at", "time_spent_s",
    "reason", "predicted_code", "predicted_level", "confidence", "decision", "model_version",
    "job_id",
)


def select_for_review(
    decisions: Sequence[str], *, audit_rate: float, rng: np.random.Generator
) -> list[tuple[int, str]]:
    """Return (row index, reason) of the rows that become tasks.

    Every ``review`` row is taken (reason ``"review"``); each ``auto`` and each ``partial``
    row is taken with probability ``audit_rate`` (reason ``"audit"``), independently. Within
    each decision and predicted level this is a simple random sample, so the audit measures
    the real accuracy of automatic coding at every level it codes to (a ``partial`` record is
    coded automatically at a shallower level: its accuracy there is audited too).
    """
    draws = rng.random(len(decisions))
    chosen: list[tuple[int, str]] = []
    for i, decision in enumerate(decisions):
        if decision == "review":
            chosen.append((i, "review"))
        elif decision in ("auto", "partial") and draws[i] < audit_rate:
            chosen.append((i, "audit"))
    return chosen


def _storable(value: str | None, limit: int | None = None) -> str | None:
    """Return ``value`` without NUL characters (PostgreSQL text cannot hold them), cut to ``limit``."""
    if value is None:
        return None
    value = str(value).replace("\x00", "\ufffd")
    return value[:limit] if limit else value


MAX_FIELDS = 30
MAX_RECORD_ID = 200  # characters of a record id (the review_tasks.record_id column)
MAX_FIELD_CHARS = 500
OUTPUT_COLUMNS = ("predicted_code", "predicted_level", "confidence", "decision", "source", "candidates")


def candidate_margin(candidates_json: str) -> float:
    """Return p(best) - p(second) of a candidates JSON list (1.0 for one candidate, 0.0 for none).

    The workbench's active-learning order codes the smallest margins first.
    """
    import json

    import orjson

    try:
        try:
            parsed = orjson.loads(candidates_json)
        except orjson.JSONDecodeError:  # NaN/Infinity are not JSON; Python's json reads them
            parsed = json.loads(candidates_json)
        ps = sorted((float(c.get("p", 0.0)) for c in parsed), reverse=True)
    except (ValueError, TypeError, AttributeError):
        return 0.0
    if not ps:
        return 0.0
    return ps[0] - (ps[1] if len(ps) > 1 else 0.0)


def field_text(value: Any) -> str:
    """Return a record's field value as the service stores and answers it: missing -> "", true/false as
    JSON writes them (Python's str gave "True"), anything else as ``str`` gives it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def auxiliary_fields(values: Mapping[str, Any], exclude: Collection[str]) -> str | None:
    """Return a record's fields (``values``) other than ``exclude`` (its text fields and id) as JSON for the
    coder's screen: at most ``MAX_FIELDS`` fields of ``MAX_FIELD_CHARS`` characters, values as
    text (missing -> ""); None when it has no other field."""
    import json

    names = [k for k in values if k not in exclude][:MAX_FIELDS]
    if not names:
        return None
    return json.dumps({str(k): _storable(field_text(values[k]), MAX_FIELD_CHARS) for k in names},
                      ensure_ascii=False)


def _record_fields(coded: pd.DataFrame, rows: list[int], exclude: Collection[str]) -> list[str | None]:
    """Return, per chosen row, the record's auxiliary input columns as JSON (:func:`auxiliary_fields`)."""
    columns = [c for c in coded.columns if c not in OUTPUT_COLUMNS and c not in exclude][:MAX_FIELDS]
    if not columns:
        return [None] * len(rows)
    values = {c: coded[c].tolist() for c in columns}
    return [auxiliary_fields({c: values[c][i] for c in columns}, ()) for i in rows]


def build_tasks(
    project: Project, coded: pd.DataFrame, texts: Sequence[str], *, record_ids: Sequence[str | None],
    model_version: str, job_id: str | None, rng: np.random.Generator, exclude: Collection[str] = (),
) -> tuple[list[int], list[dict[str, Any]]]:
    """Return (row indexes, task rows ready for a bulk insert) for the rows that go to the queue.

    ``exclude``: the input columns not kept as the tasks' auxiliary fields (the text columns and
    the id column, stored as the task's text and record id)."""
    chosen = select_for_review(coded["decision"].tolist(), audit_rate=project.audit_rate, rng=rng)
    if not chosen:
        return [], []
    outputs = list(zip(*(coded[c].tolist() if c in coded.columns else [None] * len(coded) for c in OUTPUT_COLUMNS),
                       strict=True))
    fields = _record_fields(coded, [i for i, _ in chosen], exclude)
    return task_rows(project, outputs, texts, record_ids=record_ids, model_version=model_version, job_id=job_id,
                     chosen=chosen, fields=fields)


def task_rows(
    project: Project, outputs: Sequence[Sequence[Any]], texts: Sequence[str] | Mapping[int, str], *,
    record_ids: Sequence[str | None], model_version: str, job_id: str | None,
    chosen: list[tuple[int, str]], fields: Sequence[str | None] | None = None,
    margins: Sequence[float] | None = None,
) -> tuple[list[int], list[dict[str, Any]]]:
    """Return (row indexes, task rows) of the ``chosen`` (row, reason) pairs.

    ``outputs[i]`` holds record i's output columns in :data:`OUTPUT_COLUMNS` order (the
    service's list-based path needs no frame); ``texts[i]`` its text (a list, or a mapping
    holding the chosen rows); ``fields`` the records' input fields as JSON; ``margins[i]`` its
    candidate margin when the model gave it (``Coder.code_texts(margins=True)``), else it is
    read from the candidates JSON.
    """
    now = utcnow()
    tasks = []
    margin_of = (lambda i, _: float(margins[i])) if margins is not None else (lambda _, c: candidate_margin(c))
    for n, (i, reason) in enumerate(chosen):
        code, level, confidence, decision, _source, candidates = outputs[i]
        tasks.append({
            "project_id": project.id, "job_id": job_id, "record_id": _storable(record_ids[i], MAX_RECORD_ID),
            "text": _storable(texts[i]), "reason": reason, "predicted_code": str(code),
            "predicted_level": int(level), "confidence": float(confidence),
            "decision": str(decision), "candidates": str(candidates),
            "model_version": model_version, "status": "open", "created_at": now,
            "margin": margin_of(i, str(candidates)), "fields": fields[n] if fields is not None else None,
        })
    return [i for i, _ in chosen], tasks


def list_tasks(
    ctx: ServiceContext, project_id: str, *, status: str | None = "open", reason: str | None = None,
    limit: int = 50, after_id: int = 0,
) -> list[ReviewTask]:
    """Return up to ``limit`` of the project's tasks after ``after_id``, oldest first."""
    with ctx.db.read() as session:
        return ReviewRepository(session).page(
            project_id, status=status, reason=reason, limit=limit, after_id=after_id
        )


def get_task(ctx: ServiceContext, project_id: str, task_id: int) -> ReviewTask:
    """Return the project's task; NotFoundError for a missing task or another project's."""
    with ctx.db.read() as session:
        task = ReviewRepository(session).get(project_id, task_id)
    if task is None:
        raise NotFoundError(f"review task {task_id} not found", hint="list the open tasks")
    return task


def claim_task(ctx: ServiceContext, project_id: str, task_id: int, *, coder_id: str, actor: str) -> ReviewTask:
    """Give the task to ``coder_id``; ConflictError if another coder holds it or it is done."""
    with ctx.db.write() as session:
        repo = ReviewRepository(session)
        if repo.get(project_id, task_id) is None:
            raise NotFoundError(f"review task {task_id} not found", hint="list the open tasks")
        now = utcnow()
        lease = now + timedelta(seconds=ctx.settings.review_lease_seconds)
        if not repo.claim(task_id, coder_id, now, lease_until=lease):
            raise ConflictError(
                f"review task {task_id} is already claimed or done", hint="claim another open task"
            )
        record(session, project_id, actor=actor, action="review.claim", target=str(task_id),
               details={"coder_id": coder_id})
    return get_task(ctx, project_id, task_id)


def submit_task(
    ctx: ServiceContext, project: Project, task_id: int, *, code: str, coder_id: str,
    time_spent_s: float | None, actor: str,
) -> ReviewTask:
    """Record the coder's code for the task; the code must belong to the project's classification."""
    classification = ctx.classification(project)
    if code not in classification:
        raise UnknownCodeError(
            f"code {code!r} is not in {classification.name}", where="code",
            hint="submit a code of the project's classification",
        )
    with ctx.db.write() as session:
        repo = ReviewRepository(session)
        task = repo.get(project.id, task_id)
        if task is None:
            raise NotFoundError(f"review task {task_id} not found", hint="list the open tasks")
        if not repo.submit(task_id, code=code, coder_id=coder_id, time_spent_s=time_spent_s, when=utcnow()):
            raise ConflictError(
                f"review task {task_id} is done or claimed by another coder",
                hint="claim the task first, or pick another one",
            )
        record(session, project.id, actor=actor, action="review.submit", target=str(task_id),
               details={"coder_id": coder_id, "code": code, "predicted_code": task.predicted_code,
                        "reason": task.reason, "time_spent_s": time_spent_s})
    return get_task(ctx, project.id, task_id)


def queue_counts(ctx: ServiceContext, project_id: str) -> dict[str, int]:
    """Return the number of tasks per status: open, claimed, done, plus the workbench's
    ``uncodable``, ``referred`` and ``adjudicate`` when there are any."""
    with ctx.db.read() as session:
        counts = ReviewRepository(session).counts(project_id)
    base = {status: counts.get(status, 0) for status in ("open", "claimed", "done")}
    return {**base, **{s: n for s, n in counts.items() if s not in base and n}}


def export_labelled_csv(ctx: ServiceContext, project_id: str) -> Iterator[str]:
    """Yield the decided tasks as CSV text (header first): text + human code + provenance."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_END)
    writer.writerow(EXPORT_COLUMNS)
    with ctx.db.read() as session:
        for n, task in enumerate(ReviewRepository(session).iter_done(project_id), start=1):
            writer.writerow([neutralise_cell(value) for value in (
                task.id, task.record_id or "", task.text, task.code, task.coder_id,
                utc(task.submitted_at).isoformat() if task.submitted_at else "",
                "" if task.time_spent_s is None else task.time_spent_s, task.reason,
                task.predicted_code, task.predicted_level, task.confidence, task.decision,
                task.model_version, task.job_id or "",
            )])
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def add_quality_tasks(
    ctx: ServiceContext, project_id: str, suspicious: pd.DataFrame, *, text_columns: Sequence[str], actor: str,
) -> int:
    """Queue the suspicious training records found by ``statcoder quality`` for re-review.

    Each record becomes an open task with reason ``"quality"``: its text, the suggested code
    as ``predicted_code`` (with ``p_suggested`` as confidence) and ``row_number`` as the
    record id. Returns the number of tasks created. The suggested codes must belong to the
    project's classification (UnknownCodeError otherwise, before anything is written).
    """
    import json

    from statcoder.store.projects import ProjectRepository
    from statcoder.text.normalise import join_columns

    with ctx.db.read() as session:
        project = ProjectRepository(session).get(project_id)
    if project is None:
        raise NotFoundError(f"project {shown_id(project_id)} not found", hint="create it with `statcoder admin create-project`")
    classification = ctx.classification(project)
    if len(suspicious) == 0:
        return 0
    texts = join_columns(suspicious, list(text_columns), where="suspicious records")
    codes = [str(c) for c in suspicious["suggested_code"].tolist()]
    unknown = sorted({c for c in codes if c not in classification})
    if unknown:
        raise UnknownCodeError(
            f"{len(unknown)} suggested code(s) are not in the project's classification {classification.name}, "
            f"e.g. {', '.join(unknown[:5])}",
            where=f"--to-review {project_id}",
            hint="run statcoder quality with the project's classification file",
        )
    confidence = pd.to_numeric(suspicious.get("p_suggested", pd.Series([0.0] * len(codes))), errors="coerce").fillna(0.0)
    record_ids = suspicious["row_number"].tolist() if "row_number" in suspicious.columns else [None] * len(codes)
    now = utcnow()
    rows = [
        {
            "project_id": project.id, "job_id": None, "record_id": _storable(None if rid is None else str(rid), MAX_RECORD_ID),
            "text": _storable(text), "reason": "quality", "predicted_code": code,
            "predicted_level": classification.level(code), "confidence": float(p), "decision": "review",
            "candidates": json.dumps([{"code": code, "title": classification.title(code), "p": float(p)}]),
            "model_version": "quality-check", "status": "open", "created_at": now,
        }
        for text, code, p, rid in zip(texts, codes, confidence.tolist(), record_ids, strict=True)
    ]
    with ctx.db.write() as session:
        ReviewRepository(session).add_many(rows)
        record(session, project.id, actor=actor, action="review.quality", details={"tasks": len(rows)})
    return len(rows)

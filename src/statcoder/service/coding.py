"""Synchronous coding of up to ``max_batch_records`` records with the project's active model."""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from statcoder.contract import DECISIONS, OUTPUT_COLUMNS
from statcoder.errors import InputError
from statcoder.service.context import ServiceContext
from statcoder.service.errors import NoActiveModelError, PayloadTooLargeError
from statcoder.service.review import build_tasks
from statcoder.store.review import ReviewRepository
from statcoder.store.tables import Project


@dataclass
class CodingResult:
    """Coded records (input fields + output contract), the model version, and queued task ids."""

    model_version: str
    records: list[dict[str, Any]]
    review_task_ids: list[int | None]


def model_path(project_id: str, version: str) -> str:
    """Return where a model version lives, relative to the data directory."""
    return f"models/{project_id}/{version}"


def active_coder(ctx: ServiceContext, project: Project):  # -> statcoder.coder.Coder
    """Return (version, coder) of the project's active model; NoActiveModelError if none."""
    version = project.active_model_version
    if version is None:
        raise NoActiveModelError(
            f"project {project.id!r} has no active model",
            hint="upload or train a model, then promote it (POST .../models/{version}/promote)",
        )
    return version, ctx.models.get(project.id, version, model_path(project.id, version))


def input_frame(
    records: list[dict[str, Any]], *, text_columns: list[str], max_records: int, max_text_length: int
) -> pd.DataFrame:
    """Validate the records and return them as a frame of strings (missing values -> "")."""
    if not records:
        raise InputError("no records given", where="records", hint="send 1 or more records")
    if len(records) > max_records:
        raise PayloadTooLargeError(
            f"{len(records)} records in one request; the limit is {max_records}",
            where="records", hint="split the batch, or create a job for large files",
        )
    if not text_columns:
        raise InputError("no text column given", where="text_columns", hint="e.g. [\"text\"]")
    clash = sorted({c for r in records for c in r} & {*OUTPUT_COLUMNS, "model_version"})
    if clash:
        raise InputError(
            f"input field(s) {', '.join(clash)} clash with output columns", where="records",
            hint="rename those fields",
        )
    columns: dict[str, None] = {}
    for i, rec in enumerate(records):
        missing = [c for c in text_columns if c not in rec]
        if missing:
            raise InputError(
                f"text field(s) {', '.join(missing)} missing", where=f"records[{i}]",
                hint=f"every record needs the text fields {', '.join(text_columns)}",
            )
        columns.update(dict.fromkeys(rec))
    data = {c: ["" if r.get(c) is None else str(r[c]) for r in records] for c in columns}
    lengths = [sum(len(data[c][i]) for c in text_columns) for i in range(len(records))]
    too_long = [i for i, n in enumerate(lengths) if n > max_text_length]
    if too_long:
        raise PayloadTooLargeError(
            f"{len(too_long)} record(s) have texts longer than {max_text_length} characters",
            where=f"records[{too_long[0]}]", hint="shorten the texts",
        )
    return pd.DataFrame(data, columns=list(columns), dtype=object)


def decision_counts(decisions: pd.Series) -> dict[str, int]:
    """Return the number of records per decision (every decision present, zeros included)."""
    counts = decisions.value_counts()
    return {d: int(counts.get(d, 0)) for d in DECISIONS}


@dataclass
class PreparedRequest:
    """A validated coding request, ready for the (shared) model call."""

    project: Project
    frame: pd.DataFrame
    text_columns: list[str]
    id_field: str | None
    top_k: int
    queue_review: bool
    version: str
    coder: Any


def prepare(
    ctx: ServiceContext, project: Project, records: list[dict[str, Any]], *,
    text_columns: list[str], id_field: str | None = "id", top_k: int = 5, queue_review: bool = True,
) -> PreparedRequest:
    """Validate the records and pick the active model (loaded once per process)."""
    frame = input_frame(
        records, text_columns=text_columns, max_records=ctx.settings.max_batch_records,
        max_text_length=ctx.settings.max_text_length,
    )
    version, coder = active_coder(ctx, project)
    return PreparedRequest(project, frame, list(text_columns), id_field, top_k, queue_review, version, coder)


def submit(ctx: ServiceContext, request: PreparedRequest) -> Future:
    """Queue the model call (micro-batched); the future yields the output-contract columns."""
    text_columns, top_k, coder = request.text_columns, request.top_k, request.coder
    # Only the text columns go through the shared call; the output columns are attached to
    # this request's own frame in :func:`finish`.
    texts_only = request.frame[list(dict.fromkeys(text_columns))]
    return ctx.batcher.submit(
        (request.project.id, request.version, tuple(text_columns), top_k), texts_only,
        lambda f: coder.code(f, text_columns=text_columns, top_k=top_k)[list(OUTPUT_COLUMNS)],
    )


def finish(ctx: ServiceContext, request: PreparedRequest, predicted: pd.DataFrame) -> CodingResult:
    """Attach the predictions, queue review/audit tasks, and return the coded records."""
    from statcoder.text import join_columns

    frame = request.frame
    coded = frame.copy()
    for column in OUTPUT_COLUMNS:
        coded[column] = predicted[column].to_numpy()
    task_ids: list[int | None] = [None] * len(coded)
    if request.queue_review:
        texts = join_columns(frame, request.text_columns, where="records")
        id_field = request.id_field
        ids = frame[id_field].tolist() if id_field and id_field in frame.columns else [None] * len(frame)
        rows, tasks = build_tasks(
            request.project, coded, texts, record_ids=ids, model_version=request.version,
            job_id=None, rng=np.random.default_rng(),
        )
        if tasks:
            with ctx.db.write() as session:
                ids = ReviewRepository(session).add_many(tasks, return_ids=True)
            for row, task_id in zip(rows, ids, strict=True):
                task_ids[row] = task_id
    ctx.metrics.count_decisions(decision_counts(coded["decision"]), "sync")
    names = list(coded.columns)
    values = [coded[c].tolist() for c in names]
    out = []
    for row in zip(*values, strict=True):
        rec = dict(zip(names, row, strict=True))
        rec["predicted_level"] = int(rec["predicted_level"])
        rec["confidence"] = float(rec["confidence"])
        rec["candidates"] = json.loads(rec["candidates"])
        out.append(rec)
    return CodingResult(model_version=request.version, records=out, review_task_ids=task_ids)


def code_records(
    ctx: ServiceContext, project: Project, records: list[dict[str, Any]], *,
    text_columns: list[str], id_field: str | None = "id", top_k: int = 5, queue_review: bool = True,
) -> CodingResult:
    """Code ``records`` with the active model; queue review/audit tasks; return the result.

    Each output record holds its input fields plus ``predicted_code``, ``predicted_level``
    (1 = top), ``confidence`` (calibrated probability), ``decision``, ``source`` and
    ``candidates`` (a list of ``{"code", "title", "p"}``, best first). Blocks until done; the
    API awaits the same three steps without holding a thread during the model call.
    """
    request = prepare(ctx, project, records, text_columns=text_columns, id_field=id_field,
                      top_k=top_k, queue_review=queue_review)
    return finish(ctx, request, submit(ctx, request).result())

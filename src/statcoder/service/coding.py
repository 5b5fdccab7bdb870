"""Synchronous coding of up to ``max_batch_records`` records with the project's active model."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from statcoder.contract import DECISION, DECISIONS, OUTPUT_COLUMNS
from statcoder.errors import InputError
from statcoder.service.context import ServiceContext
from statcoder.service.errors import NoActiveModelError, PayloadTooLargeError
from statcoder.service.review import (
    MAX_RECORD_ID,
    auxiliary_fields,
    field_text,
    select_for_review,
    task_rows,
)
from statcoder.store.tables import Project
from statcoder.text.normalise import join_fields


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


MAX_FIELD_NAME = 200


_text_value = field_text  # a field value as coded text (missing -> "", true/false as in JSON)


def has_lone_surrogate(text: str) -> bool:
    """True if ``text`` holds a lone UTF-16 surrogate (valid in JSON escapes, not in UTF-8)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_records(
    records: list[dict[str, Any]], *, text_columns: list[str], id_field: str | None, max_records: int,
    max_text_length: int, max_record_fields: int = 50, max_batch_fields: int = 200,
) -> None:
    """Bound and validate a request's records before any work: count, fields, names, texts.

    Every record keeps its own fields (no widening to the union of the batch), so the work
    of a request grows with its size, never with ``records x distinct names``. Raises
    PayloadTooLargeError over a limit, InputError for missing text fields, output-name
    clashes and values that are not valid Unicode (lone surrogates).
    """
    if not records:
        raise InputError("no records given", where="records", hint="send 1 or more records")
    if len(records) > max_records:
        raise PayloadTooLargeError(
            f"{len(records):,} records in one request; the limit is {max_records:,}",
            where="records", hint="split the batch, or create a job for large files",
        )
    if not text_columns:
        raise InputError("no text column given", where="text_columns", hint="e.g. [\"text\"]")
    names: set[str] = set()
    for i, rec in enumerate(records):
        if len(rec) > max_record_fields:
            raise PayloadTooLargeError(
                f"a record has {len(rec)} fields; the limit is {max_record_fields}", where=f"records[{i}]",
                hint="send only the text fields and an id; keep other data on your side",
            )
        names.update(rec)
        if len(names) > max_batch_fields:
            raise PayloadTooLargeError(
                f"the records use more than {max_batch_fields} distinct field names", where=f"records[{i}]",
                hint="send records with the same few fields, or split the batch",
            )
        record_id = None if id_field is None or rec.get(id_field) is None else _text_value(rec[id_field])  # as stored
        if record_id is not None and len(record_id) > MAX_RECORD_ID:
            raise InputError(f"a record id is {len(record_id)} characters long; the limit is {MAX_RECORD_ID}",
                             where=f"records[{i}].{id_field}", hint="send shorter ids (they are stored with the tasks)")
        missing = [c for c in text_columns if c not in rec]
        if missing:
            raise InputError(
                f"text field(s) {', '.join(missing)} missing", where=f"records[{i}]",
                hint=f"every record needs the text fields {', '.join(text_columns)}",
            )
        length = 0
        for value in rec.values():
            if isinstance(value, str) and has_lone_surrogate(value):
                raise InputError("a value is not valid Unicode (lone surrogate)", where=f"records[{i}]",
                                 hint="send UTF-8 text; remove unpaired \\ud800-\\udfff escapes")
        for c in text_columns:
            length += len(_text_value(rec[c]))
        if length > max_text_length:
            raise PayloadTooLargeError(
                f"a record has texts longer than {max_text_length} characters",
                where=f"records[{i}]", hint="shorten the texts",
            )
    long_names = [n for n in names if len(n) > MAX_FIELD_NAME]
    if long_names:
        raise InputError(f"field names are limited to {MAX_FIELD_NAME} characters", where="records",
                         hint="use short field names")
    if any(has_lone_surrogate(n) for n in names) or any(has_lone_surrogate(c) for c in text_columns) or (
            id_field is not None and has_lone_surrogate(id_field)):
        raise InputError("a field name is not valid Unicode (lone surrogate)", where="records",
                         hint="send UTF-8 field names")
    clash = sorted(names & {*OUTPUT_COLUMNS, "model_version", "review_task_id"})
    if clash:
        raise InputError(
            f"input field(s) {', '.join(clash)} clash with output columns", where="records",
            hint="rename those fields",
        )


def decision_counts(decisions: pd.Series | list[str]) -> dict[str, int]:
    """Return the number of records per decision (every decision present, zeros included)."""
    counts = Counter(decisions.tolist() if isinstance(decisions, pd.Series) else decisions)
    return {d: int(counts.get(d, 0)) for d in DECISIONS}


#: one record's output columns, in :data:`OUTPUT_COLUMNS` order
Output = tuple[Any, ...]


class Coded:
    """Output columns of some records (``Coder.code_texts``), split between requests without copies.

    ``len()`` is the number of records; a slice is a ``Coded`` of those records (array views);
    an index is that record's :data:`Output` tuple (the review-task rows read it).
    """

    __slots__ = ("columns",)

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[DECISION])

    def __getitem__(self, item: int | slice) -> Any:
        if isinstance(item, slice):
            return Coded({name: values[item] for name, values in self.columns.items()})
        return tuple(self.columns[name][item] for name in OUTPUT_COLUMNS)

    def rows(self) -> list[Output]:
        """Return every record's :data:`Output` tuple (plain Python values; one ``tolist`` per column)."""
        return list(zip(*(self.columns[name].tolist() for name in OUTPUT_COLUMNS), strict=True))

    def decisions(self) -> list[str]:
        """Return the decision per record."""
        return self.columns[DECISION].tolist()


@dataclass
class PreparedRequest:
    """A validated coding request, ready for the (shared) model call.

    ``texts`` holds each record's text fields (one tuple per record, in the order of the
    distinct ``text_columns``) and ``ids`` its id field; no frame is built per request.
    """

    project: Project
    records: list[dict[str, Any]]
    texts: list[tuple[str, ...]]
    ids: list[str | None]
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
    settings = ctx.settings
    check_records(records, text_columns=text_columns, id_field=id_field, max_records=settings.max_batch_records,
                  max_text_length=settings.max_text_length, max_record_fields=settings.max_record_fields,
                  max_batch_fields=settings.max_batch_fields)
    version, coder = active_coder(ctx, project)
    columns = list(dict.fromkeys(text_columns))
    if len(columns) == 1:
        c = columns[0]
        texts = [(_text_value(r[c]),) for r in records]
    else:
        texts = [tuple(_text_value(r[c]) for c in columns) for r in records]
    # a record without the id field (or with null) has no id: its task's record_id is null, not ""
    ids = [None if r.get(id_field) is None else _text_value(r[id_field]) for r in records] if id_field else [None] * len(records)
    return PreparedRequest(project, records, texts, ids, list(text_columns), id_field, top_k, queue_review,
                           version, coder)


def model_call(coder: Any, text_columns: list[str], top_k: int):  # -> Callable[[list], Coded]
    """Return the batcher's code function: text tuples -> :class:`Coded`, one ``Coder.code_texts`` call.

    Texts are joined as ``Coder.code`` joins ``text_columns`` (" | " between non-empty
    stripped fields; the index looks up the first field); no frame is built.
    """
    distinct = list(dict.fromkeys(text_columns))
    positions = [distinct.index(c) for c in text_columns]

    def code(rows: list[tuple[str, ...]]) -> Coded:
        if len(positions) == 1:
            texts = [r[0] for r in rows]
            return Coded(coder.code_texts(texts, top_k=top_k, margins=True))
        texts = [join_fields([r[k] for k in positions]) for r in rows]
        return Coded(coder.code_texts(texts, index_texts=[r[positions[0]] for r in rows], top_k=top_k, margins=True))

    return code


def submit(ctx: ServiceContext, request: PreparedRequest) -> Future:
    """Queue the model call (micro-batched); the future yields the request's :class:`Coded` columns.

    Requests share a call only with requests of the same project, model version, text
    columns and top_k; each gets back exactly its own records' outputs.
    """
    return ctx.batcher.submit(
        (request.project.id, request.version, tuple(request.text_columns), request.top_k), request.texts,
        model_call(request.coder, request.text_columns, request.top_k),
    )


def code_now(ctx: ServiceContext, request: PreparedRequest, *, beside: bool = False) -> Coded | None:
    """Code the request in the caller's thread when the model thread is idle; None otherwise.

    ``beside=True``: also while the model thread codes other keys (see ``MicroBatcher.run_now``).
    """
    return ctx.batcher.run_now(
        (request.project.id, request.version, tuple(request.text_columns), request.top_k), request.texts,
        model_call(request.coder, request.text_columns, request.top_k), beside=beside,
    )


def finish(ctx: ServiceContext, request: PreparedRequest, predicted: Coded) -> CodingResult:
    """Attach the predictions, queue review/audit tasks, and return the coded records.

    Each record comes back with its own input fields (as strings) plus the output columns.
    """
    return assemble(ctx, request, predicted, queue_tasks(ctx, request, predicted))


def _candidates(value: str) -> Any:
    """Return the candidates JSON for the answer: embedded as is (no parse) when it is plain JSON."""
    if "NaN" in value or "Infinity" in value:  # not JSON: parse (Python's json reads them) and re-encode
        return json.loads(value)
    return orjson.Fragment(value)


def assemble(
    ctx: ServiceContext, request: PreparedRequest, predicted: Coded, task_ids: list[int | None]
) -> CodingResult:
    """Return the coded records (own input fields as strings + output columns); counts metrics."""
    return result(ctx, request, predicted, coded_records(request, predicted), task_ids)


def coded_records(request: PreparedRequest, predicted: Coded) -> list[dict[str, Any]]:
    """Return each record's own input fields (as strings) plus its output columns.

    Built from the output columns (one ``tolist`` per column), not from per-record tuples.
    """
    cols = predicted.columns
    out = []
    for rec, code, level, confidence, decision, source, candidates in zip(
            request.records, *(cols[c].tolist() for c in OUTPUT_COLUMNS), strict=True):
        coded = {k: v if isinstance(v, str) else _text_value(v) for k, v in rec.items()}
        coded.update(predicted_code=code, predicted_level=level, confidence=confidence,
                     decision=decision, source=source, candidates=_candidates(candidates))
        out.append(coded)
    return out


def result(
    ctx: ServiceContext, request: PreparedRequest, predicted: Coded, records: list[dict[str, Any]],
    task_ids: list[int | None],
) -> CodingResult:
    """Return the request's result from its coded records and task ids; counts the decisions."""
    ctx.metrics.count_decisions(decision_counts(predicted.decisions()), "sync")
    return CodingResult(model_version=request.version, records=records, review_task_ids=task_ids)


def review_rows(
    ctx: ServiceContext, request: PreparedRequest, predicted: Coded
) -> tuple[list[int], list[dict[str, Any]]]:
    """Return (row indexes, task rows) of the request's records that go to the review queue."""
    if not request.queue_review:
        return [], []
    chosen = select_for_review(predicted.decisions(), audit_rate=request.project.audit_rate, rng=ctx.rng)
    if not chosen:
        return [], []
    texts = {i: join_fields(request.texts[i]) for i, _ in chosen}  # the chosen records' only
    return task_rows(request.project, predicted.rows(), texts, record_ids=request.ids,
                     model_version=request.version, job_id=None, chosen=chosen,
                     margins=predicted.columns.get("margin"), fields=_task_fields(request, chosen))


def _task_fields(request: PreparedRequest, chosen: list[tuple[int, str]]) -> list[str | None] | None:
    """The chosen records' auxiliary fields (all but the text fields and the id) as JSON; None
    when no record of the request has one (the usual ``{"id", "text"}`` request pays one scan)."""
    known = {*request.text_columns, request.id_field}
    records = request.records
    if all(k in known for rec in records for k in rec):
        return None
    return [auxiliary_fields(records[i], known) for i, _ in chosen]


def queue_tasks(ctx: ServiceContext, request: PreparedRequest, predicted: Coded) -> list[int | None]:
    """Store the request's review/audit tasks; returns the task id per record (None if not queued)."""
    return store_tasks(ctx, len(predicted), review_rows(ctx, request, predicted))


def store_tasks(
    ctx: ServiceContext, n_records: int, chosen: tuple[list[int], list[dict[str, Any]]]
) -> list[int | None]:
    """Insert the chosen task rows (one transaction); returns the task id per record or None."""
    rows, tasks = chosen
    return place_task_ids(n_records, rows, ctx.task_writer.write(tasks) if tasks else [])


def place_task_ids(n_records: int, rows: list[int], ids: list[int]) -> list[int | None]:
    """Return the task id per record: ``ids[k]`` at ``rows[k]``, None elsewhere."""
    task_ids: list[int | None] = [None] * n_records
    for row, task_id in zip(rows, ids, strict=True):
        task_ids[row] = task_id
    return task_ids


def render(result: CodingResult, *, max_bytes: int) -> bytes:
    """Return the JSON answer of ``POST /code``; PayloadTooLargeError past ``max_bytes``."""
    records = result.records
    for rec, task_id in zip(records, result.review_task_ids, strict=True):
        rec["review_task_id"] = task_id
    body = orjson.dumps({"model_version": result.model_version, "records": records})
    if len(body) > max_bytes:
        raise PayloadTooLargeError(
            f"the answer would be {len(body)} bytes; the limit is {max_bytes}", where="records",
            hint="send fewer records or fields per request, or a smaller top_k",
        )
    return body


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

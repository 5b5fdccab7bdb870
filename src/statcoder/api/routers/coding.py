"""Synchronous coding route (JSON in, JSON out; the model call is micro-batched).

The same work also runs from :mod:`statcoder.api.fastpath`, which serves the common case of
this route (a cached key, a JSON body that validates) without FastAPI's routing and
dependency machinery; both call :func:`answer`.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from statcoder.api.deps import CodeProject, ContextDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import CodeRequest, CodeResponse
from statcoder.service import coding
from statcoder.service.context import ServiceContext
from statcoder.store.tables import Project

router = APIRouter(prefix="/v1", tags=["coding"], responses=ERRORS)
PATH = "/v1/projects/{project_id}/code"


@router.post("/projects/{project_id}/code", response_model=None, responses={200: {"model": CodeResponse}})
async def code(body: CodeRequest, project: CodeProject, ctx: ContextDep, request: Request) -> Response:
    """Code 1..max_batch_records records with the project's active model (scope ``code``).

    Each record comes back with its own fields plus ``predicted_code``, ``predicted_level``,
    ``confidence``, ``decision``, ``source``, ``candidates`` and, when it was queued for
    review or audit, ``review_task_id``.
    """
    return Response(await answer(ctx, project, body, connection=request.scope.get("client")),
                    media_type="application/json")


#: requests of at most this many records are prepared, selected and assembled on the event loop
#: (each step under ~1 ms of interpreter time); larger ones in the thread pool. A thread hop
#: costs more than that work (the thread needs the interpreter lock the loop holds), so a
#: 100-record request is answered faster without one, and the loop is not held longer.
INLINE_RECORDS = 200


async def answer(ctx: ServiceContext, project: Project, body: CodeRequest, *, connection: object = None) -> bytes:
    """Code the request's records and return the JSON answer (bytes); raises service errors.

    ``connection`` identifies the client connection (the ASGI ``client``: address and port).
    """
    settings = ctx.settings
    n = len(body.records)
    ctx.gate.seen(project.id, connection)
    # Fair admission: records in flight are bounded per project, waiting projects take turns.
    async with ctx.gate.admitted(project.id, n):
        # No thread is held while waiting for the model or the store.
        if n <= INLINE_RECORDS:
            request = coding.prepare(ctx, project, body.records, text_columns=body.text_columns,
                                     id_field=body.id_field, top_k=body.top_k, queue_review=body.queue_review)
            # A lone request (nothing else admitted in this process) is coded and written right
            # here: with nothing to batch or group with, thread hand-overs are pure cost. A small
            # request that is its project's only one is coded here too, beside another project's
            # model call, and its tasks written here when no other write is under way: it does
            # not wait behind a busy project's batches or group commits.
            predicted = None
            alone = ctx.gate.alone()
            only_one = not alone and n <= settings.small_request_records and ctx.gate.only_one(project.id)
            if alone:
                predicted = coding.code_now(ctx, request)
            elif only_one:
                predicted = coding.code_now(ctx, request, beside=True)
            if predicted is None:
                predicted = await _model(ctx, request)
            chosen = coding.review_rows(ctx, request, predicted)
            ids, built = None, []
            if chosen[1] and (alone or only_one):
                # the answer's records are built while PostgreSQL runs the insert
                ids = ctx.task_writer.write_now(chosen[1], wait=ctx.gate.alone(), meanwhile=lambda: built.append(
                    coding.coded_records(request, predicted)))
                if ids is None and only_one:  # PostgreSQL: beside another project's group commit
                    ids = ctx.task_writer.write_beside(chosen[1])
            # otherwise the answer's records are built while the writer thread stores the tasks
            pending = ctx.task_writer.submit(chosen[1]) if chosen[1] and ids is None else None
            records = built[0] if built else coding.coded_records(request, predicted)
            if pending is not None:
                ids = await asyncio.wrap_future(pending)
            result = coding.result(ctx, request, predicted, records, coding.place_task_ids(n, chosen[0], ids or []))
            return coding.render(result, max_bytes=settings.max_response_bytes)
        request = await run_in_threadpool(
            coding.prepare, ctx, project, body.records, text_columns=body.text_columns,
            id_field=body.id_field, top_k=body.top_k, queue_review=body.queue_review)
        predicted = await _model(ctx, request)
        chosen = await run_in_threadpool(coding.review_rows, ctx, request, predicted)
        task_ids = await _tasks(ctx, n, chosen)
        return await run_in_threadpool(
            lambda: coding.render(coding.assemble(ctx, request, predicted, task_ids),
                                  max_bytes=settings.max_response_bytes))


async def _model(ctx: ServiceContext, request: coding.PreparedRequest) -> coding.Coded:
    """Await the (micro-batched) model call; unbatched, it runs in the thread pool."""
    if ctx.batcher.enabled:
        return await asyncio.wrap_future(coding.submit(ctx, request))
    return await run_in_threadpool(lambda: coding.submit(ctx, request).result())


async def _tasks(ctx: ServiceContext, n: int, chosen: tuple[list[int], list[dict]]) -> list[int | None]:
    """Store the chosen task rows through the group-commit writer; returns the task id per record."""
    ids = await asyncio.wrap_future(ctx.task_writer.submit(chosen[1])) if chosen[1] else []
    return coding.place_task_ids(n, chosen[0], ids)

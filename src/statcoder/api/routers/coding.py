"""Synchronous coding route (JSON in, JSON out; the model call is micro-batched)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from statcoder.api.deps import CodeProject, ContextDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import CodeRequest, CodeResponse
from statcoder.service import coding

router = APIRouter(prefix="/v1", tags=["coding"], responses=ERRORS)


@router.post("/projects/{project_id}/code", response_model=None, responses={200: {"model": CodeResponse}})
async def code(body: CodeRequest, project: CodeProject, ctx: ContextDep) -> Response:
    """Code 1..max_batch_records records with the project's active model (scope ``code``).

    Each record comes back with its own fields plus ``predicted_code``, ``predicted_level``,
    ``confidence``, ``decision``, ``source``, ``candidates`` and, when it was queued for
    review or audit, ``review_task_id``.
    """
    settings = ctx.settings
    n = len(body.records)
    # Fair admission: records in flight are bounded per project, waiting projects take turns.
    async with ctx.gate.admitted(project.id, n):
        small = n <= settings.small_request_records
        # A small request is validated and assembled on the event loop (microseconds, no thread
        # hop); a large one in the thread pool. No thread is held while waiting for the model.
        def offload(fn, *args, **kwargs):
            return fn(*args, **kwargs) if small else run_in_threadpool(fn, *args, **kwargs)

        request = offload(
            coding.prepare, ctx, project, body.records, text_columns=body.text_columns,
            id_field=body.id_field, top_k=body.top_k, queue_review=body.queue_review,
        )
        request = request if small else await request
        if ctx.batcher.wait_s > 0:
            predicted = await asyncio.wrap_future(coding.submit(ctx, request))
        else:  # unbatched: the model call runs in a worker thread, not on the event loop
            predicted = await run_in_threadpool(lambda: coding.submit(ctx, request).result())
        chosen = coding.review_rows(request, predicted) if small else await run_in_threadpool(
            coding.review_rows, request, predicted)
        # Task rows go to the group-commit writer (one transaction for concurrent requests).
        ids = await asyncio.wrap_future(ctx.task_writer.submit(chosen[1])) if chosen[1] else []
        task_ids = coding.place_task_ids(n, chosen[0], ids)
        if small:
            payload = coding.render(coding.assemble(ctx, request, predicted, task_ids),
                                    max_bytes=settings.max_response_bytes)
        else:
            payload = await run_in_threadpool(
                lambda: coding.render(coding.assemble(ctx, request, predicted, task_ids),
                                      max_bytes=settings.max_response_bytes))
    return Response(payload, media_type="application/json")

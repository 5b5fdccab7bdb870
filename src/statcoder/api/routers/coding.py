"""Synchronous coding route (JSON in, JSON out; the model call is micro-batched)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from statcoder.api.deps import CodeProject, ContextDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import CodeRequest, CodeResponse
from statcoder.service import coding

router = APIRouter(prefix="/v1", tags=["coding"], responses=ERRORS)


@router.post("/projects/{project_id}/code", response_model=None, responses={200: {"model": CodeResponse}})
async def code(body: CodeRequest, project: CodeProject, ctx: ContextDep) -> JSONResponse:
    """Code 1..max_batch_records records with the project's active model (scope ``code``).

    Each record comes back with its fields plus ``predicted_code``, ``predicted_level``,
    ``confidence``, ``decision``, ``source``, ``candidates`` and, when it was queued for
    review or audit, ``review_task_id``.
    """
    # No thread is held while the request waits for its (micro-batched) model call.
    request = await run_in_threadpool(
        coding.prepare, ctx, project, body.records, text_columns=body.text_columns,
        id_field=body.id_field, top_k=body.top_k, queue_review=body.queue_review,
    )
    if ctx.batcher.wait_s > 0:
        predicted = await asyncio.wrap_future(coding.submit(ctx, request))
    else:  # unbatched: the model call runs in the caller's thread, so not on the event loop
        predicted = await run_in_threadpool(lambda: coding.submit(ctx, request).result())
    result = await run_in_threadpool(coding.finish, ctx, request, predicted)
    records = [
        {**rec, "review_task_id": task_id}
        for rec, task_id in zip(result.records, result.review_task_ids, strict=True)
    ]
    # Validated once against the contract, then sent as is (no second pass by FastAPI).
    body_out = CodeResponse.model_validate({"model_version": result.model_version, "records": records})
    return JSONResponse(body_out.model_dump(mode="json"))

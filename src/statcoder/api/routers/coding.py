"""Synchronous coding route."""

from __future__ import annotations

from fastapi import APIRouter

from statcoder.api.deps import CodeProject, ContextDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import CodeRequest, CodeResponse
from statcoder.service.coding import code_records

router = APIRouter(prefix="/v1", tags=["coding"], responses=ERRORS)


@router.post("/projects/{project_id}/code", response_model=CodeResponse)
def code(body: CodeRequest, project: CodeProject, ctx: ContextDep) -> CodeResponse:
    """Code 1..max_batch_records records with the project's active model (scope ``code``).

    Each record comes back with its fields plus ``predicted_code``, ``predicted_level``,
    ``confidence``, ``decision``, ``source``, ``candidates`` and, when it was queued for
    review or audit, ``review_task_id``.
    """
    result = code_records(
        ctx, project, body.records, text_columns=body.text_columns, id_field=body.id_field,
        top_k=body.top_k, queue_review=body.queue_review,
    )
    records = [
        {**rec, "review_task_id": task_id}
        for rec, task_id in zip(result.records, result.review_task_ids, strict=True)
    ]
    return CodeResponse.model_validate({"model_version": result.model_version, "records": records})

"""Review-queue routes: list, claim, submit, export (scope ``review``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from statcoder.api import convert
from statcoder.api.deps import ContextDep, PrincipalDep, ReviewProject
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import ClaimIn, SubmitIn, TaskList, TaskOut
from statcoder.service import review
from statcoder.service.errors import PermissionDeniedError
from statcoder.service.keys import Principal
from statcoder.store.tables import MAX_ROW_ID

router = APIRouter(prefix="/v1/projects/{project_id}/review", tags=["review"], responses=ERRORS)
TaskId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def bound_coder(principal: Principal, claimed: str | None) -> str:
    """Return the coder identity of the request: the calling key, never a name the client picks.

    PermissionDeniedError when the body names another coder.
    """
    if claimed is not None and claimed != principal.actor:
        raise PermissionDeniedError(
            "coder_id does not match the calling key", where="coder_id",
            hint=f"omit coder_id: decisions are recorded under the key ({principal.actor}); "
            "give each coder a key of their own",
        )
    return principal.actor


@router.get("/tasks", response_model=TaskList)
def list_tasks(
    project: ReviewProject, ctx: ContextDep,
    status: Annotated[Literal["open", "claimed", "done", "uncodable", "referred", "adjudicate", "all"],
                      Query()] = "open",
    reason: Annotated[Literal["review", "audit", "quality"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after_id: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> TaskList:
    """A page of the project's tasks, oldest first."""
    tasks = review.list_tasks(
        ctx, project.id, status=None if status == "all" else status, reason=reason, limit=limit,
        after_id=after_id,
    )
    return TaskList(
        tasks=[convert.task_out(t) for t in tasks],
        next_after_id=tasks[-1].id if len(tasks) == limit else None,
        counts=review.queue_counts(ctx, project.id),
    )


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: TaskId, project: ReviewProject, ctx: ContextDep) -> TaskOut:
    """One task."""
    return convert.task_out(review.get_task(ctx, project.id, task_id))


@router.post("/tasks/{task_id}/claim", response_model=TaskOut)
def claim_task(
    task_id: TaskId, body: ClaimIn, project: ReviewProject, principal: PrincipalDep, ctx: ContextDep
) -> TaskOut:
    """Claim an open task for the calling key's coder (409 if another coder holds it)."""
    coder_id = bound_coder(principal, body.coder_id)
    task = review.claim_task(ctx, project.id, task_id, coder_id=coder_id, actor=principal.actor)
    return convert.task_out(task)


@router.post("/tasks/{task_id}/submit", response_model=TaskOut)
def submit_task(
    task_id: TaskId, body: SubmitIn, project: ReviewProject, principal: PrincipalDep, ctx: ContextDep
) -> TaskOut:
    """Submit the coder's code and time spent; the decision is recorded under the calling key."""
    task = review.submit_task(
        ctx, project, task_id, code=body.code, coder_id=bound_coder(principal, body.coder_id),
        time_spent_s=body.time_spent_s, actor=principal.actor,
    )
    return convert.task_out(task)


@router.get("/export", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
def export_labelled(project: ReviewProject, ctx: ContextDep) -> StreamingResponse:
    """The submitted decisions as labelled CSV (text, code, coder, time, provenance)."""
    return StreamingResponse(
        review.export_labelled_csv(ctx, project.id), media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{project.id}-labelled.csv"'},
    )

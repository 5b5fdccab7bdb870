"""Project, key and audit-log routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from statcoder.api import convert
from statcoder.api.deps import AdminProject, AnyProject, ContextDep, PrincipalDep
from statcoder.api.routers.common import ERRORS
from statcoder.api.schemas import (
    AuditList,
    KeyCreated,
    KeyIn,
    KeyList,
    KeyOut,
    ProjectList,
    ProjectOut,
    ProjectSettingsIn,
)
from statcoder.service import audit, keys, projects
from statcoder.store.tables import MAX_ROW_ID

router = APIRouter(prefix="/v1", tags=["projects"], responses=ERRORS)


@router.get("/projects", response_model=ProjectList)
def list_projects(principal: PrincipalDep, ctx: ContextDep) -> ProjectList:
    """The projects this key can see: only its own."""
    return ProjectList(projects=[convert.project_out(projects.get_project(ctx, principal.project_id))])


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(project: AnyProject) -> ProjectOut:
    """The project, its classification and its active model version."""
    return convert.project_out(project)


@router.patch("/projects/{project_id}", response_model=ProjectOut)
def update_project(
    body: ProjectSettingsIn, project: AdminProject, principal: PrincipalDep, ctx: ContextDep
) -> ProjectOut:
    """Change the project's settings (admin). Recorded in the audit log."""
    retention = body.retention_days if "retention_days" in body.model_fields_set else projects.KEEP
    updated = projects.update_settings(ctx, project.id, audit_rate=body.audit_rate, actor=principal.actor,
                                       retention_days=retention)
    return convert.project_out(updated)


@router.get("/projects/{project_id}/keys", response_model=KeyList)
def list_keys(project: AdminProject, ctx: ContextDep) -> KeyList:
    """The project's keys, without secrets (admin)."""
    return KeyList(keys=[convert.key_out(k) for k in keys.list_keys(ctx, project.id)])


@router.post("/projects/{project_id}/keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyIn, project: AdminProject, principal: PrincipalDep, ctx: ContextDep) -> KeyCreated:
    """Create a key (admin). The secret is in this response only."""
    issued = keys.issue_key(
        ctx, project.id, scopes=list(body.scopes), name=body.name, expires_at=body.expires_at,
        actor=principal.actor,
    )
    return KeyCreated(**convert.key_out(issued.key).model_dump(), key=issued.secret)


@router.delete("/projects/{project_id}/keys/{key_id}", response_model=KeyOut)
def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=32)],
    project: AdminProject, principal: PrincipalDep, ctx: ContextDep,
) -> KeyOut:
    """Revoke a key of the project (admin)."""
    return convert.key_out(keys.revoke_key(ctx, project.id, key_id, actor=principal.actor))


@router.get("/projects/{project_id}/audit", response_model=AuditList)
def read_audit_log(
    project: AdminProject, ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
) -> AuditList:
    """The project's audit log, newest first (admin)."""
    events = audit.read_log(ctx, project.id, limit=limit, before_id=before_id, action=action)
    next_before = events[-1].id if len(events) == limit else None
    return AuditList(events=[convert.event_out(e) for e in events], next_before_id=next_before)

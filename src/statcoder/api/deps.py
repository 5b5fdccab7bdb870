"""FastAPI dependencies: the service context, the calling key, and per-scope project access."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from statcoder.service.context import ServiceContext
from statcoder.service.keys import Principal, authenticate, authorize
from statcoder.store.tables import Project

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer sc_<id>_<secret>")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="sc_<id>_<secret>")


def get_context(request: Request) -> ServiceContext:
    """Return the service context built by the app factory."""
    return request.app.state.context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


async def get_principal(
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """Return the caller authenticated by its API key (401 otherwise).

    Served from the in-process cache on the event loop when possible; a store read goes to
    the thread pool.
    """
    token = credentials.credentials if credentials is not None else header_key
    principal = authenticate(ctx, token, cached_only=True)
    if principal is None:
        principal = await run_in_threadpool(authenticate, ctx, token)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
ProjectId = Annotated[str, Path(min_length=1, max_length=64, description="project id")]


def project_access(scope: str | None):
    """Return a dependency yielding the path's project if the key may use it with ``scope``."""

    async def dependency(project_id: ProjectId, principal: PrincipalDep, ctx: ContextDep) -> Project:
        project = authorize(ctx, principal, project_id, scope, cached_only=True)
        if project is None:
            project = await run_in_threadpool(authorize, ctx, principal, project_id, scope)
        return project

    dependency.__name__ = f"project_with_{scope or 'any'}_scope"
    return dependency


AnyProject = Annotated[Project, Depends(project_access(None))]
AdminProject = Annotated[Project, Depends(project_access("admin"))]
CodeProject = Annotated[Project, Depends(project_access("code"))]
ReviewProject = Annotated[Project, Depends(project_access("review"))]

"""Workbench accounts through the API (scope ``admin``): how a supervisor account is bootstrapped."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from statcoder.api.deps import AdminProject, ContextDep, PrincipalDep
from statcoder.api.routers.common import ERRORS
from statcoder.service import accounts

router = APIRouter(prefix="/v1/projects/{project_id}/accounts", tags=["workbench"], responses=ERRORS)


class AccountIn(BaseModel):
    """A workbench account to create (or an existing user to add to the project)."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=100)
    password: str | None = Field(default=None, min_length=accounts.MIN_PASSWORD, max_length=accounts.MAX_PASSWORD)
    role: Literal["coder", "supervisor"] = "coder"
    display_name: str = Field(default="", max_length=200)


class AccountOut(BaseModel):
    """A project member (never the password hash)."""

    username: str
    display_name: str
    role: str


@router.get("", response_model=list[AccountOut])
async def list_accounts(project: AdminProject, ctx: ContextDep) -> list[AccountOut]:
    """The project's workbench users and their roles."""
    rows = await run_in_threadpool(accounts.members, ctx, project.id)
    return [AccountOut(username=u.username, display_name=u.display_name, role=r) for u, r in rows]


@router.post("", response_model=AccountOut, status_code=201)
async def create_account(body: AccountIn, project: AdminProject, principal: PrincipalDep, ctx: ContextDep) -> AccountOut:
    """Create a coder or supervisor account for the project (the password is stored as scrypt)."""
    user = await run_in_threadpool(
        lambda: accounts.create_account(ctx, project.id, username=body.username, password=body.password,
                                        role=body.role, display_name=body.display_name, actor=principal.actor))
    return AccountOut(username=user.username, display_name=user.display_name, role=body.role)

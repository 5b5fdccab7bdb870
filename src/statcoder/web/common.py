"""Shared pieces of the workbench pages: templates, the signed-in user, CSRF, project access."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from statcoder.errors import StatcoderError
from statcoder.service import accounts
from statcoder.service.context import ServiceContext
from statcoder.service.errors import NotFoundError
from statcoder.store.tables import MAX_ROW_ID, Project
from statcoder.store.workbench_tables import WebSession

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.auto_reload = False  # templates are part of the package: compile once, never re-stat


def asset_version() -> str:
    """Return a short hash of the static assets (their URLs carry it, so they can be cached for good)."""
    digest = hashlib.sha256()
    for path in sorted((HERE / "static").iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


templates.env.globals["asset_v"] = asset_version()
SESSION_COOKIE = "sc_session"
LOGIN_CSRF_COOKIE = "sc_login_csrf"


class SignInRequired(Exception):
    """Raised by :func:`signed_in` when there is no valid session (answered by a redirect)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfFailed(Exception):
    """A form arrived without the session's CSRF token (answered by a 403 page)."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request, their session row and the service context."""

    account: accounts.Account
    session: WebSession
    ctx: ServiceContext

    @property
    def csrf(self) -> str:
        """Return the token every form of this session must carry."""
        return self.session.csrf_token


def context_of(request: Request) -> ServiceContext:
    """Return the service context of the app."""
    return request.app.state.context


async def signed_in(request: Request) -> Viewer:
    """Return the viewer, or raise SignInRequired (a redirect to the sign-in page)."""
    ctx = context_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    try:
        account, row = await run_in_threadpool(accounts.session_account, ctx, token)
    except accounts.SessionExpiredError:
        raise SignInRequired(request.url.path) from None
    return Viewer(account, row, ctx)


async def form_of(request: Request, viewer: Viewer) -> dict[str, str]:
    """Return the posted form as a dict of strings after checking its CSRF token."""
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    if not accounts.check_csrf(viewer.session, data.get("csrf")):
        raise CsrfFailed()
    return data


def project_for(viewer: Viewer, project_id: str, *, supervisor: bool = False) -> tuple[Project, str]:
    """Return (project, role) if the viewer may use the project; NotFoundError otherwise.

    A project the viewer has no role in answers exactly like one that does not exist.
    """
    role = viewer.account.role(project_id)
    if role is None or (supervisor and role != "supervisor"):
        raise NotFoundError("page not found", hint="open one of your projects")
    from statcoder.service.projects import get_project

    return get_project(viewer.ctx, project_id), role


def render(request: Request, name: str, viewer: Viewer | None = None, status: int = 200,
           **values: Any) -> HTMLResponse:
    """Render a template with the viewer, its CSRF token and the values."""
    values.setdefault("errors", {})
    values.setdefault("form", {})
    return templates.TemplateResponse(
        request, name, {"viewer": viewer, "account": viewer.account if viewer else None,
                        "csrf": viewer.csrf if viewer else "", "now": int(time.time()), **values},
        status_code=status,
    )


def message(request: Request, viewer: Viewer | None, title: str, text: str, *, status: int = 200,
            hint: str = "", links: list[tuple[str, str]] | None = None) -> HTMLResponse:
    """Render a short message page (errors, stale records, empty queues)."""
    return render(request, "message.html", viewer, status=status, title=title, text=text, hint=hint,
                  links=links or [])


def error_page(request: Request, viewer: Viewer | None, exc: StatcoderError, *, back: str = "/ui/") -> HTMLResponse:
    """Render a StatcoderError as a page with its status."""
    from statcoder.api.errors import status_for

    status = status_for(exc)
    title = "Not found" if status == 404 else "This did not work"
    return message(request, viewer, title, exc.message, status=status, hint=exc.hint,
                   links=[("Back", back)])


def field_errors(exc: StatcoderError) -> dict[str, str]:
    """Return {field: message} for an error whose ``where`` names a form field."""
    text = exc.message + (f" — {exc.hint}" if exc.hint else "")
    field = (exc.where or "form").split(":")[0].strip() or "form"
    return {field: text}


def redirect(path: str) -> RedirectResponse:
    """Return a 303 redirect (a POST answered with a GET)."""
    return RedirectResponse(path, status_code=303)


#: route parameters shared by the coder and supervisor pages
ViewerDep = Annotated[Viewer, Depends(signed_in)]
ProjectId = Annotated[str, PathParam(min_length=1, max_length=64)]
TaskId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]

"""Sign-in, the project list and the coding screen (one record at a time)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from statcoder.errors import InputError, StatcoderError
from statcoder.service import accounts
from statcoder.service.review import queue_counts
from statcoder.service.workbench import prediction_sets, prefetch_sets, rerun_model, search_index
from statcoder.service.workbench import queue as wq
from statcoder.service.workbench.decisions import (
    UNCODABLE_REASONS,
    StaleTaskError,
    decide,
    task_candidates,
    undo_last,
    validate,
)
from statcoder.web.common import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    ProjectId,
    TaskId,
    Viewer,
    ViewerDep,
    context_of,
    error_page,
    field_errors,
    form_of,
    message,
    project_for,
    redirect,
    render,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
STRONG = 0.05  # candidates below this probability (after the first three) are folded away
MAX_SEARCH_HITS = 20
SET_SHOWN = 10  # codes listed per prediction-set row (the rest: one link away)
PREFETCH = 32  # next records whose prediction sets are prepared ahead
log = logging.getLogger(__name__)


@router.get("/", response_class=HTMLResponse)
async def home(viewer: ViewerDep) -> Response:
    """Go to the project list."""
    return redirect("/ui/projects")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: Annotated[str, Query(max_length=300)] = "/ui/projects") -> Response:
    """The sign-in form (with a double-submit CSRF token: there is no session yet)."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, next=_safe_next(next))
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


def _safe_next(path: str) -> str:
    return path if path.startswith("/ui/") and not path.startswith("//") else "/ui/projects"


def _set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    ctx = context_of(request)
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=ctx.settings.session_cookie_secure, path="/ui")


def _throttle(request: Request) -> accounts.SignInThrottle:
    """The process's sign-in throttle (one per app)."""
    state = request.app.state
    if getattr(state, "sign_in_throttle", None) is None:
        state.sign_in_throttle = accounts.SignInThrottle()
    return state.sign_in_throttle


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the password, open a session, go where the user wanted."""
    ctx = context_of(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    next_path = _safe_next(form.get("next", "/ui/projects"))
    username = form.get("username", "")[:100]
    if not cookie or not secrets.compare_digest(cookie, form.get("login_csrf", "")):
        return render(request, "login.html", None, status=403, login_csrf=cookie or "", next=next_path,
                      form={"username": username},
                      errors={"form": "the sign-in form expired; sign in again"})
    client = request.client.host if request.client else ""
    try:
        token, _row = await run_in_threadpool(accounts.sign_in, ctx, username, form.get("password", ""),
                                              client=client, throttle=_throttle(request))
    except accounts.SignInThrottledError as exc:
        return render(request, "login.html", None, status=429, login_csrf=cookie, next=next_path,
                      form={"username": username}, errors={"password": f"{exc.message}: {exc.hint}"})
    except accounts.SignInError as exc:
        return render(request, "login.html", None, status=401, login_csrf=cookie, next=next_path,
                      form={"username": username}, errors={"password": exc.message})
    response = redirect(next_path)
    _set_cookie(request, response, SESSION_COOKIE, token, max_age=int(ctx.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui")
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request, viewer: ViewerDep) -> Response:
    """End the session."""
    await form_of(request, viewer)
    await run_in_threadpool(accounts.sign_out, viewer.ctx, request.cookies.get(SESSION_COOKIE))
    response = redirect("/ui/login")
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


@router.get("/projects", response_class=HTMLResponse)
async def projects(request: Request, viewer: ViewerDep) -> Response:
    """The projects the user was given, with their open work."""
    def load():
        rows = []
        for project, role in accounts.projects_of(viewer.ctx, viewer.account):
            rows.append({"project": project, "role": role, "counts": queue_counts(viewer.ctx, project.id)})
        return rows

    return render(request, "projects.html", viewer, rows=await run_in_threadpool(load))


@router.get("/p/{project_id}/next", response_class=HTMLResponse)
async def next_record(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """Lease the next record to the coder and show it (or say the queue is empty)."""
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id)
        task_id = await run_in_threadpool(wq.next_task, viewer.ctx, project.id, viewer.account)
    except StatcoderError as exc:
        return error_page(request, viewer, exc, back="/ui/projects")
    if task_id is None:
        return message(request, viewer, "Nothing to code", "The queue of this project is empty for you.",
                       links=[("Check again", f"/ui/p/{project_id}/next"), ("Projects", "/ui/projects")])
    return redirect(f"/ui/p/{project_id}/task/{task_id}")


def _levels(classification) -> list[tuple[int, str]]:
    names = getattr(classification, "level_names", {}) or {}
    return [(lv, names.get(lv, f"level {lv}")) for lv in range(1, classification.depth)]


def _screen(viewer: Viewer, project_id: str, task_id: int, *, q: str = "", candidates=None, form=None,
            all_sets: bool = False):
    """Load everything the coding screen shows (blind: no decision, reason or confidence)."""
    project, role = project_for(viewer, project_id)
    task = wq.open_task(viewer.ctx, project.id, viewer.account, task_id)
    if task is None:
        return None
    classification = viewer.ctx.classification(project)
    cands = candidates if candidates is not None else task_candidates(task)
    shown = []
    for i, c in enumerate(cands):
        code = str(c.get("code", ""))
        known = code in classification
        path = [(a, classification.title(a)) for a in classification.ancestors(code)] if known else []
        shown.append({"n": i + 1, "code": code, "title": c.get("title") or (
            classification.title(code) if known else ""), "p": float(c.get("p", 0.0)),
            "weak": i >= 3 and float(c.get("p", 0.0)) < STRONG, "path": path})
    hits = search_index(viewer.ctx, project).search(q, limit=MAX_SEARCH_HITS) if q.strip() else []
    fields = {}
    if task.fields:
        try:
            fields = {k: v for k, v in json.loads(task.fields).items() if v and v != task.text}
        except ValueError:
            fields = {}
    text = (form or {}).get("edited_text") if candidates is not None else task.text
    account = viewer.account
    sets = prediction_sets(viewer.ctx, project, text or task.text,
                           ahead=lambda: wq.upcoming_texts(viewer.ctx, project.id, account, PREFETCH))
    return {
        "sets": _set_rows(classification, sets, all_sets=all_sets),
        "project": project, "role": role, "task": task, "candidates": shown,
        "strong": [c for c in shown if not c["weak"]], "weak": [c for c in shown if c["weak"]],
        "hits": hits, "q": q, "fields": fields, "levels": _levels(classification),
        "reasons": UNCODABLE_REASONS, "form": form or {}, "rerun": candidates is not None,
        "all_sets": all_sets,
    }


def _set_rows(classification, sets: dict[float, list[str]], *, all_sets: bool) -> list[dict]:
    """Rows of the prediction-set box: per coverage the codes it adds to the smaller set.

    Unless ``all_sets``, at most SET_SHOWN codes per row are listed (a weak model's 95 % set
    can hold hundreds of codes); the rest are counted and one link away.
    """
    rows = []
    previous: set[str] = set()
    for coverage, codes in sets.items():
        new = [c for c in codes if c not in previous]
        listed = new if all_sets else new[:SET_SHOWN]
        rows.append({
            "coverage": coverage, "size": len(codes), "more": len(new) - len(listed),
            "codes": [{"code": c, "title": classification.title(c) if c in classification else ""}
                      for c in listed],
        })
        previous.update(codes)
    return rows


_pages: dict[tuple[str, int], int] = {}


def _prefetch_due(project_id: str, user_id: int) -> bool:
    """True on every PREFETCH // 2-th coding screen of a coder in a project (counted per process)."""
    key = (project_id, user_id)
    seen = _pages.get(key, 0)
    _pages[key] = seen + 1
    if len(_pages) > 10_000:
        _pages.clear()
    return seen % (PREFETCH // 2) == 0


def _prefetch(viewer: Viewer, project) -> None:
    """Prepare the prediction sets of the coder's next records (run after the page is sent).

    Run on every PREFETCH // 2-th page only: a batch then covers the pages until the next one,
    and a page that still misses scores its record with the next ones in one call.
    """
    try:
        prefetch_sets(viewer.ctx, project, wq.upcoming_texts(viewer.ctx, project.id, viewer.account, PREFETCH))
    except Exception as exc:  # noqa: BLE001 - a failed prefetch only means the next page computes them
        log.warning("prefetch of prediction sets failed: %s", type(exc).__name__)


@router.get("/p/{project_id}/task/{task_id}", response_class=HTMLResponse)
async def task_page(request: Request, project_id: ProjectId, task_id: TaskId, viewer: ViewerDep,
                    q: Annotated[str, Query(max_length=200)] = "",
                    sets: Annotated[str, Query(max_length=10)] = "") -> Response:
    """The coding screen. ``q`` searches the classification (the no-JavaScript search);
    ``sets=all`` lists every code of the prediction sets."""
    try:
        values = await run_in_threadpool(_screen, viewer, project_id, task_id, q=q, all_sets=sets == "all")
    except StatcoderError as exc:
        return error_page(request, viewer, exc, back="/ui/projects")
    if values is None:
        return _not_yours(request, viewer, project_id)
    response = render(request, "task.html", viewer, **values)
    if _prefetch_due(values["project"].id, viewer.account.user_id):
        response.background = BackgroundTask(_prefetch, viewer, values["project"])
    return response


def _not_yours(request: Request, viewer: Viewer, project_id: str) -> Response:
    return message(request, viewer, "Record not available",
                   "This record was finished or is being coded by another coder.", status=409,
                   links=[("Next record", f"/ui/p/{project_id}/next")])


@router.get("/p/{project_id}/search", response_class=HTMLResponse)
async def search(request: Request, project_id: ProjectId, viewer: ViewerDep,
                 q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Live search: the hits as an HTML fragment (the coding screen inserts it)."""
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id)
        index = await run_in_threadpool(search_index, viewer.ctx, project)
    except StatcoderError as exc:
        return error_page(request, viewer, exc)
    started = time.perf_counter()
    hits = index.search(q, limit=MAX_SEARCH_HITS)
    elapsed_ms = (time.perf_counter() - started) * 1000
    response = render(request, "_hits.html", viewer, hits=hits, q=q)
    response.headers["Server-Timing"] = f"search;dur={elapsed_ms:.2f}"
    return response


def _time_spent(form: dict[str, str]) -> float | None:
    try:
        shown = float(form.get("shown_at", ""))
    except ValueError:
        return None
    return round(min(max(time.time() - shown, 0.0), 3600.0), 1)


@router.post("/p/{project_id}/task/{task_id}", response_class=HTMLResponse)
async def submit(request: Request, project_id: ProjectId, task_id: TaskId, viewer: ViewerDep) -> Response:
    """Code / uncodable / refer / skip / re-run the model; then the next record."""
    form = await form_of(request, viewer)
    action = form.get("action", "code")
    ctx = viewer.ctx
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id)
        if action == "skip":
            await run_in_threadpool(wq.skip, ctx, project.id, viewer.account, task_id)
            return await _go_next(project_id, viewer)
        if action == "rerun":
            _version, cands = await run_in_threadpool(rerun_model, ctx, project, form.get("edited_text", ""))
            values = await run_in_threadpool(_screen, viewer, project_id, task_id, candidates=cands, form=form)
            if values is None:
                return _not_yours(request, viewer, project_id)
            return render(request, "task.html", viewer, **values)
        next_id = await run_in_threadpool(_decide_then_next, viewer, project, task_id, action, form)
    except StaleTaskError as exc:
        return message(request, viewer, "Not stored", exc.message, status=409, hint=exc.hint,
                       links=[("Next record", f"/ui/p/{project_id}/next")])
    except StatcoderError as exc:
        if exc.where in ("task",) or exc.code == "not_found":
            return error_page(request, viewer, exc, back="/ui/projects")
        try:
            values = await run_in_threadpool(_screen, viewer, project_id, task_id, form=form,
                                             q=form.get("q", ""))
        except StatcoderError as again:
            return error_page(request, viewer, again, back="/ui/projects")
        if values is None:
            return _not_yours(request, viewer, project_id)
        return render(request, "task.html", viewer, status=422, errors=field_errors(exc), **values)
    return redirect(f"/ui/p/{project_id}/task/{next_id}" if next_id else f"/ui/p/{project_id}/next")


def _decide_then_next(viewer: Viewer, project, task_id: int, action: str, form: dict[str, str]) -> int | None:
    """Check and store the decision, then lease the next record; returns its task id (or None).

    One call on the thread pool for the whole POST (the hot path between Enter and the next record).
    """
    code = (form.get("code") or "").strip() or (form.get("choice") or "").strip()
    level_text = form.get("level", "").strip()
    if level_text and not level_text.isdigit():
        raise InputError("choose a level from the list", where="level", hint="")
    choice = validate(viewer.ctx, project, action=action, code=code,
                      level=int(level_text) if level_text else None, reason=form.get("reason", ""),
                      note=form.get("note", ""), edited_text=form.get("edited_text", ""))
    decide(viewer.ctx, project, viewer.account, task_id, choice, time_spent_s=_time_spent(form))
    return wq.next_task(viewer.ctx, project.id, viewer.account)


async def _go_next(project_id: str, viewer: Viewer) -> Response:
    task_id = await run_in_threadpool(wq.next_task, viewer.ctx, project_id, viewer.account)
    return redirect(f"/ui/p/{project_id}/task/{task_id}" if task_id else f"/ui/p/{project_id}/next")


@router.post("/p/{project_id}/undo", response_class=HTMLResponse)
async def undo(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """Undo the coder's last decision and show that record again."""
    await form_of(request, viewer)
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id)
        task_id = await run_in_threadpool(undo_last, viewer.ctx, project, viewer.account)
    except StatcoderError as exc:
        return message(request, viewer, "Cannot undo", exc.message, status=409, hint=exc.hint,
                       links=[("Back to coding", f"/ui/p/{project_id}/next")])
    return redirect(f"/ui/p/{project_id}/task/{task_id}")

"""Supervisor pages: queue and settings, accounts, assignment, adjudication, statistics, retraining."""

from __future__ import annotations

import json

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from statcoder.errors import InputError, StatcoderError
from statcoder.service import accounts
from statcoder.service.review import get_task
from statcoder.service.workbench import queue as wq
from statcoder.service.workbench import stats
from statcoder.service.workbench.decisions import (
    UNCODABLE_REASONS,
    StaleTaskError,
    decisions_of,
    resolve,
    task_candidates,
    validate,
    waiting_for_supervisor,
)
from statcoder.service.workbench.retrain import retrain
from statcoder.web.charts import bar_chart, interval_chart
from statcoder.web.common import (
    ProjectId,
    TaskId,
    Viewer,
    ViewerDep,
    error_page,
    field_errors,
    form_of,
    message,
    project_for,
    redirect,
    render,
)

router = APIRouter(prefix="/ui/p/{project_id}", include_in_schema=False)


def _overview(viewer: Viewer, project_id: str) -> dict:
    project, role = project_for(viewer, project_id, supervisor=True)
    ctx = viewer.ctx
    by_reason = wq.counts_by_reason(ctx, project.id)
    waiting: dict[str, int] = {}
    for reason, status, n in by_reason:
        if status in ("open", "claimed"):
            waiting[reason] = waiting.get(reason, 0) + n
    runs = stats.retrain_history(ctx, project.id, limit=10)
    return {
        "project": project, "role": role, "by_reason": by_reason,
        "queue_chart": bar_chart(sorted(waiting.items()), label="open tasks by reason"),
        "settings": wq.get_settings(ctx, project.id), "members": accounts.members(ctx, project.id),
        "runs": [(r, json.loads(r.comparison_json or "{}")) for r in runs],
    }


@router.get("/supervise", response_class=HTMLResponse)
async def supervise(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """The supervisor's overview: queue, settings, accounts, assignment, retraining."""
    try:
        values = await run_in_threadpool(_overview, viewer, project_id)
    except StatcoderError as exc:
        return error_page(request, viewer, exc, back="/ui/projects")
    return render(request, "supervise.html", viewer, **values)


async def _overview_with_error(request: Request, viewer: Viewer, project_id: str, exc: StatcoderError,
                               form: dict, section: str) -> Response:
    values = await run_in_threadpool(_overview, viewer, project_id)
    errors = {f"{section}.{k}": v for k, v in field_errors(exc).items()}
    return render(request, "supervise.html", viewer, status=422, errors=errors,
                  form={f"{section}.{k}": v for k, v in form.items()}, **values)


@router.post("/accounts", response_class=HTMLResponse)
async def create_account(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """Create a coder (or supervisor) account for this project."""
    form = await form_of(request, viewer)
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id, supervisor=True)
        await run_in_threadpool(
            lambda: accounts.create_account(
                viewer.ctx, project.id, username=form.get("username", ""), password=form.get("password") or None,
                role=form.get("role", "coder"), display_name=form.get("display_name", ""),
                actor=viewer.account.actor,
                colleagues_of=[p for p, r in viewer.account.roles.items() if r == "supervisor"]))
    except StatcoderError as exc:
        if exc.code == "not_found":
            return error_page(request, viewer, exc, back="/ui/projects")
        safe = {k: v for k, v in form.items() if k != "password"}
        return await _overview_with_error(request, viewer, project_id, exc, safe, "account")
    return redirect(f"/ui/p/{project_id}/supervise#accounts")


@router.post("/settings", response_class=HTMLResponse)
async def save_settings(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """Double-coding share, active-learning order and lease length."""
    form = await form_of(request, viewer)
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id, supervisor=True)
        try:
            rate = float(form.get("double_coding_percent", "0")) / 100
        except ValueError:
            raise InputError("give a number of percent", where="double_coding_percent", hint="e.g. 10") from None
        try:
            lease = int(form.get("lease_seconds", "600"))
        except ValueError:
            raise InputError("give a whole number of seconds", where="lease_seconds", hint="e.g. 600") from None
        if not 0 <= rate <= 1:
            raise InputError("the share must be between 0 and 100 %", where="double_coding_percent", hint="e.g. 10")
        await run_in_threadpool(lambda: wq.update_settings(
            viewer.ctx, project.id, double_coding_rate=rate, active_learning=form.get("active_learning") == "on",
            lease_seconds=lease, actor=viewer.account.actor))
    except StatcoderError as exc:
        if exc.code == "not_found":
            return error_page(request, viewer, exc, back="/ui/projects")
        return await _overview_with_error(request, viewer, project_id, exc, form, "settings")
    return redirect(f"/ui/p/{project_id}/supervise#settings")


@router.post("/assign", response_class=HTMLResponse)
async def assign(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """Assign a batch of open tasks to a coder."""
    form = await form_of(request, viewer)
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id, supervisor=True)
        n_text = form.get("n", "").strip()
        if not n_text.isdigit():
            raise InputError("give the number of tasks", where="n", hint="e.g. 50")
        await run_in_threadpool(lambda: wq.assign_batch(viewer.ctx, project.id, username=form.get("username", ""),
                                                        n=int(n_text), actor=viewer.account.actor))
    except StatcoderError as exc:
        if exc.code == "not_found":
            return error_page(request, viewer, exc, back="/ui/projects")
        return await _overview_with_error(request, viewer, project_id, exc, form, "assign")
    return redirect(f"/ui/p/{project_id}/supervise#assign")


@router.post("/retrain", response_class=HTMLResponse)
async def start_retrain(request: Request, project_id: ProjectId, viewer: ViewerDep,
                        background: BackgroundTasks) -> Response:
    """Train a candidate on training data + decisions in the background; the gate decides."""
    await form_of(request, viewer)
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id, supervisor=True)
    except StatcoderError as exc:
        return error_page(request, viewer, exc, back="/ui/projects")

    def run() -> None:
        try:
            retrain(viewer.ctx, project, actor=viewer.account.actor)
        except StatcoderError:
            pass  # stored on the run as "failed" with its message

    background.add_task(run)
    return redirect(f"/ui/p/{project_id}/supervise#retrain")


@router.get("/adjudicate", response_class=HTMLResponse)
async def adjudication_list(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """Disagreements of double coding and records referred to a supervisor."""
    try:
        project, role = await run_in_threadpool(project_for, viewer, project_id, supervisor=True)
        tasks = await run_in_threadpool(waiting_for_supervisor, viewer.ctx, project.id)
    except StatcoderError as exc:
        return error_page(request, viewer, exc, back="/ui/projects")
    return render(request, "adjudicate_list.html", viewer, project=project, role=role, tasks=tasks)


def _adjudication(viewer: Viewer, project_id: str, task_id: int, form: dict | None = None) -> dict:
    project, role = project_for(viewer, project_id, supervisor=True)
    task = get_task(viewer.ctx, project.id, task_id)
    classification = viewer.ctx.classification(project)
    decided = [d for d in decisions_of(viewer.ctx, project.id, task_id) if d.undone_at is None]
    return {
        "project": project, "role": role, "task": task, "decisions": decided,
        "candidates": task_candidates(task), "reasons": UNCODABLE_REASONS,
        "title": lambda c: classification.title(c) if c and c in classification else "",
        "form": form or {},
    }


@router.get("/adjudicate/{task_id}", response_class=HTMLResponse)
async def adjudication_page(request: Request, project_id: ProjectId, task_id: TaskId, viewer: ViewerDep) -> Response:
    """Both coders' codes, the text and the candidates; the supervisor's code is final."""
    try:
        values = await run_in_threadpool(_adjudication, viewer, project_id, task_id)
    except StatcoderError as exc:
        return error_page(request, viewer, exc, back=f"/ui/p/{project_id}/adjudicate")
    return render(request, "adjudicate.html", viewer, **values)


@router.post("/adjudicate/{task_id}", response_class=HTMLResponse)
async def adjudicate(request: Request, project_id: ProjectId, task_id: TaskId, viewer: ViewerDep) -> Response:
    """Store the supervisor's final decision."""
    form = await form_of(request, viewer)
    try:
        project, _ = await run_in_threadpool(project_for, viewer, project_id, supervisor=True)
        code = (form.get("code") or "").strip() or (form.get("choice") or "").strip()
        choice = validate(viewer.ctx, project, action=form.get("action", "code"), code=code,
                          reason=form.get("reason", ""), note=form.get("note", ""))
        await run_in_threadpool(resolve, viewer.ctx, project, viewer.account, task_id, choice)
    except StaleTaskError as exc:
        return message(request, viewer, "Not stored", exc.message, status=409,
                       links=[("Adjudication list", f"/ui/p/{project_id}/adjudicate")])
    except StatcoderError as exc:
        if exc.code == "not_found":
            return error_page(request, viewer, exc, back=f"/ui/p/{project_id}/adjudicate")
        values = await run_in_threadpool(_adjudication, viewer, project_id, task_id, form)
        return render(request, "adjudicate.html", viewer, status=422, errors=field_errors(exc), **values)
    return redirect(f"/ui/p/{project_id}/adjudicate")


def _statistics(viewer: Viewer, project_id: str) -> dict:
    project, role = project_for(viewer, project_id, supervisor=True)
    ctx = viewer.ctx
    audit = stats.audit_accuracy(ctx, project)
    promised = stats.promised_accuracy(ctx, project)
    overall = [r for r in audit if r["period"] == "all"]
    agreement = stats.agreement(ctx, project)
    deepest = ctx.classification(project).depth
    pair_rows = [r for r in agreement["by_pair"] if r["level"] == deepest]
    work = stats.throughput(ctx, project.id)
    runs = stats.retrain_history(ctx, project.id)
    card_coverage = None
    try:
        from statcoder.service.coding import active_coder

        _, coder = active_coder(ctx, project)
        from statcoder.service.workbench import conformal_card

        card_coverage = conformal_card(coder.card) or None
    except StatcoderError:
        pass
    return {
        "project": project, "role": role, "audit": audit, "promised": promised,
        "audit_chart": interval_chart(
            [(f"level {r['level']}", r["rate"].value, r["rate"].lower, r["rate"].upper) for r in overall],
            label="audit accuracy of automatic coding per level (95% interval)", reference=promised),
        "agreement": agreement,
        "agreement_chart": interval_chart(
            [(r["name"], r["percent"].value, r["percent"].lower, r["percent"].upper) for r in pair_rows],
            label="agreement per coder pair at the deepest level (95% interval)"),
        "work": work,
        "work_chart": bar_chart([(w["coder"], float(w["n"])) for w in work], label="decisions per coder"),
        "confusions": stats.confusion_pairs(ctx, project),
        "disagreements": waiting_for_supervisor(ctx, project.id, limit=50),
        "runs": [(r, json.loads(r.comparison_json or "{}")) for r in runs],
        "conformal": card_coverage,
    }


@router.get("/stats", response_class=HTMLResponse)
async def statistics(request: Request, project_id: ProjectId, viewer: ViewerDep) -> Response:
    """Audit accuracy, agreement, throughput, confusions, disagreements, retrain history."""
    try:
        values = await run_in_threadpool(_statistics, viewer, project_id)
    except StatcoderError as exc:
        return error_page(request, viewer, exc, back="/ui/projects")
    return render(request, "stats.html", viewer, **values)

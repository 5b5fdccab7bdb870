"""``statcoder serve``, ``statcoder worker`` and ``statcoder admin ...`` (bootstrap projects and keys)."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from statcoder.cli import app
from statcoder.cli._common import console, report_errors

admin = typer.Typer(help="Bootstrap the coding service: projects, keys, models.", no_args_is_help=True)
app.add_typer(admin, name="admin")

DataDir = Annotated[Path | None, typer.Option(help="data directory (default: STATCODER_DATA_DIR)")]
DbUrl = Annotated[str | None, typer.Option(help="database URL (default: STATCODER_DATABASE_URL or SQLite)")]


def _context(data_dir: Path | None, database_url: str | None, **more: Any):
    from statcoder.service.context import ServiceContext
    from statcoder.service.settings import ServiceSettings

    overrides = {k: v for k, v in {"data_dir": data_dir, "database_url": database_url, **more}.items() if v is not None}
    ctx = ServiceContext(ServiceSettings(**overrides))
    ctx.start()
    return ctx


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


@app.command()
@report_errors
def serve(
    host: Annotated[str | None, typer.Option(help="interface (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    job_worker: Annotated[bool | None, typer.Option(help="run the job worker (a thread, or its own process with --workers)")] = None,
    workers: Annotated[int | None, typer.Option(help="HTTP worker processes (default 1)")] = None,
) -> None:
    """Start the coding service (REST API under /v1, OpenAPI at /docs)."""
    from statcoder.api.server import serve as run_server
    from statcoder.service.settings import ServiceSettings

    overrides = {k: v for k, v in {
        "host": host, "port": port, "data_dir": data_dir, "database_url": database_url,
        "job_worker": job_worker, "workers": workers,
    }.items() if v is not None}
    run_server(ServiceSettings(**overrides))


@app.command()
@report_errors
def worker(data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Run only the job worker (scale jobs out to more processes or machines)."""
    from statcoder.service.worker import JobWorker

    ctx = _context(data_dir, database_url)
    console.print("job worker running; Ctrl-C to stop")
    try:
        JobWorker(ctx).run()
    except KeyboardInterrupt:
        pass
    finally:
        ctx.close()


@admin.command("create-project")
@report_errors
def create_project(
    project_id: Annotated[str, typer.Argument(help="short id, e.g. lfs-isco")],
    classification: Annotated[Path, typer.Option(help="classification CSV (code,title,level,parent)")],
    name: Annotated[str, typer.Option(help="human-readable name")] = "",
    classification_name: Annotated[str | None, typer.Option(help="e.g. ISCO-08")] = None,
    classification_version: Annotated[str, typer.Option(help="e.g. 2008")] = "",
    audit_rate: Annotated[float | None, typer.Option(help="share of auto records audited (default 0.02)")] = None,
    model: Annotated[Path | None, typer.Option(help="a saved model directory to add and promote")] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Create a project bound to its classification (optionally with a first active model)."""
    from statcoder.service import projects

    ctx = _context(data_dir, database_url)
    try:
        project = projects.create_project(
            ctx, project_id, name=name or project_id, classification_csv=classification,
            classification_name=classification_name, classification_version=classification_version,
            audit_rate=audit_rate, actor=_actor(),
        )
        console.print(f"project {project.id} created ({project.classification_name}, "
                      f"{project.classification_fingerprint[:12]})")
        if model is not None:
            _add_model(ctx, project.id, model, promote=True)
    finally:
        ctx.close()


def _add_model(ctx: Any, project_id: str, directory: Path, *, promote: bool) -> None:
    from statcoder.coder import Coder
    from statcoder.service import projects, registry

    project = projects.get_project(ctx, project_id)
    row = registry.add_coder(ctx, project, Coder.load(directory), source="cli", actor=_actor())
    console.print(f"model {row.version} added to {project_id}")
    if promote:
        registry.promote(ctx, project_id, row.version, actor=_actor())
        console.print(f"model {row.version} is now active")


@admin.command("add-model")
@report_errors
def add_model(
    project_id: Annotated[str, typer.Argument(help="project id")],
    model: Annotated[Path, typer.Argument(help="a model directory written by Coder.save / statcoder train")],
    promote: Annotated[bool, typer.Option(help="make it the active model")] = False,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Add a saved model to a project's registry (refused if its classification differs)."""
    ctx = _context(data_dir, database_url)
    try:
        _add_model(ctx, project_id, model, promote=promote)
    finally:
        ctx.close()


@admin.command("create-key")
@report_errors
def create_key(
    project_id: Annotated[str, typer.Argument(help="project id")],
    scope: Annotated[list[str], typer.Option(help="admin, code or review; repeat for several")],
    name: Annotated[str, typer.Option(help="who or what uses the key")] = "",
    expires_in_days: Annotated[float | None, typer.Option(help="validity in days (default: no expiry)")] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from statcoder.service import keys
    from statcoder.store import utcnow

    ctx = _context(data_dir, database_url)
    try:
        expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
        issued = keys.issue_key(ctx, project_id, scopes=scope, name=name, expires_at=expires, actor=_actor())
    finally:
        ctx.close()
    console.print(f"key {issued.key.id} for {project_id} ({issued.key.scopes}); store it now, it is not shown again:",
                  highlight=False)
    print(issued.secret)


@admin.command("revoke-key")
@report_errors
def revoke_key(
    project_id: Annotated[str, typer.Argument(help="project id")],
    key_id: Annotated[str, typer.Argument(help="the key's id (the part after sc_)")],
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Revoke an API key at once."""
    from statcoder.service import keys

    ctx = _context(data_dir, database_url)
    try:
        keys.revoke_key(ctx, project_id, key_id, actor=_actor())
    finally:
        ctx.close()
    console.print(f"key {key_id} revoked")


@admin.command("purge")
@report_errors
def purge(
    project_id: Annotated[str | None, typer.Argument(help="project id (default: every project)")] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Delete what projects' retention periods no longer allow to keep (audited; run it daily)."""
    from statcoder.service.retention import purge as run_purge

    ctx = _context(data_dir, database_url)
    try:
        results = run_purge(ctx, project_id, actor=_actor())
    finally:
        ctx.close()
    for r in results:
        console.print(f"{r.project_id}: kept {r.retention_days} days; purged {r.jobs} job(s) "
                      f"({r.chunks} result chunk(s)) and {r.task_texts} review text(s)", highlight=False)
    if not results:
        console.print("no project has a retention period (PATCH /v1/projects/{p} with retention_days)")


@admin.command("grant")
@report_errors
def grant(
    project_id: Annotated[str, typer.Argument(help="project id")],
    username: Annotated[str, typer.Argument(help="an existing workbench user")],
    role: Annotated[str, typer.Option(help="coder or supervisor")] = "coder",
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Give an existing workbench user a role in another project (one person, several projects)."""
    from statcoder.service import accounts

    ctx = _context(data_dir, database_url)
    try:
        accounts.grant(ctx, project_id, username=username, role=role, actor=_actor())
    finally:
        ctx.close()
    console.print(f"{username} is now a {role} of {project_id}", highlight=False)


@admin.command("set-password")
@report_errors
def set_password(
    username: Annotated[str, typer.Argument(help="an existing workbench user")],
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Set a workbench user's password (asked twice, never echoed) and end their sessions."""
    from statcoder.service import accounts

    password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    accounts.check_password_rules(password)
    ctx = _context(data_dir, database_url)
    try:
        accounts.set_password(ctx, username, password)
    finally:
        ctx.close()
    console.print(f"password of {username} set; their sessions are ended", highlight=False)

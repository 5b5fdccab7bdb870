"""Helpers of the API tests: tenants with keys of each scope, running jobs, error bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kit import write_classification

from statcoder.service import keys, projects, registry


@dataclass
class Tenant:
    """A project with one key per scope plus an all-scope key (``headers[scope]``)."""

    id: str
    secrets: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    def headers(self, scope: str = "all") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[scope]}"}


def make_tenant(ctx, project_id: str, classification_dir: Path, model: Path | None = None) -> Tenant:
    """Create a project (as the admin CLI does), optionally with an active model, and its keys."""
    from statcoder.coder import Coder

    csv_path = write_classification(classification_dir)
    projects.create_project(ctx, project_id, name=project_id.upper(), classification_csv=csv_path,
                            classification_name="trades", actor="cli:test")
    if model is not None:
        project = projects.get_project(ctx, project_id)
        row = registry.add_coder(ctx, project, Coder.load(model), source="cli", actor="cli:test")
        registry.promote(ctx, project_id, row.version, actor="cli:test")
    tenant = Tenant(project_id)
    for scope, scopes in {"admin": ["admin"], "code": ["code"], "review": ["review"],
                          "all": ["admin", "code", "review"]}.items():
        issued = keys.issue_key(ctx, project_id, scopes=scopes, name=scope, actor="cli:test")
        tenant.secrets[scope] = issued.secret
        tenant.key_ids[scope] = issued.key.id
    return tenant


def run_jobs(ctx) -> int:
    """Run the job worker until no job is left; returns how many jobs it took."""
    from statcoder.service.worker import JobWorker

    worker = JobWorker(ctx)
    n = 0
    while worker.run_once():
        n += 1
    return n


def error_code(response) -> str:
    """Return ``error.code`` of a JSON error response (asserting the error body shape)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint"}, body
    return body["error"]["code"]


def inbox(settings, project_id: str) -> Path:
    """The project's own directory in the first allowed job directory (created): the only one it may read."""
    folder = settings.allowed_job_dirs[0] / project_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder

"""Operations: start-up model preloading and the readiness check."""

from __future__ import annotations

import logging

from statcoder.errors import StatcoderError
from statcoder.service.coding import model_path
from statcoder.service.context import ServiceContext
from statcoder.store.projects import ProjectRepository

log = logging.getLogger("statcoder.service")


def preload_models(ctx: ServiceContext) -> dict[str, bool]:
    """Load every project's active model; returns project id -> loaded."""
    with ctx.db.read() as session:
        active = [(p.id, p.active_model_version) for p in ProjectRepository(session).all() if p.active_model_version]
    loaded = {}
    for project_id, version in active:
        try:
            ctx.models.get(project_id, version, model_path(project_id, version))
            loaded[project_id] = True
        except StatcoderError as exc:
            log.error("project %s: active model %s cannot be loaded (%s)", project_id, version, exc.code)
            loaded[project_id] = False
    return loaded


def readiness(ctx: ServiceContext) -> dict[str, bool]:
    """Return the readiness checks: ``database`` reachable, ``models`` (every active one loaded).

    A model promoted by another server process is loaded here, so readiness also swaps it in.
    """
    if not ctx.db.ping():
        return {"database": False, "models": False}
    return {"database": True, "models": all(preload_models(ctx).values())}

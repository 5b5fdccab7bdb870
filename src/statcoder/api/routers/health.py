"""Liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from statcoder.api.deps import ContextDep
from statcoder.api.schemas import Health
from statcoder.service.operations import readiness

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/ready", response_model=Health, responses={503: {"model": Health}})
def ready(ctx: ContextDep) -> Response:
    """Readiness: the store answers and every project's active model is loaded."""
    checks = readiness(ctx)
    ok = all(checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
def metrics(ctx: ContextDep) -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

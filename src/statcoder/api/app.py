"""The FastAPI application factory: ``create_app(settings)``."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from statcoder.api import errors
from statcoder.api.fastpath import FastCode
from statcoder.api.middleware import (
    BodyTimeout,
    BodyTooLarge,
    CatchAll,
    LimitBodySize,
    RequestMetrics,
)
from statcoder.api.routers import (
    accounts,
    coding,
    health,
    jobs,
    models,
    monitoring,
    projects,
    review,
)
from statcoder.service.context import ServiceContext
from statcoder.service.operations import preload_models
from statcoder.service.settings import ServiceSettings
from statcoder.service.worker import JobWorker

log = logging.getLogger("statcoder.api")


def create_app(
    settings: ServiceSettings | None = None, *, context: ServiceContext | None = None,
    start_worker: bool | None = None,
) -> FastAPI:
    """Return the service app. The store is migrated and models preloaded at start-up.

    ``start_worker`` overrides ``settings.job_worker`` (tests drive the worker themselves).
    """
    ctx = context or ServiceContext(settings)
    run_worker = ctx.settings.job_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(ctx.start)
        if ctx.settings.preload_models:
            await run_in_threadpool(preload_models, ctx)
        # The loaded models and the imported stack are long-lived: move them out of the
        # cyclic collector's generations so a full collection does not walk them while
        # requests wait (a pause of tens of milliseconds in the latency tail otherwise).
        gc.collect()
        gc.freeze()
        worker = JobWorker(ctx) if run_worker else None
        if worker is not None:
            worker.start()
        app.state.worker = worker
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            ctx.metrics.process_exited()
            ctx.close()

    app = FastAPI(
        title="statcoder coding service",
        version="1",
        description="Multi-tenant automated coding to statistical classifications: "
        "projects, model registry, synchronous coding, batch jobs, review queue, model monitoring, audit log.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hook asks the global providers on every request
        # (~0.2 ms); the service exports its own Prometheus metrics (/metrics) instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        # a trailing slash is a 404 like any unknown path, not a 307 whose Location is built from
        # the client's Host header (an open redirect to any host the client names)
        redirect_slashes=False,
    )
    app.state.context = ctx
    errors.install(app)

    async def body_too_large(_request, _exc):  # the middleware turns any answer into a 413
        return errors.error_response(413, "payload_too_large", "the request body is too large")

    app.add_exception_handler(BodyTooLarge, body_too_large)
    for router in (health.router, projects.router, models.router, coding.router, jobs.router, review.router,
                   monitoring.router, accounts.router):
        app.include_router(router)
    from statcoder.web import install as install_workbench

    install_workbench(app)  # the coder workbench under /ui/
    # innermost: the lean path of POST /code (inside the limits, the metrics and the 500 guard)
    app.add_middleware(FastCode, context=ctx)
    app.add_middleware(
        LimitBodySize, max_request_bytes=ctx.settings.max_request_bytes,
        max_upload_bytes=ctx.settings.max_upload_bytes,
    )
    app.add_middleware(BodyTimeout, seconds=ctx.settings.body_timeout_seconds)
    app.add_middleware(RequestMetrics, metrics=ctx.metrics)
    app.add_middleware(CatchAll)
    return app

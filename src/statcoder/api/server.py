"""Running the app under uvicorn: shared by ``statcoder serve`` and ``python -m statcoder.api``."""

from __future__ import annotations

from statcoder.service.settings import ServiceSettings


def serve(settings: ServiceSettings | None = None) -> None:
    """Serve the API on ``settings.host:settings.port`` until interrupted (SIGINT/SIGTERM)."""
    import uvicorn

    from statcoder.api.app import create_app

    settings = settings or ServiceSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level,
        timeout_keep_alive=settings.keep_alive_seconds, timeout_graceful_shutdown=10,
    )

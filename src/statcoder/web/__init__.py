"""The coder workbench: server-rendered pages under ``/ui/`` served by the service app.

Jinja2 templates, one small vanilla-JavaScript file for keys and live search (every page
works without it, search falls back to a submit), no CDN: the app serves every asset.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from statcoder.web.common import HERE, CsrfFailed, SignInRequired, message, redirect


class CachedStatic(StaticFiles):
    """The workbench's assets. Pages link them with ``?v=<content hash>``: such a URL never changes
    content, so the browser keeps it for a year without asking again (no request per page)."""

    async def get_response(self, path: str, scope) -> Response:
        """Return the asset, cacheable for good when asked for by its versioned URL."""
        response = await super().get_response(path, scope)
        if response.status_code == 200 and b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        elif response.status_code in (200, 304):
            response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: FastAPI) -> None:
    """Mount the workbench on ``app``: pages under ``/ui/``, assets under ``/ui/static/``."""
    from statcoder.web import coder, supervisor

    app.mount("/ui/static", CachedStatic(directory=str(HERE / "static")), name="ui-static")
    app.include_router(coder.router)
    app.include_router(supervisor.router)

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        if request.method == "GET":
            return redirect(f"/ui/login?next={quote(exc.next_path)}")
        return redirect("/ui/login")

    async def csrf_failed(request: Request, _exc: Exception) -> HTMLResponse:
        return message(request, None, "Form refused",
                       "This form was not accepted: it is missing its security token or it is outdated.",
                       status=403, hint="reload the page and submit again", links=[("Projects", "/ui/projects")])

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(CsrfFailed, csrf_failed)

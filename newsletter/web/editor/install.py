"""Put the editor into the web app: its routes, sessions, headers and refusal answers."""

from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.resources import data_path
from newsletter.web.editor import (
    admin,
    api,
    auth,
    brief_edit,
    briefs,
    campaigns,
    checks,
    preview,
    reports,
    segments,
    subscribers,
    webhooks,
    welcome,
    welcome_preview,
)
from newsletter.web.editor.auth import CsrfRejected, LoginRequired, login_redirect
from newsletter.web.editor.security import EditorHeaders, EditorSessions, under_editor
from newsletter.web.editor.site import EditorSite, render
from newsletter.web.errors import wants_html

log = logging.getLogger("newsletter.web.editor")

STATIC_PATH = "/static"
UPLOAD_PATH = "/editor/briefs/upload"
IMPORT_PATH = "/editor/subscribers/import"


def session_key(settings: Settings) -> str:
    """The session cookie's signing key: derived from the secret, used for nothing else."""
    secret = settings.signing_key().encode()
    return hmac.new(secret, b"newsletter.editor-session", hashlib.sha256).hexdigest()


def editor_error_page(
    request: Request, status: int, message: str, headers: dict[str, str]
) -> Response | None:
    """Error pages under ``/editor`` in the editor's layout (its policy allows no inline
    style, which the public layout has); ``None`` elsewhere and for the API."""
    path = request.url.path
    if not under_editor(path) or path.startswith(api.API_PREFIX):
        return None
    context = {"status": status, "message": message}
    return render(request, "error.html", context, status=status, headers=headers)


def install_editor(
    app: FastAPI,
    settings: Settings,
    database: Database,
    pages: Jinja2Templates,
    reader: Database | None = None,
) -> None:
    """Routes, error answers and middleware of the editor (call before adding body limits);
    ``reader``: where reports and counts read from (default ``database``)."""
    app.state.editor_site = EditorSite.build(settings, database, pages, reader)
    pages_modules = (auth, campaigns, checks, reports, brief_edit, briefs, preview, admin, webhooks)
    for module in (*pages_modules, subscribers, segments, welcome, welcome_preview):
        app.include_router(module.router)
    app.include_router(api.router)
    app.mount(
        STATIC_PATH,
        StaticFiles(directory=data_path("templates") / "web" / "static"),
        name="static",
    )

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if exc.api:
            return JSONResponse(
                {"detail": "log in first: this needs an editor session"},
                status_code=401,
                headers={"WWW-Authenticate": 'Cookie realm="editor"'},
            )
        return login_redirect(exc.next_url)

    async def on_csrf_rejected(request: Request, exc: Exception) -> Response:
        log.warning("refused %s %s: %s", request.method, request.url.path, exc)
        message = (
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again."
        )
        if request.url.path.startswith(api.API_PREFIX) or not wants_html(request):
            return JSONResponse({"detail": message}, status_code=403)
        return render(request, "error.html", {"status": 403, "message": message}, status=403)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(CsrfRejected, on_csrf_rejected)
    app.add_middleware(EditorHeaders)
    app.add_middleware(
        EditorSessions,
        secret_key=session_key(settings),
        session_cookie="newsletter_editor",
        max_age=settings.editor_session_max_hours * 3600,
        same_site=settings.editor_cookie_same_site,
        https_only=settings.public_url.startswith("https://"),
    )

"""HTTP hardening of the editor: security headers, and sessions only where they belong.

Every response under ``/editor`` gets a strict Content-Security-Policy (scripts, styles and
frames from our own origin only; nothing may frame the editor), ``no-store`` caching (an
authenticated page must not linger in a shared cache or the back/forward cache of a shared
computer), ``nosniff`` and a same-origin referrer policy. A route may set its own values
first; the middleware only fills in what is missing. The email documents the preview
frames get a different, even stricter policy (:data:`EMAIL_DOCUMENT_HEADERS`): no scripts
at all, a sandbox, and framing by our own pages only.
"""

from __future__ import annotations

from typing import Literal

from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EDITOR_PREFIX = "/editor"

EDITOR_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
EDITOR_HEADERS = {
    "Content-Security-Policy": EDITOR_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

# An email shown in the preview's frames: its own inline styles and remote images, nothing
# else; sandboxed (no scripts, no forms, an opaque origin) even when opened on its own.
EMAIL_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "font-src https: data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "sandbox"
)
EMAIL_DOCUMENT_HEADERS = {
    "Content-Security-Policy": EMAIL_CSP,
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "no-referrer",
}


def under_editor(path: str) -> bool:
    return path == EDITOR_PREFIX or path.startswith(EDITOR_PREFIX + "/")


class EditorHeaders:
    """Adds :data:`EDITOR_HEADERS` (where a route did not set them) to ``/editor`` answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not under_editor(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EDITOR_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class EditorSessions:
    """Starlette's :class:`SessionMiddleware` for ``/editor`` paths only.

    The public pages never read a session, so they neither parse the cookie nor can be
    handed one; the cookie's ``path`` keeps browsers from sending it anywhere else either.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str,
        session_cookie: str,
        max_age: int,
        same_site: Literal["lax", "strict"],
        https_only: bool,
    ) -> None:
        self.app = app
        self.with_sessions = SessionMiddleware(
            app,
            secret_key=secret_key,
            session_cookie=session_cookie,
            max_age=max_age,
            path=EDITOR_PREFIX,
            same_site=same_site,
            https_only=https_only,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and under_editor(scope["path"]):
            await self.with_sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)

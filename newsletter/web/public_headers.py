"""HTTP hardening of the public site: a Content-Security-Policy and ``nosniff`` on every answer
outside ``/editor`` (which has its own, stricter set), and the right ``Allow`` on a 405.

The public pages need no script but the signup form's one file of our own (it fills in the
reader's time zone from the browser), styles and images only from our own origin, and
forms that post only to us (and, after a signup, redirect to the configured thank-you
page). Nothing may frame them except the signup form, which any site may embed
(``docs/embedding.md``); the pages behind signed links also send ``X-Frame-Options: DENY``
for old browsers. A route may set its own values first (the archive's web version does);
the middleware only fills in what is missing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.web.editor.security import under_editor

EMBEDDABLE = frozenset({"/subscribe"})
SCRIPTED = frozenset({"/subscribe"})  # pages that load our own script (static/time-zone.js)


def public_csp(*, frame_ancestors: str, form_targets: str, scripts: bool = False) -> str:
    script = " script-src 'self';" if scripts else ""
    return (
        f"default-src 'none';{script} style-src 'self'; img-src 'self' data:; "
        f"form-action {form_targets}; base-uri 'none'; frame-ancestors {frame_ancestors}"
    )


def form_targets(thank_you_url: str | None) -> str:
    """'self', plus the thank-you page's origin: browsers apply ``form-action`` to the
    redirect that follows a form post too."""
    if not thank_you_url:
        return "'self'"
    parts = urlsplit(thank_you_url)
    return f"'self' {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "'self'"


class PublicHeaders:
    """Adds the public site's security headers (where a route did not set them)."""

    def __init__(self, app: ASGIApp, *, thank_you_url: str | None = None) -> None:
        self.app = app
        targets = form_targets(thank_you_url)
        self.policies = {
            (framed, scripts): public_csp(
                frame_ancestors="*" if framed else "'none'", form_targets=targets, scripts=scripts
            )
            for framed in (True, False)
            for scripts in (True, False)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or under_editor(scope["path"]):
            await self.app(scope, receive, send)
            return
        embeddable = scope["path"] in EMBEDDABLE
        policy = self.policies[embeddable, scope["path"] in SCRIPTED]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Content-Security-Policy", policy)
                if not embeddable:
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: ASGIApp, scope: Scope) -> str:
    """Every method some route of ``app`` answers at this path. Starlette's own 405 names
    only the first route that matched the path, so ``PUT /subscribe`` said ``Allow: GET``
    although ``POST`` is the point of it; each method is tried against the routes instead."""
    routes = getattr(app, "routes", [])
    allowed = [
        method
        for method in METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(allowed)

"""What every editor route shares: settings, database, templates, and how a page is answered.

:class:`EditorSite` is built once by :func:`newsletter.web.editor.install.install_editor`
and kept on ``app.state``; routes reach it with :func:`editor_site`. Database work runs in
the thread pool (:meth:`EditorSite.run`), so a slow query never stalls the event loop.
Pages carry the session's CSRF token and its one-time messages ("flashes").
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.editors.throttle import ThrottlePolicy
from subscribers.ratelimit import ClientRateLimiter

T = TypeVar("T")
FlashKind = Literal["info", "error"]
_MAX_FLASHES = 5


@dataclass(frozen=True)
class EditorSite:
    settings: Settings
    database: Database
    reader: Database  # reports and counts (NEWSLETTER_READ_DATABASE_URL; else ``database``)
    pages: Jinja2Templates
    login_limiter: ClientRateLimiter
    login_throttle: ThrottlePolicy
    zone: ZoneInfo

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        pages: Jinja2Templates,
        reader: Database | None = None,
    ) -> EditorSite:
        return cls(
            settings=settings,
            database=database,
            reader=reader or database,
            pages=pages,
            login_limiter=ClientRateLimiter(settings.editor_login_rate_limit, 60),
            login_throttle=ThrottlePolicy(
                free_failures=settings.editor_login_free_failures,
                address_free_failures=settings.editor_login_address_free_failures,
                first_delay=timedelta(seconds=settings.editor_login_first_delay_seconds),
                max_delay=timedelta(seconds=settings.editor_login_max_delay_seconds),
                forget=timedelta(minutes=settings.editor_login_forget_minutes),
            ),
            zone=ZoneInfo(settings.editor_timezone),
        )

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work`` in one transaction, in the thread pool."""
        return await run_in_threadpool(self._transaction, work)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self.database.transaction() as session:
            return work(session)

    async def read(self, work: Callable[[Session], T]) -> T:
        """``work`` in one read-only transaction on the read database, in the thread pool:
        reports and counts, which may run on a replica."""
        return await run_in_threadpool(self._reading, work)

    def _reading(self, work: Callable[[Session], T]) -> T:
        with self.reader.reading() as session:
            return work(session)

    def local(self, moment: datetime | None) -> str:
        """A stored UTC time as editors read it: in their zone, to the minute."""
        if moment is None:
            return ""
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def local_input(self, moment: datetime | None) -> str:
        """A stored UTC time as a ``datetime-local`` input's value, in the editors' zone."""
        if moment is None:
            return ""
        return moment.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")


def editor_site(request: Request) -> EditorSite:
    return cast(EditorSite, request.app.state.editor_site)


# --- session helpers -----------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); every form posts it back."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def flash(request: Request, text: str, kind: FlashKind = "info") -> None:
    """A message for the next page this session sees (after a redirect)."""
    queued = list(request.session.get("flash") or [])[-(_MAX_FLASHES - 1) :]
    queued.append([kind, text[:500]])
    request.session["flash"] = queued


def take_flashes(request: Request) -> list[tuple[str, str]]:
    queued = request.session.pop("flash", None) or []
    return [(str(kind), str(text)) for kind, text in queued]


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An editor page (``templates/web/editor/<template>``) with what every page needs."""
    site = editor_site(request)
    values = {
        "editor": getattr(request.state, "editor", None),
        "csrf_token": csrf_token(request),
        "flashes": take_flashes(request),
        "local": site.local,
        "local_input": site.local_input,
        "zone": site.settings.editor_timezone,
        "path": request.url.path,
        **context,
    }
    return site.pages.TemplateResponse(
        request,
        f"editor/{template}",
        values,
        status_code=status,
        headers=dict(headers or {}),
    )

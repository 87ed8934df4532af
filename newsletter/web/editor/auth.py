"""Logging editors in and out, who is logged in, roles, and CSRF protection.

Sessions are Starlette's signed cookies (``SessionMiddleware``, itsdangerous), HttpOnly,
SameSite, Secure when the public URL is https, and sent only to ``/editor``. A session
holds the editor's id, the account's ``session_stamp`` (a new password or a disabled
account ends every session at its next request), its CSRF token and two times: login
(the session ends ``editor_session_max_hours`` later, however active) and last seen (it
ends after ``editor_session_idle_minutes`` without a request). Logging in replaces the
whole session, CSRF token included, so nothing set before the login survives it; logging
out changes the account's stamp, which ends its sessions everywhere (a cookie cannot be
revoked alone).

CSRF: every unsafe request (``POST`` and friends) under ``/editor`` must carry the
session's token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header, compared
in constant time; a request whose ``Origin`` names another site is refused even before.
The login form is protected the same way (against logging a victim into our account).

Failed logins all get one answer (no account enumeration). Each client address has a
rate limit on attempts (in this process), and failures slow down the address they come from
with growing waits, per account and overall (:mod:`newsletter.editors.throttle`, in the
database): an account is never locked, so nobody can lock an editor out. The client address
is the peer's, or what a configured proxy says (:func:`subscribers.ratelimit.client_address`).
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.responses import Response

from newsletter.editors.accounts import (
    authenticate,
    editor_for_session,
    end_sessions,
    login_account,
)
from newsletter.editors.throttle import ThrottlePolicy, forgive, reserve_attempt
from newsletter.web.editor.site import csrf_token, editor_site, flash, render
from subscribers.origins import foreign_origin
from subscribers.ratelimit import ClientRateLimiter, client_address

log = logging.getLogger("newsletter.web.editor")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
HOME = "/editor"
LOGIN = "/editor/login"
FORM_MAX_FIELDS = 200
# The brief forms (new brief, edit, live preview) may hold a whole brief: 100 facts, 200
# sources and 20 narratives with every Remove box ticked post 1,290 fields. Their body size
# has its own limit too (``editor_brief_form_max_bytes``).
BRIEF_FORM_PATHS = (
    r"^/editor/briefs/new$",
    r"^/editor/briefs/preview$",
    r"^/editor/briefs/[^/]+/edit$",
)
BRIEF_FORM_MAX_FIELDS = 1_500
# The campaign form posts an order box for every stored brief, ready or not.
CAMPAIGN_FORM_PATHS = (r"^/editor/campaigns/new$", r"^/editor/campaigns/[^/]+/edit$")
CAMPAIGN_FORM_MAX_FIELDS = 1_000
_FIELD_LIMITS = (
    (re.compile("|".join(BRIEF_FORM_PATHS)), BRIEF_FORM_MAX_FIELDS),
    (re.compile("|".join(CAMPAIGN_FORM_PATHS)), CAMPAIGN_FORM_MAX_FIELDS),
)
_SEEN_RESOLUTION = (
    60  # seconds: the "last seen" time (and so the cookie) changes at most this often
)
LOGIN_FAILED = "That email address and password do not match an active account."
TOO_MANY_ATTEMPTS = "Too many login attempts. Please wait."
SLOWED_DOWN = "Too many failed logins from your network: please wait {seconds} s and try again."


@dataclass(frozen=True)
class CurrentEditor:
    id: int
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginRequired(Exception):
    """No valid session: pages redirect to the login page, API calls answer ``401``."""

    def __init__(self, *, api: bool, next_url: str = HOME) -> None:
        self.api = api
        self.next_url = next_url
        super().__init__("log in first")


async def _current(request: Request) -> CurrentEditor | None:
    cached = getattr(request.state, "editor", None)
    if isinstance(cached, CurrentEditor):
        return cached
    site = editor_site(request)
    session = request.session
    editor_id, stamp = session.get("editor"), session.get("stamp")
    login_at, seen = session.get("login_at"), session.get("seen")
    if not (
        isinstance(editor_id, int)
        and isinstance(stamp, str)
        and isinstance(login_at, int | float)
        and isinstance(seen, int | float)
    ):
        return None
    now = time.time()
    settings = site.settings
    if (
        now - login_at > settings.editor_session_max_hours * 3600
        or now - seen > settings.editor_session_idle_minutes * 60
    ):
        session.clear()
        return None

    def lookup(db_session: Session) -> CurrentEditor | None:
        row = editor_for_session(db_session, editor_id, stamp)
        return None if row is None else CurrentEditor(row.id, row.email, row.role)

    editor = await site.run(lookup)
    if editor is None:
        session.clear()
        return None
    if now - seen >= _SEEN_RESOLUTION:
        session["seen"] = now
    request.state.editor = editor
    return editor


def _next_of(request: Request) -> str:
    if request.method in ("GET", "HEAD"):
        query = f"?{request.url.query}" if request.url.query else ""
        return request.url.path + query
    return HOME


async def editor_page(request: Request) -> CurrentEditor:
    """Dependency of every editor page: the logged-in editor, or a redirect to log in."""
    editor = await _current(request)
    if editor is None:
        raise LoginRequired(api=False, next_url=_next_of(request))
    return editor


async def editor_api(request: Request) -> CurrentEditor:
    """Dependency of the editor API: the logged-in editor, or ``401``."""
    editor = await _current(request)
    if editor is None:
        raise LoginRequired(api=True)
    return editor


async def admin_page(editor: Annotated[CurrentEditor, Depends(editor_page)]) -> CurrentEditor:
    """Dependency of the admin pages (editors, settings): ``403`` for other roles."""
    if not editor.is_admin:
        raise HTTPException(403, "Only an admin may open this page.")
    return editor


class CsrfRejected(Exception):
    """An unsafe request without the session's CSRF token, or from another site."""


async def csrf_protect(request: Request) -> None:
    """Dependency: refuse unsafe requests that lack the token or come from another origin."""
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and foreign_origin(request, editor_site(request).settings.public_url):
        raise CsrfRejected(f"a request from {origin!r}")
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        # The whole form is parsed here, once (routes get the same parse).
        form = await request.form(max_files=20, max_fields=form_max_fields(request.url.path))
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not (isinstance(expected, str) and sent and hmac.compare_digest(expected, sent)):
        raise CsrfRejected("a missing or wrong CSRF token")


def form_max_fields(path: str) -> int:
    """How many fields a form posted to ``path`` may have: a brief form's room for a whole
    brief, the campaign form's for many briefs, 200 anywhere else."""
    for pattern, limit in _FIELD_LIMITS:
        if pattern.match(path):
            return limit
    return FORM_MAX_FIELDS


def _is_form(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


def safe_next(value: str | None) -> str:
    """Where to go after logging in: an editor path on this site, nothing else."""
    if not value or not value.startswith(HOME) or "\\" in value or "//" in value:
        return HOME
    if any(ord(c) < 32 for c in value):
        return HOME
    return value


def login_redirect(next_url: str) -> RedirectResponse:
    target = LOGIN if next_url == HOME else f"{LOGIN}?next={quote(next_url, safe='/')}"
    return RedirectResponse(target, status_code=303)


# --- the login and logout pages ------------------------------------------------------------

router = APIRouter(include_in_schema=False)
Email = Annotated[str, Form(max_length=320)]
Password = Annotated[str, Form(max_length=1024)]
Next = Annotated[str, Form(max_length=2000)]


@router.get(LOGIN)
async def login_page(
    request: Request, next: Annotated[str, Query(max_length=2000)] = HOME
) -> Response:
    target = safe_next(next)
    if await _current(request) is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", {"next": target, "email": "", "error": None})


@router.post(LOGIN, dependencies=[Depends(csrf_protect)])
async def login_post(
    request: Request,
    email: Email = "",
    password: Password = "",
    next: Next = HOME,
) -> Response:
    site = editor_site(request)
    target = safe_next(next)
    address = client_address(request)
    wait = site.login_limiter.hit(address)
    if wait is not None:
        log.warning("editor login rate limit hit from %s", address)
        return _too_soon(request, target, email, TOO_MANY_ATTEMPTS, wait)
    account, policy = login_account(email), site.login_throttle
    wait = await site.run(lambda session: reserve_attempt(session, account, address, policy))
    if wait is not None:
        log.warning("editor login from %s slowed down (%.0f s to wait)", address, wait)
        seconds = ClientRateLimiter.retry_after_header(wait)
        return _too_soon(request, target, email, SLOWED_DOWN.format(seconds=seconds), wait)
    result = await site.run(lambda session: _login(session, email, password, address, policy))
    if result is None:
        return render(
            request,
            "login.html",
            {"next": target, "email": email, "error": LOGIN_FAILED},
            status=401,
        )
    editor_id, stamp = result
    now = time.time()
    request.session.clear()  # a new session: nothing from before the login survives
    request.session.update(editor=editor_id, stamp=stamp, login_at=now, seen=now)
    csrf_token(request)
    return RedirectResponse(target, status_code=303)


def _too_soon(request: Request, target: str, email: str, error: str, wait: float) -> Response:
    """``429`` with ``Retry-After``: the same for every address typed, account or not."""
    return render(
        request,
        "login.html",
        {"next": target, "email": email, "error": error},
        status=429,
        headers={"Retry-After": ClientRateLimiter.retry_after_header(wait)},
    )


def _login(
    session: Session, email: str, password: str, address: str, policy: ThrottlePolicy
) -> tuple[int, str] | None:
    result = authenticate(session, email, password)
    if not result.ok or result.editor is None:
        log.warning("editor login refused from %s (%s)", address, result.outcome)
        return None
    forgive(session, result.editor.email, address, policy)
    return result.editor.id, result.editor.session_stamp


@router.get("/editor/logout")
async def logout_page(request: Request) -> Response:
    editor = await _current(request)
    if editor is None:
        return login_redirect(HOME)
    return render(request, "logout.html", {})


@router.post("/editor/logout", dependencies=[Depends(csrf_protect)])
async def logout_post(request: Request) -> Response:
    """Log out: the account's sessions end everywhere, since a signed cookie cannot be
    revoked alone (a copy of it would otherwise work until it expires)."""
    editor = await _current(request)
    if editor is not None:
        await editor_site(request).run(lambda session: end_sessions(session, editor.id))
    request.session.clear()
    flash(request, "You are logged out.")
    return RedirectResponse(LOGIN, status_code=303)

"""The public pages and JSON API of subscribing: signup, confirm, preferences, unsubscribe.

An ``APIRouter`` that the web shell includes; what it needs (settings, database, signer,
page templates) comes from a :class:`PublicSite` the shell puts on ``app.state``. Routes
only translate HTTP: validation lives in :mod:`subscribers.forms`, decisions in the
service modules, and database work runs in the thread pool so the event loop never waits.

Answers never tell whether an address is known (no enumeration), token pages are never
cached, framed or leaked through ``Referer``, and ``GET /confirm/{token}`` and ``GET
/unsubscribe/{token}`` only show a button: link scanners follow GETs, so only a ``POST`` (the
button, or for unsubscribing an RFC 8058 one-click request from a mail client) changes
anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.delivery.capabilities import delivers_unicode_local_parts
from newsletter.errors import InvalidInput, InvalidToken, NotFoundError, problem_detail
from newsletter.tokens import Purpose, TokenSigner
from newsletter.zones import known_zones
from subscribers.fast_signup import FastSignups, record_signup
from subscribers.forms import (
    Submission,
    fresh_link_form,
    honeypot_filled,
    preferences_form,
    read_submission,
    signup_form,
    wants_unsubscribe,
)
from subscribers.fresh_links import request_fresh_link
from subscribers.links import preferences_url
from subscribers.model import NARRATIVE_DISPLAYS, Subscriber
from subscribers.origins import foreign_origin
from subscribers.preferences import unsubscribe, update_preferences
from subscribers.ratelimit import ClientRateLimiter, client_address, client_ip
from subscribers.signup import (
    ConfirmResult,
    Origin,
    confirm,
    find_by_uid,
    retrying_unique,
)
from subscribers.topics import TopicCatalog

T = TypeVar("T")

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
TOKEN_PAGE = {**PRIVATE, "X-Frame-Options": "DENY"}
ACCEPTED = (
    "If this address can receive our newsletter, a mail with a confirmation link is on its "
    "way. Nothing is sent until you confirm."
)
LINK_SENT = (
    "If this address is subscribed, a mail with a fresh link to its preferences is on its "
    "way. The link in it lets you change your topics or unsubscribe."
)


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicSite:
    """What the public routes need; built once by the app factory."""

    settings: Settings
    database: Database
    signer: TokenSigner
    pages: Jinja2Templates
    topics: TopicCatalog
    limiter: ClientRateLimiter
    link_limiter: ClientRateLimiter  # requests for a fresh preferences link, per client
    fast_signups: FastSignups | None  # PostgreSQL only
    # Told which issue an unsubscribe came from (the link's ``d``, opaque here): the
    # campaigns package counts it in that issue's report. Runs in the thread pool.
    on_unsubscribe: UnsubscribeHook | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        pages: Jinja2Templates,
        *,
        on_unsubscribe: UnsubscribeHook | None = None,
    ) -> PublicSite:
        fast = None
        if database.dialect == "postgresql":
            fast = FastSignups(database, pool_size=settings.database_pool_size)
        return cls(
            settings=settings,
            database=database,
            signer=TokenSigner(settings.signing_key()),
            pages=pages,
            topics=TopicCatalog(settings.topics),
            limiter=ClientRateLimiter(settings.signup_rate_limit, settings.signup_rate_period),
            link_limiter=ClientRateLimiter(
                settings.fresh_link_rate_limit, settings.fresh_link_rate_period
            ),
            fast_signups=fast,
            on_unsubscribe=on_unsubscribe,
        )

    @property
    def ascii_local_part(self) -> bool:
        """Whether new addresses must have an ASCII local part (the provider's limit)."""
        return not delivers_unicode_local_parts(self.settings.provider)

    async def close(self) -> None:
        """Release what belongs to the event loop (the app's lifespan calls it)."""
        if self.fast_signups is not None:
            await self.fast_signups.close()

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction, in the thread pool (retrying a lost key race)."""
        return await run_in_threadpool(retrying_unique, self.database, work)

    async def known_topics(self) -> frozenset[str]:
        cached = self.topics.cached()
        if cached is not None:
            return cached
        return await run_in_threadpool(self.topics.load, self.database)


UnsubscribeHook = Callable[[str, str, datetime], object]
"""Called with the unsubscribe link's ``d``, the uid its token names and the time, after an
unsubscribe took effect; it must ignore a ``d`` that is not that subscriber's."""


def _site(request: Request) -> PublicSite:
    return cast(PublicSite, request.app.state.public_site)


def _origin(request: Request, source: str | None = None) -> Origin:
    return Origin(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        source=source,
    )


def _page(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] = PRIVATE,
) -> Response:
    return _site(request).pages.TemplateResponse(
        request, name, dict(context), status_code=status, headers=dict(headers)
    )


def _problems(exc: InvalidInput) -> dict[str, str]:
    found: dict[str, str] = {}
    for field, reason in exc.problems:
        found.setdefault(field, reason)
    return found


def _json_problem(exc: InvalidInput) -> JSONResponse:
    return JSONResponse({"detail": problem_detail(exc)}, status_code=422, headers=PRIVATE)


# --- documentation of the bodies and answers (the OpenAPI spec schemathesis tests) -------


ZONE_HELP = (
    "IANA time zone of the reader (e.g. Europe/Berlin): campaigns sent at local time reach "
    "them by it; empty: the newsletter's default zone."
)


class SignupBody(BaseModel):
    email: str = Field(max_length=320, description="The address to subscribe.")
    name: str | None = Field(default=None, max_length=100)
    topics: list[str] = Field(default_factory=list, max_length=50)
    source: str | None = Field(default=None, max_length=100, description="Which form it was.")
    time_zone: str | None = Field(default=None, max_length=64, description=ZONE_HELP)
    website: str | None = Field(default=None, description="Leave empty (a trap for bots).")


class PreferencesBody(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    topics: list[str] = Field(default_factory=list, max_length=50)
    narratives: Literal["all", "facts-only", "no-forecast"] = "all"
    time_zone: str | None = Field(default=None, max_length=64, description=ZONE_HELP)
    action: Literal["save", "unsubscribe"] = "save"


class FreshLinkBody(BaseModel):
    email: str = Field(max_length=320, description="The address to mail a fresh link to.")
    website: str | None = Field(default=None, description="Leave empty (a trap for bots).")


class OneClickBody(BaseModel):
    List_Unsubscribe: Literal["One-Click"] | None = Field(
        default=None, alias="List-Unsubscribe", description="RFC 8058 one-click (optional)."
    )


class Accepted(BaseModel):
    status: Literal["accepted"]
    detail: str


class PreferencesOut(BaseModel):
    status: str
    name: str | None
    topics: list[str]
    narratives: str
    time_zone: str | None


class Unsubscribed(BaseModel):
    status: Literal["unsubscribed"]


class Confirmed(BaseModel):
    status: Literal["active"]
    already: bool


class ProblemItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problems(BaseModel):
    detail: list[ProblemItem] | str


def _body(model: type[BaseModel], *, required: bool = True, json: bool = True) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True)
    content = {"application/x-www-form-urlencoded": {"schema": schema}}
    if json:
        content = {"application/json": {"schema": schema}, **content}
    return {"requestBody": {"required": required, "content": content}}


HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, **HTML}


def _both(description: str, model: type[BaseModel]) -> dict[str, Any]:
    return {"description": description, "model": model, **HTML}


BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: _both("The body could not be read (e.g. a file in a form).", Problems),
    413: {"description": "The body is too large.", "model": Problems},
    422: _both("A field is wrong: `detail` names it and says why.", Problems),
}
BAD_TOKEN: dict[int | str, dict[str, Any]] = {
    400: _both("The link was altered or has expired.", Problems),
    404: _both("The link names no subscription (it was erased).", Problems),
}
Token = Annotated[str, Path(max_length=200, description="The signed token from the mail.")]
IssueRef = Annotated[
    str, Query(max_length=200, description="In a campaign's links: the issue it came from.")
]

router = APIRouter(tags=["subscribers"])


# --- signup --------------------------------------------------------------------------------


@router.get(
    "/subscribe",
    response_class=Response,
    responses={200: _html("The signup form (embeddable: `?embed=1` drops the page chrome).")},
)
async def signup_page(
    request: Request, embed: Annotated[bool, Query(description="Compact, for iframes.")] = False
) -> Response:
    topics = await _site(request).known_topics()
    context = {"topics": sorted(topics), "values": {}, "errors": {}, "embed": embed}
    return _page(request, "subscribe.html", context)


@router.post(
    "/subscribe",
    response_class=Response,
    status_code=202,
    openapi_extra=_body(SignupBody),
    responses={
        202: {
            "description": "Accepted (JSON): the same answer for every address.",
            "model": Accepted,
        },
        200: _html("Accepted (form): 'check your inbox'."),
        303: {"description": "Accepted (form) when a thank-you page is configured."},
        429: _both("Too many signups from this address: see Retry-After.", Problems),
        **BAD_BODY,
    },
)
async def signup_post(request: Request) -> Response:
    site = _site(request)
    wait = site.limiter.hit(client_address(request))
    if wait is not None:
        headers = {**PRIVATE, "Retry-After": ClientRateLimiter.retry_after_header(wait)}
        message = "Too many signups from your network just now. Please try again later."
        if "text/html" in request.headers.get("accept", ""):
            return _error_page(request, 429, message, headers=headers)
        return JSONResponse({"detail": message}, status_code=429, headers=headers)
    try:
        submission = await read_submission(request)
    except InvalidInput as exc:
        return _json_problem(exc)
    if honeypot_filled(submission):
        return _accepted(request, submission)  # a bot: the usual answer, nothing written
    topics = await site.known_topics()
    try:
        form = signup_form(submission, topics, ascii_local_part=site.ascii_local_part)
    except InvalidInput as exc:
        if submission.kind == "json":
            return _json_problem(exc)
        context = {
            "topics": sorted(topics),
            "values": submission.fields,
            "errors": _problems(exc),
            "embed": request.query_params.get("embed") == "1",
        }
        return _page(request, "subscribe.html", context, status=422)
    origin = _origin(request, form.form["source"])
    resend = timedelta(minutes=site.settings.confirmation_resend_minutes)
    if site.fast_signups is not None:
        await site.fast_signups.record(form, origin, resend_after=resend)
    else:
        await run_in_threadpool(record_signup, site.database, form, origin, resend_after=resend)
    return _accepted(request, submission)


def _accepted(request: Request, submission: Submission) -> Response:
    if submission.kind == "json":
        return JSONResponse(
            {"status": "accepted", "detail": ACCEPTED}, status_code=202, headers=PRIVATE
        )
    thank_you = _site(request).settings.thank_you_url
    if thank_you:
        return RedirectResponse(thank_you, status_code=303, headers=PRIVATE)
    return _page(request, "pending.html", {"message": ACCEPTED})


# --- confirm -------------------------------------------------------------------------------


@router.get(
    "/confirm/{token}",
    response_class=Response,
    responses={
        200: _html("A page with one button; nothing changes until it is pressed."),
        410: _html("The subscription was closed since the mail was sent."),
        **BAD_TOKEN,
    },
)
async def confirm_page(request: Request, token: Token) -> Response:
    """Show the 'confirm' button. Mail scanners follow every link in a mail, so a ``GET``
    never confirms (it would subscribe whoever a stranger typed into the form)."""
    site = _site(request)
    uid = _confirmation_uid(request, token)
    if isinstance(uid, Response):
        return uid
    try:
        subscriber = await site.run(lambda session: find_by_uid(session, uid))
    except NotFoundError as exc:
        return _invalid_link(request, exc, status=404)
    if subscriber.status == "active" and subscriber.lapsed_at is None:
        return _confirmed(request, uid, already=True)
    if subscriber.status not in ("pending", "active"):  # active here: lapsed, asking back
        return _closed(request)
    return _page(request, "confirm.html", {"email": subscriber.email}, headers=TOKEN_PAGE)


@router.post(
    "/confirm/{token}",
    response_class=Response,
    responses={
        200: _both("Confirmed (or already confirmed).", Confirmed),
        410: _both("The subscription was closed since the mail was sent.", Problems),
        **BAD_TOKEN,
        413: {"description": "The body is too large.", "model": Problems},
    },
)
async def confirm_post(request: Request, token: Token) -> Response:
    """Confirm the signup the token names (the page's button; no body is needed)."""
    site = _site(request)
    uid = _confirmation_uid(request, token)
    if isinstance(uid, Response):
        return uid
    origin = _origin(request)
    try:
        result = await site.run(lambda session: confirm(session, uid, origin))
    except NotFoundError as exc:
        return _invalid_link(request, exc, status=404)
    if result is ConfirmResult.CLOSED:
        return _closed(request)
    already = result is ConfirmResult.ALREADY_ACTIVE
    if "json" in request.headers.get("content-type", ""):
        return JSONResponse({"status": "active", "already": already}, headers=PRIVATE)
    return _confirmed(request, uid, already=already)


def _confirmation_uid(request: Request, token: str) -> str | Response:
    site = _site(request)
    max_age = site.settings.confirmation_expiry_hours * 3600
    try:
        return site.signer.verify(Purpose.CONFIRM, token, max_age=max_age)
    except InvalidToken as exc:
        return _invalid_link(request, exc)


def _confirmed(request: Request, uid: str, *, already: bool) -> Response:
    site = _site(request)
    context = {
        "already": already,
        "preferences_url": preferences_url(site.settings.public_url, site.signer, uid),
    }
    return _page(request, "confirmed.html", context, headers=TOKEN_PAGE)


def _closed(request: Request) -> Response:
    message = "This subscription was closed after the mail was sent. You can sign up again."
    return _invalid_link(request, InvalidToken(message), status=410)


async def _linked_subscriber(
    request: Request, purpose: Purpose, token: str
) -> Subscriber | Response:
    """The subscriber a signed link names, or the page saying why the link does not work."""
    site = _site(request)
    try:
        uid = site.signer.verify(purpose, token)
        return await site.run(lambda session: find_by_uid(session, uid))
    except InvalidToken as exc:
        return _invalid_link(request, exc, purpose=purpose)
    except NotFoundError as exc:
        return _invalid_link(request, exc, status=404, purpose=purpose)


def _invalid_link(
    request: Request, exc: Exception, *, status: int = 400, purpose: Purpose = Purpose.CONFIRM
) -> Response:
    """Why a signed link does not work, and how to get one that does: a fresh confirmation
    link by the form, or (preferences, unsubscribe) the links every issue carries."""
    expired = isinstance(exc, InvalidToken) and exc.expired
    context = {
        "message": str(exc),
        "expired": expired,
        "purpose": purpose.value,
        "values": {},
        "errors": {},
    }
    return _page(request, "link_invalid.html", context, status=status, headers=TOKEN_PAGE)


# --- a fresh preferences link by email -----------------------------------------------------


@router.get(
    "/fresh-link",
    response_class=Response,
    responses={200: _html("A form: an address, to mail it a fresh preferences link.")},
)
async def fresh_link_page(request: Request) -> Response:
    return _page(request, "fresh_link.html", {"values": {}, "errors": {}}, headers=TOKEN_PAGE)


@router.post(
    "/fresh-link",
    response_class=Response,
    openapi_extra=_body(FreshLinkBody, json=False),
    responses={
        200: _html("Accepted: the same answer whether or not the address is subscribed."),
        403: _html("Posted from another site's page."),
        422: _html("The address is not one: the form again, with the reason."),
        429: _html("Too many requests from this client: see Retry-After."),
        400: _html("The body could not be read."),
        413: {"description": "The body is too large."},
    },
)
async def fresh_link_post(request: Request) -> Response:
    """Mail a fresh preferences link to a subscribed address (a form post, no JSON). The
    answer never says whether the address is on the list."""
    site = _site(request)
    sender = foreign_origin(request, site.settings.public_url)
    if sender is not None:
        message = "This form only works on our own site: open it here and send it again."
        return _error_page(request, 403, message)
    wait = site.link_limiter.hit(client_address(request))
    if wait is not None:
        headers = {**PRIVATE, "Retry-After": ClientRateLimiter.retry_after_header(wait)}
        message = (
            "Too many requests for a fresh link from your network just now. Please try again later."
        )
        return _error_page(request, 429, message, headers=headers)
    try:
        submission = await read_submission(request)
        if submission.kind != "form":
            raise InvalidInput("body", "send the form (JSON is not accepted here)")
    except InvalidInput as exc:
        return _fresh_link_form(request, {}, exc)
    try:
        address = fresh_link_form(submission)
    except InvalidInput as exc:
        return _fresh_link_form(request, submission.fields, exc)
    if address is not None:  # None: the trap field was filled (a bot): nothing is written
        resend = timedelta(minutes=site.settings.fresh_link_resend_minutes)
        await site.run(lambda session: request_fresh_link(session, address, resend_after=resend))
    return _page(request, "pending.html", {"message": LINK_SENT, "fresh_link": True})


def _fresh_link_form(request: Request, values: Mapping[str, Any], exc: InvalidInput) -> Response:
    context = {"values": values, "errors": _problems(exc)}
    return _page(request, "fresh_link.html", context, status=422, headers=TOKEN_PAGE)


def _error_page(
    request: Request, status: int, message: str, *, headers: Mapping[str, str] = PRIVATE
) -> Response:
    context = {"status": status, "message": message}
    return _page(request, "error.html", context, status=status, headers=headers)


# --- preferences ---------------------------------------------------------------------------


@router.get(
    "/preferences/{token}",
    response_class=Response,
    responses={200: _html("The preferences form."), **BAD_TOKEN},
)
async def preferences_page(request: Request, token: Token) -> Response:
    subscriber = await _linked_subscriber(request, Purpose.PREFERENCES, token)
    if isinstance(subscriber, Response):
        return subscriber
    return await _preferences(request, subscriber, {}, saved=False)


async def _preferences(
    request: Request,
    subscriber: Subscriber,
    errors: dict[str, str],
    *,
    saved: bool,
    values: Mapping[str, Any] | None = None,
) -> Response:
    site = _site(request)
    topics = set(await site.known_topics()) | set(subscriber.topics)
    context = {
        "subscriber": subscriber,
        "values": values
        or {
            "name": subscriber.name or "",
            "topics": list(subscriber.topics),
            "narratives": subscriber.narratives,
            "time_zone": subscriber.time_zone or "",
        },
        "topics": sorted(topics),
        "zones": sorted(known_zones()),
        "default_time_zone": site.settings.default_time_zone,
        "narrative_choices": NARRATIVE_DISPLAYS,
        "errors": errors,
        "saved": saved,
    }
    return _page(
        request, "preferences.html", context, status=422 if errors else 200, headers=TOKEN_PAGE
    )


@router.post(
    "/preferences/{token}",
    response_class=Response,
    openapi_extra=_body(PreferencesBody),
    responses={
        200: _both("Saved (or unsubscribed, with action=unsubscribe).", PreferencesOut),
        **BAD_TOKEN,
        **BAD_BODY,
    },
)
async def preferences_post(request: Request, token: Token) -> Response:
    site = _site(request)
    subscriber = await _linked_subscriber(request, Purpose.PREFERENCES, token)
    if isinstance(subscriber, Response):
        return subscriber
    uid = subscriber.uid
    try:
        submission = await read_submission(request)
    except InvalidInput as exc:
        return _json_problem(exc)
    origin = _origin(request)
    if wants_unsubscribe(submission):

        def leave(session: Session) -> Subscriber:
            unsubscribe(session, uid, origin)
            return find_by_uid(session, uid)

        left = await site.run(leave)
        if submission.kind == "json":
            return _preferences_json(left)
        return _unsubscribed(request, submission)
    topics = set(await site.known_topics()) | set(subscriber.topics)
    try:
        chosen = preferences_form(submission, topics)
    except InvalidInput as exc:
        if submission.kind == "json":
            return _json_problem(exc)
        return await _preferences(
            request, subscriber, _problems(exc), saved=False, values=submission.fields
        )
    updated = await site.run(lambda session: update_preferences(session, uid, chosen, origin))
    if submission.kind == "json":
        return _preferences_json(updated)
    return await _preferences(request, updated, {}, saved=True)


def _preferences_json(subscriber: Subscriber) -> JSONResponse:
    body = {
        "status": subscriber.status,
        "name": subscriber.name,
        "topics": subscriber.topics,
        "narratives": subscriber.narratives,
        "time_zone": subscriber.time_zone,
    }
    return JSONResponse(body, headers=PRIVATE)


# --- unsubscribe ---------------------------------------------------------------------------


@router.get(
    "/unsubscribe/{token}",
    response_class=Response,
    responses={
        200: _html("A page with one button; nothing changes until it is pressed."),
        **BAD_TOKEN,
    },
)
async def unsubscribe_page(request: Request, token: Token) -> Response:
    subscriber = await _linked_subscriber(request, Purpose.UNSUBSCRIBE, token)
    if isinstance(subscriber, Response):
        return subscriber
    context = {"email": subscriber.email, "status": subscriber.status}
    return _page(request, "unsubscribe.html", context, headers=TOKEN_PAGE)


@router.post(
    "/unsubscribe/{token}",
    response_class=Response,
    openapi_extra=_body(OneClickBody, required=False),
    responses={
        200: _both("Unsubscribed (also when it already was).", Unsubscribed),
        **BAD_TOKEN,
        413: {"description": "The body is too large.", "model": Problems},
    },
)
async def unsubscribe_post(request: Request, token: Token, d: IssueRef | None = None) -> Response:
    """Unsubscribe. The body is not needed: RFC 8058's ``List-Unsubscribe=One-Click`` form,
    the page's button and an empty POST all do the same. ``d``, in a campaign's links,
    names the issue it came from, for that issue's report; a bad one changes nothing."""
    site = _site(request)
    try:
        uid = site.signer.verify(Purpose.UNSUBSCRIBE, token)
    except InvalidToken as exc:
        return _invalid_link(request, exc, purpose=Purpose.UNSUBSCRIBE)
    origin = _origin(request)
    now = utcnow()
    try:
        changed = await site.run(lambda session: unsubscribe(session, uid, origin, now=now))
    except NotFoundError as exc:
        return _invalid_link(request, exc, status=404, purpose=Purpose.UNSUBSCRIBE)
    if changed and d and site.on_unsubscribe is not None:
        await _tell_unsubscribed(site.on_unsubscribe, d, uid, now)
    json_body = "json" in request.headers.get("content-type", "")
    return _unsubscribed(request, Submission("json" if json_body else "form", {}))


async def _tell_unsubscribed(hook: UnsubscribeHook, ref: str, uid: str, at: datetime) -> None:
    """The report's count is a by-product: its failure must not fail the unsubscribe,
    which has been committed already."""
    try:
        await run_in_threadpool(hook, ref, uid, at)
    except Exception:
        log.exception("could not record which issue an unsubscribe came from")


def _unsubscribed(request: Request, submission: Submission) -> Response:
    if submission.kind == "json":
        return JSONResponse({"status": "unsubscribed"}, headers=PRIVATE)
    return _page(request, "unsubscribed.html", {}, headers=TOKEN_PAGE)

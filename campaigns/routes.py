"""The tracking endpoints: SendGrid's event webhook, our open pixel and click redirects.

An ``APIRouter`` the web shell includes, with a :class:`TrackingSite` on ``app.state``
holding what the routes need. Routes only translate HTTP; parsing lives in
:mod:`campaigns.sendgrid_events`, recording in :mod:`campaigns.ingest` and
:mod:`campaigns.tracking`, and database work runs in the thread pool.

``POST /webhooks/sendgrid`` answers ``403`` (no verification key configured: SendGrid
events are off; or the signature is missing, wrong or stale) and ``400`` (not a JSON array
of objects) before anything is written, and ``200`` with counts once the batch is
committed. SendGrid retries any other answer for a day, which is what a database outage
should get. Without a key the endpoint is off rather than open: anyone could otherwise
post a bounce or an unsubscribe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from campaigns.ingest import IngestPolicy, IngestResult, record_events
from campaigns.linkmap import LinkIndexCache, url_expansions
from campaigns.sendgrid_events import parse_batch, sendgrid_record
from campaigns.tracking import PIXEL, FirstPartyTracker, Hit
from campaigns.webhook_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, SendGridSignature
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import InvalidInput, WebhookVerificationError
from newsletter.tokens import TokenSigner
from subscribers.routes import Problems

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/sendgrid"
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}


@dataclass(frozen=True)
class TrackingSite:
    """What the tracking routes need; built once by the app factory."""

    settings: Settings
    database: Database
    policy: IngestPolicy
    links: LinkIndexCache
    signature: SendGridSignature | None
    tracker: FirstPartyTracker
    clock: Callable[[], datetime] = utcnow  # when a pixel or link is hit

    @classmethod
    def build(cls, settings: Settings, database: Database) -> TrackingSite:
        """Fails with :class:`ConfigurationError` if the webhook key is set but unusable."""
        policy = IngestPolicy.from_settings(settings)
        links = LinkIndexCache(url_expansions(settings.public_url))
        key = settings.sendgrid_webhook_public_key
        signature = (
            SendGridSignature(key, max_age=settings.sendgrid_webhook_max_age) if key else None
        )
        signer = TokenSigner(settings.signing_key())
        return cls(
            settings=settings,
            database=database,
            policy=policy,
            links=links,
            signature=signature,
            tracker=FirstPartyTracker(database, signer, policy, links),
        )

    def ingest_sendgrid(self, body: bytes) -> IngestResult:
        """Parse, normalise and record one webhook batch in one transaction.

        Two batches that touch the same subscribers at once can deadlock on PostgreSQL, or
        race on a unique key; the loser is rolled back whole and simply run again (its
        events are then partly duplicates of the winner's, which is fine).
        """
        events = parse_batch(body)
        received = utcnow()
        for attempt in range(1, _TRIES + 1):
            records = [sendgrid_record(event, received) for event in events]
            try:
                with self.database.transaction() as session:
                    return record_events(session, records, self.policy, self.links)
            except (IntegrityError, OperationalError) as exc:
                if attempt == _TRIES or not _retryable(exc):
                    raise
                log.info("webhook batch lost a race (try %s of %s): again", attempt, _TRIES)
        raise AssertionError("unreachable")


SENDGRID_EVENTS_OFF = (
    "SendGrid events are off: set NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY to the Signed Event "
    "Webhook's verification key"
)


def sendgrid_events_notice(settings: Settings) -> str | None:
    """What ``newsletter serve`` says at start when SendGrid's events would be refused."""
    if settings.sendgrid_webhook_public_key:
        return None
    return (
        f"SendGrid events are off (POST {WEBHOOK_PATH} answers 403) until "
        "NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY is set"
    )


_TRIES = 3
# PostgreSQL: deadlock_detected, serialization_failure; SQLite: "database is locked".
_RETRYABLE_STATES = frozenset({"40P01", "40001"})


def _retryable(exc: IntegrityError | OperationalError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    state = getattr(exc.orig, "sqlstate", None)
    return state in _RETRYABLE_STATES or "database is locked" in str(exc.orig)


def _site(request: Request) -> TrackingSite:
    return cast(TrackingSite, request.app.state.tracking_site)


class BatchRecorded(BaseModel):
    received: int
    recorded: int
    duplicates: int
    unmatched: int


WEBHOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": True},
                    "description": "SendGrid Event Webhook events.",
                }
            }
        },
    },
    "parameters": [
        {
            "name": header,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "Signed Event Webhook header; a request without it is refused (403).",
        }
        for header in (SIGNATURE_HEADER, TIMESTAMP_HEADER)
    ],
}
HTML = {"text/html": {"schema": {"type": "string"}}}

router = APIRouter(tags=["tracking"])


@router.post(
    WEBHOOK_PATH,
    response_class=Response,
    openapi_extra=WEBHOOK_BODY,
    responses={
        200: {"description": "The batch is recorded (duplicates ignored).", "model": BatchRecorded},
        400: {"description": "The body is not a JSON array of events.", "model": Problems},
        403: {
            "description": "No verification key is configured (SendGrid events are off), "
            "or the signature is missing, wrong or stale.",
            "model": Problems,
        },
        413: {"description": "The body is too large.", "model": Problems},
    },
)
async def sendgrid_webhook(request: Request) -> Response:
    """SendGrid's Event Webhook: one batch of events per request."""
    site = _site(request)
    if site.signature is None:  # off: not even the body is read
        return JSONResponse({"detail": SENDGRID_EVENTS_OFF}, status_code=403)
    body = await request.body()
    try:
        site.signature.verify(body, request.headers)
    except WebhookVerificationError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=403)
    try:
        result = await run_in_threadpool(site.ingest_sendgrid, body)
    except InvalidInput as exc:
        return JSONResponse({"detail": exc.reason}, status_code=400)
    return JSONResponse(result.as_dict())


Token = Annotated[str, Path(max_length=300, description="The tracking token from the mail.")]
LinkId = Annotated[str, Path(max_length=40, description="The link's id in the variant.")]


PIXEL_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "A 1×1 transparent GIF.", "content": {"image/gif": {}}}
}
CLICK_ANSWERS: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the link's destination (only a link of that mail)."},
    404: {"description": "Not a link of ours.", "model": Problems, "content": HTML},
}


@router.get("/t/o/{token}.gif", response_class=Response, responses=PIXEL_ANSWERS)
@router.head(
    "/t/o/{token}.gif",
    response_class=Response,
    responses=PIXEL_ANSWERS,
    operation_id="open_pixel_head",
)
async def open_pixel(request: Request, token: Token) -> Response:
    """The open pixel. Always the GIF, so a mail never shows a broken image; only a token
    we signed is recorded (a ``HEAD`` as a machine's)."""
    site = _site(request)
    await run_in_threadpool(site.tracker.record_open, token, _hit(request, site))
    return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)


@router.get("/t/c/{token}/{link_id}", response_class=Response, responses=CLICK_ANSWERS)
@router.head(
    "/t/c/{token}/{link_id}",
    response_class=Response,
    responses=CLICK_ANSWERS,
    operation_id="click_redirect_head",
)
async def click_redirect(request: Request, token: Token, link_id: LinkId) -> Response:
    """A tracked link: record the click, then redirect to the frozen variant's link."""
    site = _site(request)
    destination = await run_in_threadpool(site.tracker.click, token, link_id, _hit(request, site))
    return RedirectResponse(
        destination, status_code=302, headers={**NO_CACHE, "Referrer-Policy": "no-referrer"}
    )


def _hit(request: Request, site: TrackingSite) -> Hit:
    return Hit(
        at=site.clock(),
        user_agent=request.headers.get("user-agent"),
        head=request.method == "HEAD",
    )

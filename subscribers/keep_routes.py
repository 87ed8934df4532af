"""The sunset policy's "keep me subscribed" page: ``GET`` shows one button, ``POST`` acts.

Mail scanners follow every link in a mail, so a ``GET`` never changes anything (it would
keep on the list a reader who never saw the question). The token is the subscriber's uid
signed for the ``keep`` purpose; it does not expire (the question may be read weeks late,
and a lapsed reader may find it later: pressing it then revives them).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.responses import Response

from newsletter.errors import NotFoundError
from newsletter.tokens import Purpose
from subscribers.lapse import KeepResult, keep
from subscribers.links import preferences_url, unsubscribe_url
from subscribers.routes import (
    BAD_TOKEN,
    PRIVATE,
    TOKEN_PAGE,
    Problems,
    Token,
    _both,
    _html,
    _invalid_link,
    _linked_subscriber,
    _origin,
    _page,
    _site,
)

router = APIRouter(tags=["subscribers"])


class Kept(BaseModel):
    status: str
    kept: bool


@router.get(
    "/keep/{token}",
    response_class=Response,
    responses={
        200: _html("A page with one button; nothing changes until it is pressed."),
        **BAD_TOKEN,
    },
)
async def keep_page(request: Request, token: Token) -> Response:
    subscriber = await _linked_subscriber(request, Purpose.KEEP, token)
    if isinstance(subscriber, Response):
        return subscriber
    site = _site(request)
    context = {
        "email": subscriber.email,
        "status": subscriber.status,
        "unsubscribe_url": unsubscribe_url(site.settings.public_url, site.signer, subscriber.uid),
    }
    return _page(request, "keep.html", context, headers=TOKEN_PAGE)


@router.post(
    "/keep/{token}",
    response_class=Response,
    responses={
        200: _both("Kept (or nothing to do: `kept` is false).", Kept),
        410: _both("Unsubscribed, bounced or complained: the button cannot undo that.", Problems),
        **BAD_TOKEN,
        413: {"description": "The body is too large.", "model": Problems},
    },
)
async def keep_post(request: Request, token: Token) -> Response:
    """Keep the reader the token names on the list (ends a question or a lapse)."""
    subscriber = await _linked_subscriber(request, Purpose.KEEP, token)
    if isinstance(subscriber, Response):
        return subscriber
    site = _site(request)
    uid = subscriber.uid
    origin = _origin(request)
    try:
        result = await site.run(lambda session: keep(session, uid, origin))
    except NotFoundError as exc:
        return _invalid_link(request, exc, status=404)
    if result is KeepResult.CLOSED:
        message = "This address is no longer subscribed. You can sign up again."
        return _invalid_link(request, NotFoundError(message), status=410)
    if "json" in request.headers.get("content-type", ""):
        return JSONResponse(
            {"status": "active", "kept": result is KeepResult.KEPT}, headers=PRIVATE
        )
    context = {
        "kept": result is KeepResult.KEPT,
        "preferences_url": preferences_url(site.settings.public_url, site.signer, uid),
    }
    return _page(request, "kept.html", context, headers=TOKEN_PAGE)

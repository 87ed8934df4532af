"""The public archive of sent issues, and the "view online" link of every email.

Both show a frozen variant's web version (``Variant.web_html``): every brief in full, no
tracking pixel or redirect, nobody's name, and the personal links replaced by the signup
page (see :func:`campaigns.freeze.web_version`). ``/archive`` lists campaigns that finished
sending, newest first (welcome series mails are not issues); ``/archive/latest`` redirects
to the newest; ``/archive/{id}`` shows the default variant (the "everyone" one, else
the first) or the one named by ``?variant=``. ``/view/{token}`` is the masthead link of an
email: the token signs ``v<variant id>``, so it names a variant and no person, and it works
for as long as the variant exists.

These pages are public: no login, no cookie, and a policy that lets the web version show
its images and styles but run nothing and leak no URL (``Referrer-Policy: no-referrer``:
the token in a view-online URL stays out of the sites its links lead to).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from campaigns.archive import (
    ARCHIVE_PAGE_SIZE,
    archived_web_version,
    latest_issue,
    sent_issues,
    viewed_web_version,
)
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.tokens import Purpose, TokenSigner
from newsletter.web.feed import ATOM_TYPE, FeedEntry, atom_feed

WEB_VERSION_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "font-src https: data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PUBLIC_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
WEB_VERSION_HEADERS = {
    **PUBLIC_HEADERS,
    "Content-Security-Policy": WEB_VERSION_CSP,
    "Cache-Control": "public, max-age=300",
}
LIST_HEADERS = {**PUBLIC_HEADERS, "Cache-Control": "public, max-age=60"}
FEED_SIZE = 20
T = TypeVar("T")

router = APIRouter(tags=["archive"])


@dataclass(frozen=True)
class Archive:
    """What the archive routes need; built once by the app factory."""

    database: Database
    signer: TokenSigner
    pages: Jinja2Templates
    settings: Settings

    @classmethod
    def build(cls, settings: Settings, database: Database, pages: Jinja2Templates) -> Archive:
        return cls(database, TokenSigner(settings.signing_key()), pages, settings)

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work`` in one (read) transaction, in the thread pool."""
        return await run_in_threadpool(self._transaction, work)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self.database.transaction() as session:
            return work(session)


def archive_of(request: Request) -> Archive:
    return cast(Archive, request.app.state.archive)


# --- routes --------------------------------------------------------------------------------

_HTML = {"text/html": {"schema": {"type": "string"}}}
_PROBLEM = {"application/json": {"schema": {"type": "object", "required": ["detail"]}}}


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": _HTML}


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {**_HTML, **_PROBLEM}}


NOT_FOUND = _refusal("No such issue (or it has not been sent).")
BAD_INPUT = _refusal("A parameter is not valid: `detail` says which.")


@router.get(
    "/archive",
    response_class=Response,
    responses={200: _page("Sent issues, newest first."), 422: BAD_INPUT},
)
async def archive_page(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page, newest first.")] = 1,
) -> Response:
    archive = archive_of(request)
    issues = await archive.run(lambda session: sent_issues(session, page=page))
    context = {
        "issues": issues[:ARCHIVE_PAGE_SIZE],
        "page": page,
        "more": len(issues) > ARCHIVE_PAGE_SIZE,
    }
    return archive.pages.TemplateResponse(request, "archive.html", context, headers=LIST_HEADERS)


@router.get(
    "/archive/feed.xml",
    response_class=Response,
    responses={
        200: {
            "description": "The Atom feed of the latest sent issues.",
            "content": {"application/atom+xml": {"schema": {"type": "string"}}},
        }
    },
)
async def archive_feed(request: Request) -> Response:
    archive = archive_of(request)
    issues = await archive.run(lambda session: sent_issues(session, size=FEED_SIZE))
    entries = [
        FeedEntry(i.campaign_id, i.subject, i.issue_date, i.sent_at or utcnow(), i.titles)
        for i in issues[:FEED_SIZE]
    ]
    settings = archive.settings
    body = atom_feed(
        entries,
        title=settings.newsletter_name,
        site_url=settings.public_url.rstrip("/"),
        now=utcnow(),
    )
    return Response(body, media_type=ATOM_TYPE, headers=LIST_HEADERS)


@router.get(
    "/archive/latest",
    response_class=Response,
    status_code=307,
    responses={307: {"description": "To the newest sent issue (the archive if none yet)."}},
)
async def latest_archived_issue(request: Request) -> Response:
    """What the welcome mail's "latest issue" link opens: always the issue current now."""
    newest = await archive_of(request).run(latest_issue)
    where = "/archive" if newest is None else f"/archive/{newest}"
    return RedirectResponse(
        where, status_code=307, headers={**PUBLIC_HEADERS, "Cache-Control": "no-cache"}
    )


@router.get(
    "/archive/{campaign_id}",
    response_class=Response,
    responses={
        200: _page("The issue's web version."),
        404: NOT_FOUND,
        422: BAD_INPUT,
    },
)
async def archived_issue(
    request: Request,
    campaign_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    variant: Annotated[str | None, Query(max_length=100, description="A version's name.")] = None,
) -> Response:
    html = await archive_of(request).run(
        lambda session: archived_web_version(session, campaign_id, variant)
    )
    return HTMLResponse(html, headers=WEB_VERSION_HEADERS)


@router.get(
    "/view/{token}",
    response_class=Response,
    responses={
        200: _page("The web version of the issue the email was."),
        400: _refusal("The link was altered or cut."),
        404: NOT_FOUND,
        422: BAD_INPUT,
    },
)
async def view_online(
    request: Request,
    token: Annotated[str, Path(max_length=200, description="The token from the email.")],
) -> Response:
    archive = archive_of(request)
    subject = archive.signer.verify(Purpose.VIEW_ONLINE, token)  # InvalidToken: 400
    html = await archive.run(lambda session: viewed_web_version(session, subject))
    return HTMLResponse(
        html, headers={**WEB_VERSION_HEADERS, "Cache-Control": "private, max-age=300"}
    )

"""The site's front page: what the newsletter is, how to subscribe, the latest issues.

``/`` is where a reader lands from a shared link to the bare domain: the signup form and
the archive are one click away (a 404 there would be the first thing they see).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from campaigns.archive import sent_issues
from newsletter.web.archive import LIST_HEADERS, archive_of

HOME_ISSUES = 5

router = APIRouter(tags=["archive"])


@router.get(
    "/",
    response_class=Response,
    responses={
        200: {
            "description": "The front page: subscribe, and the latest issues.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
async def home_page(request: Request) -> Response:
    archive = archive_of(request)
    issues = await archive.run(lambda session: sent_issues(session, size=HOME_ISSUES))
    context = {"issues": issues[:HOME_ISSUES], "more": len(issues) > HOME_ISSUES}
    return archive.pages.TemplateResponse(request, "home.html", context, headers=LIST_HEADERS)

"""The editor's JSON API (``/editor/api/…``): briefs, campaigns, their progress and reports.

The campaign page polls it for progress; scripts can use it with a session cookie (and the
``X-CSRF-Token`` header on changes). Without a session every call answers ``401``. Its
OpenAPI description is served to logged-in editors at ``/editor/api/openapi.json`` and kept
out of the public one (:mod:`newsletter.web.openapi_parts`), which documents only the
reader-facing API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from campaigns.audience import delivery_problems, frozen_counts
from campaigns.progress import SendProgress, send_progress
from campaigns.reports import CampaignReport, campaign_report
from campaigns.service import delivery_counts, get_campaign
from campaigns.states import DeliveryStatus
from newsletter.briefs.store import get_brief_row, set_status
from newsletter.db import utcnow
from newsletter.web.api_models import (
    BriefOut,
    CampaignOut,
    Problem,
    brief_summaries,
    campaign_summaries,
)
from newsletter.web.editor.auth import CurrentEditor, csrf_protect, editor_api
from newsletter.web.editor.campaigns import reach
from newsletter.web.editor.security import EDITOR_PREFIX
from newsletter.web.editor.site import editor_site
from newsletter.web.openapi_parts import openapi_part
from newsletter.web.paging import PageQuery, answer_page, page_query

API_PREFIX = f"{EDITOR_PREFIX}/api"
T = TypeVar("T")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "The body could not be read (it is not UTF-8 JSON).",
        401: "No editor session: log in at /editor/login first.",
        403: "A change without the session's X-CSRF-Token header, or from another site.",
        404: "No such brief or campaign.",
        413: "The body is too large.",
        422: "A parameter or the body is not valid: `detail` says which and why.",
    }
    return {code: {"description": descriptions[code], "model": Problem} for code in codes}


READ = _errors(401, 422)
READ_ONE = _errors(401, 404, 422)
WRITE = _errors(400, 401, 403, 404, 413, 422)

router = APIRouter(
    prefix=API_PREFIX,
    tags=["editor"],
    dependencies=[Depends(editor_api), Depends(csrf_protect)],
)
Slug = Annotated[str, Path(max_length=120, description="A brief's slug.")]
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Me(BaseModel):
    email: str
    role: Literal["editor", "admin"]


class BriefStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["draft", "ready"]


class VariantCounts(BaseModel):
    position: int
    name: str
    counts: dict[str, int]


class DeliveryProblemOut(BaseModel):
    status: str
    error: str
    count: int


class ProgressOut(BaseModel):
    total: int
    settled: int = Field(description="Deliveries sent, failed, unknown or skipped.")
    waiting: int = Field(description="Deliveries queued or being sent.")
    percent: float
    rate_per_second: float | None = Field(
        description="Settled deliveries a second, on average since sending started "
        "(only while sending)."
    )
    seconds_left: float | None = Field(description="At that rate (only while sending).")
    time_left: str = Field(description='The same in words ("about 3 minutes").')

    @classmethod
    def of(cls, progress: SendProgress) -> ProgressOut:
        return cls(
            total=progress.total,
            settled=progress.settled,
            waiting=progress.waiting,
            percent=round(progress.percent, 1),
            rate_per_second=progress.rate,
            seconds_left=progress.seconds_left,
            time_left=progress.time_left,
        )


class CampaignDetail(CampaignOut):
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int] = Field(description="Deliveries by status.")
    progress: ProgressOut
    variants: list[VariantCounts]
    problems: list[DeliveryProblemOut] = Field(description="Most frequent delivery errors.")


class AudienceOut(BaseModel):
    position: int
    name: str
    recipients: int


@router.get("/me", responses=_errors(401))
async def me(editor: Annotated[CurrentEditor, Depends(editor_api)]) -> Me:
    """Who is logged in."""
    return Me(email=editor.email, role=editor.role)


@router.get("/briefs", responses=READ)
async def briefs(
    request: Request,
    response: Response,
    asked: Annotated[PageQuery, Depends(page_query)],
    status: Annotated[Literal["draft", "ready"] | None, Query()] = None,
) -> list[BriefOut]:
    """Stored briefs, newest first, with their warnings: one page (``page``, ``per_page``);
    a ``Link: <…>; rel="next"`` header when more follow."""
    found = await _run(request, lambda s: brief_summaries(s, status, asked))
    return answer_page(request, response, asked, found)


@router.get("/briefs/{slug}", responses=READ_ONE)
async def brief(request: Request, slug: Slug) -> BriefOut:
    return await _run(request, lambda s: BriefOut.of(get_brief_row(s, slug)))


@router.put("/briefs/{slug}/status", responses=WRITE)
async def brief_status(request: Request, slug: Slug, body: BriefStatusIn) -> BriefOut:
    """Mark a brief ready for the digest, or back to draft."""
    return await _run(request, lambda s: BriefOut.of(set_status(s, [slug], body.status)[0]))


@router.get("/campaigns", responses=READ)
async def campaigns(
    request: Request, response: Response, asked: Annotated[PageQuery, Depends(page_query)]
) -> list[CampaignOut]:
    """Campaigns, newest first: one page (``page``, ``per_page``); a ``Link: <…>; rel="next"``
    header when more follow."""
    found = await _run(request, lambda s: campaign_summaries(s, asked))
    return answer_page(request, response, asked, found)


@router.get("/campaigns/{campaign_id}", responses=READ_ONE)
async def campaign(request: Request, campaign_id: CampaignId) -> CampaignDetail:
    """A campaign with its progress: what the campaign page shows and polls."""

    def load(session: Session) -> CampaignDetail:
        found = get_campaign(session, campaign_id)
        counts = delivery_counts(session, campaign_id)
        summary = CampaignOut.of(found, (sum(counts.values()), counts.get(DeliveryStatus.SENT, 0)))
        return CampaignDetail(
            **summary.model_dump(),
            started_at=found.started_at,
            finished_at=found.finished_at,
            counts=counts,
            progress=ProgressOut.of(
                send_progress(counts, found.status, found.started_at, utcnow())
            ),
            variants=[
                VariantCounts(position=v.position, name=v.name, counts=v.counts)
                for v in frozen_counts(session, campaign_id)
            ],
            problems=[
                DeliveryProblemOut(status=p.status, error=p.error, count=p.count)
                for p in delivery_problems(session, campaign_id)
            ],
        )

    return await _run(request, load)


@router.get("/campaigns/{campaign_id}/audience", responses=READ_ONE)
async def campaign_audience(request: Request, campaign_id: CampaignId) -> list[AudienceOut]:
    """Recipients per segment: first-match counts before the freeze, deliveries after."""

    def load(session: Session) -> list[AudienceOut]:
        who = reach(session, get_campaign(session, campaign_id))
        if who.variants:
            return [
                AudienceOut(position=v.position, name=v.name, recipients=v.total)
                for v in who.variants
            ]
        return [
            AudienceOut(position=s.position, name=s.name, recipients=s.recipients)
            for s in who.segments
        ]

    return await _run(request, load)


@router.get("/campaigns/{campaign_id}/report", responses=READ_ONE)
async def report(request: Request, campaign_id: CampaignId) -> CampaignReport:
    """The campaign's report: sending and delivery, human opens and clicks with their rates,
    per segment and in total; clicks per brief and per narrative; the top links; machine
    opens and clicks apart (what ``newsletter report --format json`` prints). A campaign
    that has not started sending has a report of zeros."""
    return await editor_site(request).read(lambda s: campaign_report(s, campaign_id))


async def _run(request: Request, work: Callable[[Session], T]) -> T:
    return await editor_site(request).run(work)


@router.get("/openapi.json", include_in_schema=False)
async def editor_openapi(request: Request) -> dict[str, Any]:
    """The editor API's own OpenAPI document (behind the login like the rest of the API)."""
    return openapi_part(request, API_PREFIX)

"""The editor's JSON API (``/editor/api/…``): briefs, campaigns, their progress and reports.

The campaign page polls it for progress; scripts can use it with a session cookie (and the
``X-CSRF-Token`` header on changes). Without a session every call answers ``401``. Its
OpenAPI description is served to logged-in editors at ``/editor/api/openapi.json`` and kept
out of the public one (:func:`split_openapi`), which documents only the reader-facing API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from campaigns.audience import delivery_problems, delivery_totals, frozen_counts
from campaigns.model import Campaign
from campaigns.progress import SendProgress, send_progress
from campaigns.reports import CampaignReport, campaign_report
from campaigns.service import delivery_counts, get_campaign, list_campaigns
from campaigns.states import DeliveryStatus
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import brief_from_row, get_brief_row, list_brief_rows, set_status
from newsletter.db import utcnow
from newsletter.web.editor.auth import CurrentEditor, csrf_protect, editor_api
from newsletter.web.editor.campaigns import reach
from newsletter.web.editor.security import EDITOR_PREFIX
from newsletter.web.editor.site import editor_site

API_PREFIX = f"{EDITOR_PREFIX}/api"
T = TypeVar("T")


class Problem(BaseModel):
    detail: list[dict[str, Any]] | str


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


class BriefOut(BaseModel):
    slug: str
    title: str
    status: Literal["draft", "ready"]
    updated: date
    topics: list[str]
    warnings: list[str] = Field(description="What an editor should look at (not blocking).")

    @classmethod
    def of(cls, row: BriefRow) -> BriefOut:
        return cls(
            slug=row.slug,
            title=row.title,
            status=row.status,
            updated=row.updated,
            topics=list(row.topics),
            warnings=brief_from_row(row).warnings(),
        )


class BriefStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["draft", "ready"]


class CampaignOut(BaseModel):
    id: int
    name: str
    kind: str
    status: str
    status_reason: str | None
    issue_date: date
    send_at: datetime | None
    recipients: int = Field(description="Recipients queued when it was frozen (0 before).")
    sent: int

    @classmethod
    def of(cls, campaign: Campaign, totals: tuple[int, int]) -> CampaignOut:
        return cls(
            id=campaign.id,
            name=campaign.name,
            kind=campaign.kind,
            status=campaign.status,
            status_reason=campaign.status_reason,
            issue_date=campaign.issue_date,
            send_at=campaign.send_at,
            recipients=totals[0],
            sent=totals[1],
        )


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
    request: Request, status: Annotated[Literal["draft", "ready"] | None, Query()] = None
) -> list[BriefOut]:
    """Stored briefs, newest first, with their warnings."""
    return await _run(
        request, lambda s: [BriefOut.of(row) for row in list_brief_rows(s, status=status)]
    )


@router.get("/briefs/{slug}", responses=READ_ONE)
async def brief(request: Request, slug: Slug) -> BriefOut:
    return await _run(request, lambda s: BriefOut.of(get_brief_row(s, slug)))


@router.put("/briefs/{slug}/status", responses=WRITE)
async def brief_status(request: Request, slug: Slug, body: BriefStatusIn) -> BriefOut:
    """Mark a brief ready for the digest, or back to draft."""
    return await _run(request, lambda s: BriefOut.of(set_status(s, [slug], body.status)[0]))


@router.get("/campaigns", responses=READ)
async def campaigns(request: Request) -> list[CampaignOut]:
    def load(session: Session) -> list[CampaignOut]:
        found = list_campaigns(session)
        totals = delivery_totals(session, [c.id for c in found])
        return [CampaignOut.of(c, totals.get(c.id, (0, 0))) for c in found]

    return await _run(request, load)


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
    return await _run(request, lambda s: campaign_report(s, campaign_id))


async def _run(request: Request, work: Callable[[Session], T]) -> T:
    return await editor_site(request).run(work)


# --- two OpenAPI documents ------------------------------------------------------------------


def split_openapi(app: FastAPI) -> None:
    """The public ``/openapi.json`` leaves the editor out; editors get theirs at
    ``/editor/api/openapi.json`` (behind the login like the rest of the API)."""
    full_openapi = app.openapi
    documents: dict[str, dict[str, Any]] = {}

    def part(editor: bool) -> dict[str, Any]:
        key = "editor" if editor else "public"
        if key not in documents:
            full = full_openapi()
            paths = {
                path: item
                for path, item in full.get("paths", {}).items()
                if path.startswith(API_PREFIX + "/") == editor
            }
            documents[key] = {**full, "paths": paths}
            if editor:
                documents[key]["info"] = {**full["info"], "title": "Editor API"}
        return documents[key]

    app.openapi = lambda: part(False)  # type: ignore[method-assign]

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    async def editor_openapi(
        editor: Annotated[CurrentEditor, Depends(editor_api)],
    ) -> dict[str, Any]:
        return part(True)

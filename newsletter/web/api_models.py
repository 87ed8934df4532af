"""What the editor API and ``/api/v1`` both answer with: briefs, campaigns, problems.

One shape for each thing, whichever API reads it, so that a script can move from the
editor's session to an API key without learning a second format.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from campaigns.audience import delivery_totals
from campaigns.model import Campaign
from campaigns.service import list_campaigns
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import brief_from_row, list_brief_rows
from newsletter.web.paging import PageQuery


class Problem(BaseModel):
    detail: list[dict[str, Any]] | str


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


class CampaignOut(BaseModel):
    id: int
    name: str
    kind: str
    status: str
    status_reason: str | None
    issue_date: date
    send_at: datetime | None
    local_send_time: str | None = Field(
        default=None, description="HH:MM on each reader's own clock; null: everyone at once."
    )
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
            local_send_time=(
                f"{campaign.local_send_time:%H:%M}" if campaign.local_send_time else None
            ),
            recipients=totals[0],
            sent=totals[1],
        )


def brief_summaries(
    session: Session, status: Literal["draft", "ready"] | None, asked: PageQuery
) -> tuple[list[BriefOut], bool]:
    """A page of stored briefs, newest first, with their warnings; and whether more follow."""
    rows = list_brief_rows(session, status=status, page=asked.page, size=asked.per_page)
    return [BriefOut.of(row) for row in rows[: asked.per_page]], len(rows) > asked.per_page


def campaign_summaries(session: Session, asked: PageQuery) -> tuple[list[CampaignOut], bool]:
    """A page of campaigns, newest first, with their recipients and sent counts; and whether
    more follow."""
    found = list_campaigns(session, page=asked.page, size=asked.per_page)
    shown = found[: asked.per_page]
    totals = delivery_totals(session, [c.id for c in shown])
    return [CampaignOut.of(c, totals.get(c.id, (0, 0))) for c in shown], len(found) > len(shown)

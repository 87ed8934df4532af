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


def brief_summaries(session: Session, status: Literal["draft", "ready"] | None) -> list[BriefOut]:
    """Stored briefs, newest first, with their warnings."""
    return [BriefOut.of(row) for row in list_brief_rows(session, status=status)]


def campaign_summaries(session: Session) -> list[CampaignOut]:
    """Every campaign with its recipients and sent counts."""
    found = list_campaigns(session)
    totals = delivery_totals(session, [c.id for c in found])
    return [CampaignOut.of(c, totals.get(c.id, (0, 0))) for c in found]

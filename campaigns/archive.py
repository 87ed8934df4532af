"""The sent issues as the public archive shows them: which variant stands for an issue,
its public subject, and the web versions the archive and the view-online link serve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.model import Campaign, Variant
from campaigns.states import CampaignStatus
from newsletter.errors import NotFoundError
from newsletter.placeholders import PlaceholderTemplate
from newsletter.render.recipient import FIRST_NAME

ARCHIVE_PAGE_SIZE = 50


@dataclass(frozen=True)
class ArchivedIssue:
    campaign_id: int
    issue_date: date
    subject: str
    sent_at: datetime | None


def default_variant(session: Session, campaign_id: int) -> Variant | None:
    """The 'everyone' variant if there is one, else the first in match order."""
    return session.scalar(
        select(Variant)
        .where(Variant.campaign_id == campaign_id)
        .order_by(Variant.segment_id.is_not(None), Variant.position)
        .limit(1)
    )


def public_subject(variant: Variant) -> str:
    """The subject as the archive lists it: the greeting name is the variant's fallback."""
    fallback = str(variant.options.get("name_fallback", "reader"))
    template = PlaceholderTemplate(variant.subject)
    return template.fill({key: fallback for key in template.placeholders if key == FIRST_NAME})


def sent_issues(
    session: Session, *, page: int = 1, size: int = ARCHIVE_PAGE_SIZE
) -> list[ArchivedIssue]:
    """Page ``page`` (from 1) of the sent issues, newest first (one more than ``size`` is
    returned when there is a next page)."""
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.SENT)
        .order_by(Campaign.finished_at.desc(), Campaign.id.desc())
        .offset((page - 1) * size)
        .limit(size + 1)
    )
    issues = []
    for campaign in campaigns:
        variant = default_variant(session, campaign.id)
        if variant is not None:
            issues.append(
                ArchivedIssue(
                    campaign.id, campaign.issue_date, public_subject(variant), campaign.finished_at
                )
            )
    return issues


def archived_web_version(session: Session, campaign_id: int, variant: str | None) -> str:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SENT:
        raise NotFoundError("there is no sent issue with this number")
    if variant is None:
        row = default_variant(session, campaign_id)
    else:
        row = session.scalar(
            select(Variant).where(Variant.campaign_id == campaign_id, Variant.name == variant)
        )
    if row is None:
        raise NotFoundError("this issue has no such version")
    return row.web_html


def viewed_web_version(session: Session, subject: str) -> str:
    """The web version a view-online token names (``v<variant id>``)."""
    if not (subject.startswith("v") and subject[1:].isdigit() and len(subject) < 12):
        raise NotFoundError("this link names no issue")
    row = session.get(Variant, int(subject[1:]))
    if row is None:
        raise NotFoundError("this issue is no longer online")
    return row.web_html

"""The sent issues as the public archive shows them: which variant stands for an issue,
its public subject and brief titles, and the pages the archive and the view-online link
serve (the web routes in :mod:`newsletter.web.archive` only run these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from campaigns.model import Campaign, Variant
from campaigns.states import CampaignStatus
from campaigns.welcome_model import WelcomeCampaign
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
    titles: tuple[str, ...] = ()


def _default_variant(session: Session, campaign_id: int) -> Variant | None:
    """The 'everyone' variant if there is one, else the first in match order."""
    return session.scalar(
        select(Variant)
        .where(Variant.campaign_id == campaign_id)
        .order_by(Variant.segment_id.is_not(None), Variant.position)
        .limit(1)
    )


def public_subject(subject: str, options: Mapping[str, Any]) -> str:
    """A subject as the archive lists it: the greeting name is the variant's fallback."""
    fallback = str(options.get("name_fallback", "reader"))
    template = PlaceholderTemplate(subject)
    return template.fill({key: fallback for key in template.placeholders if key == FIRST_NAME})


def _issue() -> ColumnElement[bool]:
    """SQL: a sent campaign that is an issue (a welcome step's campaign is not one)."""
    return and_(
        Campaign.status == CampaignStatus.SENT,
        Campaign.id.not_in(select(WelcomeCampaign.campaign_id)),
    )


def latest_issue(session: Session) -> int | None:
    """The newest sent issue's campaign id (``None``: nothing sent yet)."""
    return session.scalar(
        select(Campaign.id)
        .where(_issue())
        .order_by(Campaign.finished_at.desc(), Campaign.id.desc())
        .limit(1)
    )


def sent_issues(
    session: Session, *, page: int = 1, size: int = ARCHIVE_PAGE_SIZE
) -> list[ArchivedIssue]:
    """Page ``page`` (from 1) of the sent issues, newest first, each with its briefs' titles
    (one more than ``size`` is returned when there is a next page), titled as they were sent.
    Two queries a page."""
    campaigns = session.execute(
        select(Campaign.id, Campaign.issue_date, Campaign.finished_at, Campaign.brief_titles)
        .where(_issue())
        .order_by(Campaign.finished_at.desc(), Campaign.id.desc())
        .offset((page - 1) * size)
        .limit(size + 1)
    ).all()
    ids = [row.id for row in campaigns]
    subjects = _default_subjects(session, ids)
    return [
        ArchivedIssue(
            c.id, c.issue_date, subjects[c.id], c.finished_at, tuple(c.brief_titles or ())
        )
        for c in campaigns
        if c.id in subjects
    ]


def _default_subjects(session: Session, campaign_ids: list[int]) -> dict[int, str]:
    """Each campaign's public subject, from its default variant (no HTML loaded)."""
    rows = session.execute(
        select(Variant.campaign_id, Variant.subject, Variant.options)
        .where(Variant.campaign_id.in_(campaign_ids))
        .order_by(Variant.campaign_id, Variant.segment_id.is_not(None), Variant.position)
    )
    found: dict[int, str] = {}
    for campaign_id, subject, options in rows:
        found.setdefault(campaign_id, public_subject(subject, options))
    return found


def archived_web_version(session: Session, campaign_id: int, variant: str | None) -> str:
    """The issue's archive page (every brief, nothing personal), or, with ``variant``, the web
    version of that variant. A campaign frozen before archive pages existed shows its
    default variant's web version."""
    campaign = session.scalar(select(Campaign).where(Campaign.id == campaign_id, _issue()))
    if campaign is None:
        raise NotFoundError("there is no sent issue with this number")
    if variant is None and campaign.archive_html is not None:
        return campaign.archive_html
    if variant is None:
        row = _default_variant(session, campaign_id)
    else:
        row = session.scalar(
            select(Variant).where(Variant.campaign_id == campaign_id, Variant.name == variant)
        )
    if row is None:
        raise NotFoundError("this issue has no such version")
    return row.web_html


def viewed_web_version(session: Session, subject: str) -> str:
    """The web version a view-online token names (``v<variant id>``): the reader's own."""
    if not (subject.startswith("v") and subject[1:].isdigit() and len(subject) < 12):
        raise NotFoundError("this link names no issue")
    row = session.get(Variant, int(subject[1:]))
    if row is None:
        raise NotFoundError("this issue is no longer online")
    return row.web_html

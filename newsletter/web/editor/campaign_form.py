"""The campaign form: what a person ticked, numbered and typed, read back and checked.

Briefs and segments are ticked checkboxes with a number each (1 comes first; unnumbered
ones follow in the order listed). Values are kept as typed, so a form with a problem is
shown again exactly as it was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from campaigns.model import Campaign
from campaigns.service import CampaignDraft
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import list_brief_rows
from newsletter.errors import InvalidInput
from newsletter.zones import parse_local_time
from subscribers.model import Segment
from subscribers.segment_store import list_segments

K = TypeVar("K")


@dataclass
class CampaignForm:
    """The campaign form's values as a person typed them (to show them again on error)."""

    name: str = ""
    issue_date: str = ""
    subject: str = ""
    preheader: str = ""
    briefs: dict[str, int] = field(default_factory=dict)  # slug -> position
    segments: dict[int, int] = field(default_factory=dict)  # segment id -> position
    local_time: str = ""  # HH:MM on each reader's clock; empty: at once

    @classmethod
    def of(cls, campaign: Campaign, slugs: Mapping[int, str]) -> CampaignForm:
        return cls(
            name=campaign.name,
            issue_date=campaign.issue_date.isoformat(),
            subject=campaign.subject_template or "",
            preheader=campaign.preheader_template or "",
            briefs={slugs[b.brief_id]: b.position + 1 for b in campaign.briefs},
            segments={s.segment_id: s.position + 1 for s in campaign.segments},
            local_time=f"{campaign.local_send_time:%H:%M}" if campaign.local_send_time else "",
        )

    @classmethod
    async def read(cls, request: Request) -> CampaignForm:
        form = await request.form()
        text = {key: value for key, value in form.multi_items() if isinstance(value, str)}

        def chosen(name: str, prefix: str) -> dict[str, int]:
            picked = [v for k, v in form.multi_items() if k == name and isinstance(v, str)]
            return {
                value: _position(text.get(f"{prefix}{value}"), fallback=1000 + n)
                for n, value in enumerate(dict.fromkeys(picked))
            }

        segments = chosen("segments", "segment_order_")
        return cls(
            name=text.get("name", "")[:300],
            issue_date=text.get("issue_date", "")[:20],
            subject=text.get("subject", "")[:300],
            preheader=text.get("preheader", "")[:300],
            briefs=chosen("briefs", "brief_order_"),
            segments={int(k): v for k, v in segments.items() if k.isdigit() and len(k) < 10},
            local_time=text.get("local_time", "")[:20],
        )

    def draft(self, segment_names: Mapping[int, str]) -> CampaignDraft:
        unknown = [i for i in self.segments if i not in segment_names]
        if unknown:
            raise InvalidInput("segments", "a chosen segment no longer exists")
        return CampaignDraft(
            name=self.name,
            brief_slugs=_ordered(self.briefs),
            segment_names=[segment_names[i] for i in _ordered(self.segments)],
            subject=self.subject.strip() or None,
            preheader=self.preheader.strip() or None,
            issue_date=_date(self.issue_date),
        )

    def send_time(self) -> time | None:
        """The local send time typed (None: at once); a bad one names the field."""
        return parse_local_time(self.local_time) if self.local_time.strip() else None


def _position(value: str | None, *, fallback: int) -> int:
    try:
        return max(1, min(int(value or ""), 9999))
    except ValueError:
        return fallback


def _ordered(positions: Mapping[K, int]) -> list[K]:
    """Keys by the position a person gave (ties keep the order they were listed in)."""
    return [key for key, _ in sorted(positions.items(), key=lambda item: item[1])]


def _date(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("issue_date", "is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Choices:
    briefs: list[BriefRow]
    segments: list[Segment]

    @property
    def segment_names(self) -> dict[int, str]:
        return {s.id: s.name for s in self.segments}


def choices_of(session: Session) -> Choices:
    """The briefs (ready ones first) and segments a campaign may use."""
    briefs = list_brief_rows(session)
    briefs.sort(key=lambda row: row.status != "ready")  # ready first, newest first within
    return Choices(briefs, list(list_segments(session)))

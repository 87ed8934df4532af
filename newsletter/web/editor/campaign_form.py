"""The campaign form: what a person ticked, numbered and typed, read back and checked.

Briefs and segments are ticked checkboxes with a number each (1 comes first; unnumbered
ones follow in the order listed). Values are kept as typed, so a form with a problem is
shown again exactly as it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from campaigns.model import Campaign
from campaigns.service import CampaignDraft
from campaigns.subject_tests import MAX_SUBJECTS, SubjectTestPlan
from newsletter.briefs.model import BriefRow
from newsletter.briefs.store import offered_brief_rows
from newsletter.errors import InvalidInput
from newsletter.zones import parse_local_time
from subscribers.model import Segment
from subscribers.segment_store import list_segments

K = TypeVar("K")
TEST_SLOTS = MAX_SUBJECTS - 1  # other subjects a form offers beside the campaign's own
_SLOT_NUMBERS = range(1, TEST_SLOTS + 1)


@dataclass
class CampaignForm:
    """The campaign form's values as a person typed them (to show them again on error)."""

    name: str = ""
    issue_date: str = ""
    subject: str = ""
    preheader: str = ""
    briefs: dict[str, int] = field(default_factory=dict)  # slug -> position
    segments: dict[int, int] = field(default_factory=dict)  # segment id -> position
    subject_tests: list[str] = field(default_factory=lambda: [""] * TEST_SLOTS)
    test_share: str = "10"  # percent of the audience per cell
    test_wait: str = "240"  # minutes
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
            subject_tests=_slots([c.subject for c in campaign.subject_candidates]),
            test_share=f"{campaign.test_share * 100:g}" if campaign.test_share else "10",
            test_wait=f"{campaign.test_wait:g}" if campaign.test_wait is not None else "240",
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
            subject_tests=[
                text.get(f"subject_test_{n}", "")[:300] for n in range(1, TEST_SLOTS + 1)
            ],
            test_share=text.get("test_share", "")[:20],
            test_wait=text.get("test_wait", "")[:20],
            local_time=text.get("local_time", "")[:20],
        )

    def subject_test(self) -> SubjectTestPlan | None:
        """The subject test asked for (``None``: no other subject typed, no test)."""
        subjects = [(subject.strip(), None) for subject in self.subject_tests if subject.strip()]
        if not subjects:
            return None
        share = _number(self.test_share, "test_share", "a percentage")
        wait = _number(self.test_wait, "test_wait", "minutes")
        return SubjectTestPlan(subjects, share / 100, wait)

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


def _slots(subjects: list[str]) -> list[str]:
    return (subjects + [""] * TEST_SLOTS)[:TEST_SLOTS]


def _number(value: str, name: str, what: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise InvalidInput(name, f"is not a number ({what})") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(name, f"is not a number ({what})")
    return number


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


OFFERED_BRIEFS = 300  # two fields each: well inside the campaign form's field limit


@dataclass(frozen=True)
class Choices:
    briefs: list[BriefRow]
    segments: list[Segment]
    total_briefs: int = 0
    find: str = ""

    @property
    def segment_names(self) -> dict[int, str]:
        return {s.id: s.name for s in self.segments}

    @property
    def more_briefs(self) -> int:
        """How many matching briefs the form does not list (find them by title)."""
        return max(0, self.total_briefs - len(self.briefs))


def choices_of(
    session: Session, *, keep: Iterable[str] = (), keep_ids: Iterable[int] = (), find: str = ""
) -> Choices:
    """The briefs (those the campaign holds, then ready ones, newest first; at most
    :data:`OFFERED_BRIEFS` others) and segments a campaign may use."""
    find = find[:100]
    briefs, total = offered_brief_rows(
        session, keep=keep, keep_ids=keep_ids, find=find, limit=OFFERED_BRIEFS
    )
    return Choices(briefs, list(list_segments(session)), total, find)

"""Three issues with bounces, complaints and unsubscribes at known dates: the list-health
tests' data (tests/campaigns/test_health.py and the editor's health page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns.events import EventRecord
from campaigns.ingest import IngestPolicy, record_events
from campaigns.linkmap import LinkIndexCache
from campaigns.model import Campaign, Delivery
from campaigns.sending import send_campaign
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign


def record_outcomes(db: Database, campaign_id: int, kinds: list[str], at: datetime) -> None:
    """One event of each of ``kinds`` for the campaign's first deliveries, in order."""
    with db.transaction() as session:
        ids = list(
            session.scalars(
                select(Delivery.id)
                .where(Delivery.campaign_id == campaign_id)
                .order_by(Delivery.id)
                .limit(len(kinds))
            )
        )
        records = [
            EventRecord(
                source="first-party",
                event_id=f"{campaign_id}-{n}",
                type=kind,  # type: ignore[arg-type]
                occurred_at=at,
                received_at=at,
                delivery_ref=delivery_id,
                campaign_ref=campaign_id,
                bounce_type="hard" if kind == "bounced" else None,
            )
            for n, (kind, delivery_id) in enumerate(zip(kinds, ids, strict=True))
        ]
        record_events(session, records, IngestPolicy.from_settings(Settings()), LinkIndexCache())


def _started(db: Database, campaign_id: int, at: datetime) -> None:
    with db.transaction() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(started_at=at))


@dataclass(frozen=True)
class History:
    """When the issues were made, and their campaign ids (oldest first)."""

    now: datetime
    campaigns: list[int]


@pytest.fixture
def three_issues(db: Database, tmp_path: Path) -> History:
    """:func:`sent_three_issues` named Issue 1, 2 and 3."""
    return sent_three_issues(db, tmp_path)


def sent_three_issues(db: Database, tmp_path: Path, name: str = "Issue") -> History:
    """Three issues to 500 readers through the outbox: three weeks ago 30 bounced (6 %:
    over); two weeks ago 1 complaint (0.2 %: warning) and 5 unsubscribed; now 2 complaints
    (0.4 %: over Gmail's limit). Events come in as our own (first-party) records, which do
    not suppress anyone: every issue goes to all 500."""
    import_examples(db)
    add_subscribers(db, 500)
    settings = Settings(outbox=tmp_path / "box")
    now = utcnow()
    plan = [
        (now - timedelta(days=21), ["bounced"] * 30),
        (now - timedelta(days=14), ["complained"] + ["unsubscribed"] * 5),
        (now, ["complained"] * 2),
    ]
    ids = []
    for n, (started, kinds) in enumerate(plan):
        campaign_id = new_campaign(db, name=f"{name} {n + 1}")
        send_campaign(db, settings, campaign_id)
        record_outcomes(db, campaign_id, kinds, started + timedelta(hours=1))
        _started(db, campaign_id, started)
        ids.append(campaign_id)
    return History(now, ids)

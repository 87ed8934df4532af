"""The sunset policy: ask readers who stopped reading whether to keep writing, and stop
mailing those who do not answer.

A reader is *unengaged* when none of the last ``issues`` newsletters they were sent drew a
human open or a reader's click (machine opens and scanner clicks do not count; see
:func:`campaigns.engagement.human_engagement`), and the first of those issues went out at
least ``days`` ago. Such a reader is asked once ("keep me subscribed", a ``keep`` mail in
the transactional queue); with no answer (the button, or any human engagement) within
``grace_days`` of the question having been sent, they lapse (:mod:`subscribers.lapse`).

Each step is one set-based statement: the question looks up the ``issues``-th latest sent
delivery of each mailable reader (``ix_deliveries_subscriber_id``) and checks for
engagement since then with ``NOT EXISTS`` on ``ix_events_subscriber_type_occurred``. A
reader is asked once per cycle (``reengage_sent_at`` is set in the statement that picks
them, so two runs cannot both ask), and asked again only about issues sent after they last
answered (``kept_at``). Run it daily (cron: ``newsletter subscribers sunset``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from campaigns.engagement import human_engagement
from campaigns.events import OWN_LINK_SECTIONS, Event, EventRecord
from campaigns.model import Delivery
from campaigns.states import DeliveryStatus
from campaigns.welcome_model import WelcomeCampaign
from newsletter.config import Settings
from newsletter.db import utcnow
from subscribers.lapse import revive_many
from subscribers.model import QueuedMail, Subscriber
from subscribers.signup import Origin
from subscribers.suppression import mailable

CLICK_ORIGIN = Origin(source="tracking", user_agent="a click in a newsletter")


@dataclass(frozen=True, slots=True)
class SunsetPolicy:
    """``issues`` unengaged issues (0: the policy is off), the first at least ``days`` old;
    ``grace_days`` to answer."""

    issues: int
    days: int
    grace_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SunsetPolicy:
        return cls(settings.sunset_issues, settings.sunset_days, settings.sunset_grace_days)

    @property
    def enabled(self) -> bool:
        return self.issues > 0


@dataclass(frozen=True, slots=True)
class SunsetReport:
    """What a run did (or, with ``dry_run``, would do)."""

    answered: int  # asked, and read something since: the question is closed
    lapsed: int  # asked, no answer within the grace: not mailed any more
    asked: int  # "keep me subscribed" mails queued
    dry_run: bool


def engaged_since_asked() -> ColumnElement[bool]:
    """SQL: the subscriber read a newsletter after the question was queued."""
    return exists(
        select(Event.id).where(
            Event.subscriber_id == Subscriber.id,
            Event.type.in_(("opened", "clicked")),
            Event.occurred_at >= Subscriber.reengage_sent_at,
            human_engagement(),
        )
    )


def unengaged(policy: SunsetPolicy, now: datetime) -> Select[Any]:
    """``SELECT id`` of the mailable readers to ask now (never asked in this cycle)."""
    window = (
        select(Delivery.sent_at)
        .where(
            Delivery.subscriber_id == Subscriber.id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at.is_not(None),
            Delivery.campaign_id.not_in(select(WelcomeCampaign.campaign_id)),  # not issues
        )
        .order_by(Delivery.sent_at.desc())
        .limit(1)
        .offset(policy.issues - 1)
        .scalar_subquery()
    )  # when the first of their last N issues went out
    readers = (
        select(Subscriber.id, Subscriber.kept_at, window.label("since"))
        .where(mailable(), Subscriber.reengage_sent_at.is_(None))
        .offset(0)  # a fence: PostgreSQL would otherwise inline it and look ``since`` up thrice
        .subquery("readers")
    )
    events = select(Event.id).where(
        Event.subscriber_id == readers.c.id,
        Event.type.in_(("opened", "clicked")),
        Event.occurred_at >= readers.c.since,
        human_engagement(),
    )
    return select(readers.c.id).where(
        readers.c.since <= now - timedelta(days=policy.days),
        or_(readers.c.kept_at.is_(None), readers.c.since > readers.c.kept_at),
        ~exists(events),
    )


def _asked() -> ColumnElement[bool]:
    return and_(
        Subscriber.status == "active",
        Subscriber.lapsed_at.is_(None),
        Subscriber.reengage_sent_at.is_not(None),
    )


def _answered() -> ColumnElement[bool]:
    """Asked, and read a newsletter since the question was queued."""
    return and_(_asked(), engaged_since_asked())


def _unanswered(policy: SunsetPolicy, now: datetime) -> ColumnElement[bool]:
    """Asked, the question was sent, the grace ran out and they read nothing since."""
    sent = exists(
        select(QueuedMail.id).where(
            QueuedMail.subscriber_id == Subscriber.id,
            QueuedMail.kind == "keep",
            QueuedMail.status == "sent",
            QueuedMail.created_at >= Subscriber.reengage_sent_at,
        )
    )
    return and_(
        _asked(),
        Subscriber.reengage_sent_at <= now - timedelta(days=policy.grace_days),
        sent,
        ~engaged_since_asked(),
    )


def run_sunset(
    session: Session, policy: SunsetPolicy, *, dry_run: bool = False, now: datetime | None = None
) -> SunsetReport:
    """Close answered questions, lapse the unanswered, ask the newly unengaged."""
    now = now or utcnow()
    if not policy.enabled:
        return SunsetReport(0, 0, 0, dry_run)
    if dry_run:
        return SunsetReport(
            answered=_count(session, select(Subscriber.id).where(_answered())),
            lapsed=_count(session, select(Subscriber.id).where(_unanswered(policy, now))),
            asked=_count(session, unengaged(policy, now)),
            dry_run=True,
        )
    answered = _update(session, _answered(), reengage_sent_at=None, kept_at=now)
    lapsed = _update(session, _unanswered(policy, now), lapsed_at=now)
    asked = _ask(session, policy, now)
    return SunsetReport(answered=answered, lapsed=lapsed, asked=len(asked), dry_run=False)


def _update(session: Session, where: ColumnElement[bool], **values: Any) -> int:
    """One ``UPDATE subscribers``; how many rows it changed."""
    statement = update(Subscriber).where(where).values(**values)
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _ask(session: Session, policy: SunsetPolicy, now: datetime) -> list[int]:
    """Mark the unengaged asked and queue their mails; the ids asked."""
    chosen = unengaged(policy, now).scalar_subquery()
    ids = list(
        session.scalars(
            update(Subscriber)
            .where(Subscriber.id.in_(chosen), Subscriber.reengage_sent_at.is_(None))
            .values(reengage_sent_at=now)
            .returning(Subscriber.id)
            .execution_options(synchronize_session=False)
        )
    )
    if ids:
        rows = [
            {
                "kind": "keep",
                "subscriber_id": subscriber_id,
                "status": "queued",
                "attempts": 0,
                "created_at": now,
                "available_at": now,
            }
            for subscriber_id in ids
        ]
        session.execute(insert(QueuedMail), rows)
    return ids


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def revive_readers(session: Session, events: Sequence[EventRecord]) -> int:
    """A reader's click in a newsletter ends their question or lapse (newly recorded events
    only; :mod:`campaigns.ingest` calls this). Returns how many lapses ended."""
    clickers = {
        e.subscriber_id
        for e in events
        if e.type == "clicked"
        and e.subscriber_id is not None
        and e.machine_reason is None
        and e.section not in OWN_LINK_SECTIONS
    }
    if not clickers:
        return 0
    return revive_many(session, clickers, CLICK_ORIGIN, via="click", now=utcnow())

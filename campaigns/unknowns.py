"""After a crash: settle ``unknown`` deliveries from evidence, resend those with none.

A delivery is ``unknown`` when the request carrying it may or may not have reached the
provider (its worker died mid-request, or the answer was lost). Evidence settles it:

- an event tied to it (SendGrid's ``processed`` … ``click``, a first-party open or click, a
  bounce naming it) proves the provider accepted it: it becomes ``sent``, in the
  transaction that records the event (:func:`settle_from_events`, called by
  :mod:`campaigns.ingest`);
- events that arrived while the row was still ``sending`` (its lease had not run out yet)
  are looked up again when its quarantine ends, before anything is resent;
- a row with no evidence once its quarantine has passed is queued again, but only if its
  campaign says so (``Campaign.retry_unknown_after``, set by ``newsletter send ID
  --retry-unknown-after MINUTES``), and marked ``resent_after_unknown_at`` so that the
  report counts it apart (:func:`resend_quarantined`, run by the worker loop).

The quarantine is the campaign's minutes, never less than
``NEWSLETTER_UNKNOWN_QUARANTINE_MINUTES``: the provider's events must have had time to
arrive, or an accepted message would be sent twice. Every step is set-based and guarded by
``status = 'unknown'``, so replays and several workers change nothing twice.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, ColumnElement, Connection, literal_column, select, update

from campaigns.events import Event
from campaigns.model import Campaign, Delivery
from campaigns.service import get_campaign
from campaigns.states import CampaignStatus, DeliveryStatus
from newsletter.db import Database, utcnow
from subscribers.bulk import one_of

EVIDENCE: frozenset[str] = frozenset(
    {
        "processed",
        "delivered",
        "deferred",
        "bounced",
        "dropped",
        "opened",
        "clicked",
        "complained",
        "unsubscribed",
    }
)
"""Event types that can only exist if the provider accepted the message."""

# A literal, not a parameter: PostgreSQL then uses the partial index ix_deliveries_unknown.
_UNKNOWN: ColumnElement[str] = literal_column(f"'{DeliveryStatus.UNKNOWN.value}'")


def settle_from_events(connection: Connection, delivery_ids: Collection[int]) -> int:
    """Unknown deliveries among ``delivery_ids`` (each named by an evidence event) → ``sent``.

    ``sent_at`` becomes the moment the row turned unknown (the send happened no later):
    clicks are judged against it."""
    if not delivery_ids:
        return 0
    now = utcnow()
    result = connection.execute(
        update(Delivery)
        .execution_options(synchronize_session=False)
        .where(
            Delivery.status == _UNKNOWN,
            one_of(connection, Delivery.id, list(delivery_ids), BigInteger()),
        )
        .values(
            status=DeliveryStatus.SENT,
            sent_at=Delivery.updated_at,
            error=None,
            lease_until=None,
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)


def resend_quarantined(
    database: Database, floor_minutes: float, campaign_id: int | None = None
) -> int:
    """Queue again the unknown rows without evidence past their quarantine, in every
    campaign (or ``campaign_id``) that allows it; returns how many."""
    query = select(Campaign.id, Campaign.retry_unknown_after).where(
        Campaign.retry_unknown_after.is_not(None),
        Campaign.status.in_((CampaignStatus.SENDING, CampaignStatus.SENT)),
    )
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    with database.engine.connect() as connection:
        campaigns = connection.execute(query).all()
    now = utcnow()
    total = 0
    for found_id, minutes in campaigns:
        cutoff = now - timedelta(minutes=max(float(minutes or 0), floor_minutes))
        total += _resend(database, found_id, cutoff, now)
    return total


def _resend(database: Database, campaign_id: int, cutoff: datetime, now: datetime) -> int:
    """One campaign: under its row lock (workers take turns), settle the due rows that have
    evidence after all, queue the rest again, and reopen the campaign if it had finished."""
    with database.transaction() as session:
        connection = session.connection()
        due = _due(connection, campaign_id, cutoff)
        if not due:
            return 0
        campaign = get_campaign(session, campaign_id, lock=True)
        due = _due(connection, campaign_id, cutoff)  # again, now that we hold the lock
        settled = _with_evidence(connection, campaign_id, due)
        settle_from_events(connection, settled)
        rest = [i for i in due if i not in settled]
        if not rest:
            return 0
        result = connection.execute(
            update(Delivery)
            .execution_options(synchronize_session=False)
            .where(
                Delivery.status == _UNKNOWN,
                one_of(connection, Delivery.id, rest, BigInteger()),
            )
            .values(
                status=DeliveryStatus.QUEUED,
                worker=None,
                lease_until=None,
                resent_after_unknown_at=now,
                updated_at=now,
            )
        )
        if campaign.status == CampaignStatus.SENT:
            campaign.status = CampaignStatus.SENDING
            campaign.finished_at = None
        return int(result.rowcount or 0)


def _due(connection: Connection, campaign_id: int, cutoff: datetime) -> list[int]:
    return list(
        connection.scalars(
            select(Delivery.id).where(
                Delivery.campaign_id == campaign_id,
                Delivery.status == _UNKNOWN,
                Delivery.updated_at < cutoff,
            )
        )
    )


def _with_evidence(connection: Connection, campaign_id: int, ids: list[int]) -> set[int]:
    """Those of ``ids`` (deliveries of ``campaign_id``) that an evidence event names, found
    through each delivery's subscriber in the events index by subscriber and type (an
    event tied to a delivery carries its subscriber, erased or not): unknown rows are few,
    so this runs rarely, and events need no index by campaign (each costs every insert)."""
    if not ids:
        return set()
    rows = connection.scalars(
        select(Event.delivery_id)
        .join(
            Delivery,
            (Event.subscriber_id == Delivery.subscriber_id) & (Event.delivery_id == Delivery.id),
        )
        .where(
            Delivery.campaign_id == campaign_id,
            one_of(connection, Delivery.id, ids, BigInteger()),
            Event.type.in_(sorted(EVIDENCE)),
        )
        .distinct()
    )
    return {int(i) for i in rows if i is not None}

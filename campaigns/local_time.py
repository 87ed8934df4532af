"""The freeze's share of sending at the readers' local time: each zone's not-before moment.

The freeze stays one ``INSERT … SELECT``: the moments are computed here in Python, once per
distinct zone among the subscribers (a few hundred at most), and enter that statement as one
``CASE time_zone WHEN … THEN …`` expression. Readers with no zone, or one this machine no
longer knows, get the default zone's moment (``NEWSLETTER_DEFAULT_TIME_ZONE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import ColumnElement, case, func, literal, literal_column, select
from sqlalchemy.orm import Session

from campaigns.model import Delivery
from campaigns.states import DeliveryStatus
from newsletter.db import UTCDateTime
from newsletter.zones import moments_by_zone
from subscribers.model import Subscriber


@dataclass(frozen=True)
class LocalMoments:
    """When each zone's readers may be sent to: ``by_zone`` (UTC), else ``default``."""

    by_zone: dict[str, datetime]
    default: datetime

    def column(self, zone: ColumnElement[str | None]) -> ColumnElement[datetime]:
        """The not-before moment of a row whose reader's zone is ``zone``, in SQL."""
        default = literal(self.default, UTCDateTime())
        if not self.by_zone:
            return default
        whens = {name: literal(moment, UTCDateTime()) for name, moment in self.by_zone.items()}
        return case(whens, value=zone, else_=default)


def local_moments(
    session: Session, at: time | None, now: datetime, default_zone: str
) -> LocalMoments | None:
    """The moments of a campaign sent at ``at`` local time, frozen ``now``; None: at once."""
    if at is None:
        return None
    zones = session.scalars(
        select(Subscriber.time_zone).where(Subscriber.time_zone.is_not(None)).distinct()
    )
    by_zone, default = moments_by_zone(zones, at, now, default_zone)
    return LocalMoments(by_zone, default)


def next_local_moment(session: Session, campaign_id: int) -> datetime | None:
    """The earliest moment a queued row of the campaign waits for (None: none waits), read
    from ``ix_deliveries_queued_local``'s first entry."""
    queued: ColumnElement[str] = literal_column(
        f"'{DeliveryStatus.QUEUED.value}'"
    )  # matches the partial index
    moment = session.scalar(
        select(func.min(Delivery.not_before)).where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == queued,
            Delivery.not_before.is_not(None),
        )
    )
    return moment if isinstance(moment, datetime) else None

"""The freeze's share of sending at the readers' local time: each zone's not-before moment.

The freeze stays one ``INSERT … SELECT``: the moments are computed here in Python, once per
distinct zone among the subscribers (a few hundred at most), and enter that statement as one
``CASE time_zone WHEN … THEN …`` expression. Readers with no zone, or one this machine no
longer knows, get the default zone's moment (``NEWSLETTER_DEFAULT_TIME_ZONE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import ColumnElement, case, literal, select
from sqlalchemy.orm import Session

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

"""What a subscriber may change from a link in any mail: name, topics, narratives, leaving.

Unsubscribing is one idempotent function used by the preferences page, the unsubscribe
page's button and RFC 8058 one-click posts alike; it needs no confirmation and no login,
because the signed link is the proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.render.options import NarrativeDisplay
from subscribers.model import ConsentRecord, Subscriber
from subscribers.signup import Origin, consent_values, find_by_uid
from subscribers.webhook_events import report_status


@dataclass(frozen=True, slots=True)
class Preferences:
    """The choices on the preferences page (already validated)."""

    name: str | None
    topics: list[str] = field(default_factory=list)
    narratives: NarrativeDisplay = "all"
    time_zone: str | None = None  # IANA name; None: the default zone


def update_preferences(
    session: Session, uid: str, preferences: Preferences, origin: Origin
) -> Subscriber:
    """Store new choices; a status is never changed here (unsubscribing is explicit)."""
    subscriber = find_by_uid(session, uid, for_update=True)
    subscriber.name = preferences.name
    subscriber.topics = list(preferences.topics)
    subscriber.narratives = preferences.narratives
    subscriber.time_zone = preferences.time_zone
    form = {
        "name": preferences.name,
        "topics": list(preferences.topics),
        "narratives": preferences.narratives,
        "time_zone": preferences.time_zone,
    }
    session.add(
        ConsentRecord(**consent_values(subscriber.id, "preferences", origin, form, utcnow()))
    )
    return subscriber


def unsubscribe(
    session: Session,
    uid: str,
    origin: Origin,
    *,
    now: datetime | None = None,
    form: Mapping[str, Any] | None = None,
) -> bool:
    """Unsubscribe ``uid``; True when that changed anything (False: already not subscribed).

    Bounced and complained subscribers keep their status: it says more than 'unsubscribed'.
    ``form`` is kept in the consent record (an editor's name and reason).
    """
    now = now or utcnow()
    subscriber = find_by_uid(session, uid, for_update=True)
    if subscriber.status not in ("pending", "active"):
        return False
    subscriber.status = "unsubscribed"
    subscriber.unsubscribed_at = now
    record = consent_values(subscriber.id, "unsubscribe", origin, form or {}, now)
    session.add(ConsentRecord(**record))
    report_status(session, [(subscriber.uid, subscriber.email)], "unsubscribed", now=now)
    return True

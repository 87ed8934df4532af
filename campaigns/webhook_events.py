"""What campaigns tell outbound webhooks: ``campaign.started`` when a campaign is frozen and
starts sending, ``campaign.sent`` when its last recipient row settles; queued in the
transaction that changes the campaign's status."""

from __future__ import annotations

from datetime import datetime

from newsletter.webhooks.model import EventType
from newsletter.webhooks.queue import Executor, queue_event


def report_campaign(
    executor: Executor, event: EventType, campaign_id: int, name: str, at: datetime
) -> int:
    """Queue ``event`` for the campaign; returns how many endpoints get it."""
    data = {"campaign_id": campaign_id, "name": name, "at": at.isoformat()}
    return queue_event(executor, event, data, now=at)

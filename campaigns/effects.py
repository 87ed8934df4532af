"""What provider events change about subscribers: suppression and unsubscribing.

Only an event about one of our deliveries *and naming the address it was sent to*
(:attr:`EventRecord.recipient`, set by :mod:`campaigns.ingest`) has effects: an event for
a message we cannot name (another system sharing the SendGrid account, an unsubscribe from
another list), or one that names some other address, is recorded and changes nobody. So
does a first-party event, which names no address (an unsubscribe through our own link has
taken effect already, for the subject of its own signed token). Each effect runs once, for
a newly recorded event (a replay is a duplicate and does nothing), and every one is
idempotent anyway.

- a hard bounce, a drop because the address bounced before or is invalid: the address is
  suppressed as ``bounced``;
- a spam report, a drop because the address reported spam before: suppressed as
  ``complained``;
- an unsubscribe (SendGrid's own link, or its group unsubscribe) or a drop because the
  address is on SendGrid's unsubscribe list: the subscriber is unsubscribed with a consent
  record, exactly like our own unsubscribe link. That keeps them out of every later send
  (only active subscribers are mailed) and, unlike a suppression, lets the person come
  back through double opt-in;
- soft bounces (a ``blocked`` bounce, deferrals) do nothing on their own, but a subscriber
  whose last N deliveries all soft-bounced and none was delivered is suppressed as
  ``bounced`` (N is ``NEWSLETTER_SOFT_BOUNCE_LIMIT``; 0 never suppresses).

The address suppressed is the recipient's, which is the one the event names: never another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from campaigns.events import Event, EventRecord
from campaigns.model import Delivery
from campaigns.states import DeliveryStatus
from subscribers.addresses import Address
from subscribers.model import Subscriber, SuppressionReason
from subscribers.preferences import unsubscribe
from subscribers.signup import Origin
from subscribers.suppression import suppress_many

# SendGrid's drop reasons (lower-cased) and what they say about the address.
_DROP_SUPPRESSES: dict[str, SuppressionReason] = {
    "bounced address": "bounced",
    "invalid": "bounced",
    "spam reporting address": "complained",
}
_DROP_UNSUBSCRIBED = "unsubscribed address"


EFFECT_TYPES = frozenset({"bounced", "dropped", "complained", "unsubscribed", "deferred"})
"""The kinds of event that may change a subscriber below (the others only count in
reports): ingest gives only these their :attr:`EventRecord.recipient`."""


def apply_effects(session: Session, events: Sequence[EventRecord], soft_bounce_limit: int) -> None:
    """Suppress or unsubscribe as the newly recorded ``events`` require."""
    mapped = sorted(
        (e for e in events if e.recipient is not None and e.subscriber_id is not None),
        key=lambda e: e.subscriber_id or 0,
    )
    suppressions: list[tuple[Address, SuppressionReason]] = []
    soft: set[int] = set()
    for event in mapped:
        assert event.subscriber_id is not None and event.recipient is not None
        reason = _suppression_reason(event)
        if reason is not None:
            suppressions.append((event.recipient, reason))
        elif _unsubscribes(event):
            _unsubscribe(session, event.subscriber_id)
        elif event.type == "deferred" or (event.type == "bounced" and event.bounce_type == "soft"):
            soft.add(event.subscriber_id)
    if soft and soft_bounce_limit > 0:
        suppressions += _soft_streaks(session, sorted(soft), soft_bounce_limit)
    suppress_many(session, suppressions)


def _suppression_reason(event: EventRecord) -> SuppressionReason | None:
    if event.type == "bounced" and event.bounce_type == "hard":
        return "bounced"
    if event.type == "complained":
        return "complained"
    if event.type == "dropped":
        return _DROP_SUPPRESSES.get((event.reason or "").strip().lower())
    return None


def _unsubscribes(event: EventRecord) -> bool:
    if event.type == "unsubscribed":
        return True
    return event.type == "dropped" and (event.reason or "").strip().lower() == _DROP_UNSUBSCRIBED


def _subscriber_address(session: Session, subscriber_id: int) -> Address | None:
    row = session.execute(
        select(Subscriber.email, Subscriber.email_key, Subscriber.email_hash).where(
            Subscriber.id == subscriber_id
        )
    ).one_or_none()
    if row is None or not (row.email and row.email_key and row.email_hash):
        return None  # erased: its address is suppressed already
    return Address(row.email, row.email_key, row.email_hash)


def _unsubscribe(session: Session, subscriber_id: int) -> None:
    uid = session.scalar(
        select(Subscriber.uid).where(Subscriber.id == subscriber_id, Subscriber.email.is_not(None))
    )
    if uid is not None:
        unsubscribe(session, uid, Origin(source="sendgrid"))


def _soft_streaks(
    session: Session, subscriber_ids: list[int], limit: int
) -> list[tuple[Address, SuppressionReason]]:
    """Subscribers whose last ``limit`` sent deliveries all soft-bounced, to suppress."""
    soft = func.max(
        case(
            (
                (Event.type == "deferred")
                | ((Event.type == "bounced") & (Event.bounce_type == "soft")),
                1,
            ),
            else_=0,
        )
    )
    delivered = func.max(case((Event.type.in_(("delivered", "opened", "clicked")), 1), else_=0))
    rows = session.execute(
        select(Delivery.subscriber_id, Delivery.id, soft, delivered)
        .outerjoin(
            Event,
            (Event.subscriber_id == Delivery.subscriber_id) & (Event.delivery_id == Delivery.id),
        )
        .where(Delivery.subscriber_id.in_(subscriber_ids), Delivery.status == DeliveryStatus.SENT)
        .group_by(Delivery.subscriber_id, Delivery.id)
    ).all()
    history: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for subscriber_id, delivery_id, was_soft, was_delivered in rows:
        history[subscriber_id].append((delivery_id, bool(was_soft) and not was_delivered))
    found: list[tuple[Address, SuppressionReason]] = []
    for subscriber_id, deliveries in history.items():
        latest = [bounced for _, bounced in sorted(deliveries, reverse=True)[:limit]]
        if len(latest) == limit and all(latest):
            address = _subscriber_address(session, subscriber_id)
            if address is not None:
                found.append((address, "bounced"))
    return found

"""Record a batch of tracking events: resolve their ids, insert them once, apply effects.

The whole batch is one transaction and a handful of statements whatever its size: one
query finds the deliveries the events name (and one the addresses of the few subscribers
an event may change, see below), one per variant clicked loads its link table
(cached: variants are frozen), one ``INSERT … ON CONFLICT DO NOTHING`` (the batch as one
JSON document, see :mod:`subscribers.bulk`) stores the events that are new, one row their
payloads (:mod:`campaigns.payloads`: one per batch, not per event), and only the new
events go on to :mod:`campaigns.effects`. A replayed batch therefore inserts nothing and
changes nothing. Events a replay might stamp with another time (``replay_keeps_time``
false: first-party hits, one per request) are first looked up by ``(source, event_id)``,
under an advisory lock of their id on PostgreSQL, since the unique key includes the time.

An event is tied to a delivery only when the delivery id it carries exists, the campaign
it names (if any) is that delivery's, and the address it names (if any) is the one the
delivery was sent to; the delivery then supplies the campaign, variant and subscriber.
Anything else is stored untied (and counted as ``unmatched``), never matched by guessing.
An event proving that the provider accepted a delivery whose outcome was ``unknown`` settles
it as ``sent`` in the same transaction (:mod:`campaigns.unknowns`): one more UPDATE, only
when the batch names such a delivery.

Whether an event names the address a delivery was sent to is told by the delivery alone:
it keeps the first 16 hex digits of its recipient's address digest
(:attr:`Delivery.recipient_fingerprint`, copied at the freeze; a subscriber's address never
changes, and erasure clears it, after which no event naming an address is tied to it), so
the batch's look-up reads no subscriber. An event naming another address matches by chance
once in 2**64. Only an event that names the recipient's address, and may change a subscriber
(:data:`campaigns.effects.EFFECT_TYPES`: a bounce, a spam report, an unsubscribe …), gets
:attr:`EventRecord.recipient`, read from the subscriber with its full digest checked: that
is what lets :mod:`campaigns.effects` suppress or unsubscribe anyone, and those are about
one event in a hundred. A first-party event (tied by our signed token, naming no address)
counts in reports and changes nobody.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import BigInteger, Connection, Table, func, select
from sqlalchemy.orm import Session

from campaigns.effects import EFFECT_TYPES, apply_effects
from campaigns.engagement import note_engagement
from campaigns.events import EVENT_COLUMNS, Event, EventRecord
from campaigns.linkmap import LinkIndexCache
from campaigns.machines import click_flag
from campaigns.model import FINGERPRINT_LENGTH, Delivery, Variant
from campaigns.payloads import store_payloads
from campaigns.retention import keep_partitions_ahead
from campaigns.rollups import add_events
from campaigns.states import DeliveryStatus
from campaigns.sunset import revive_readers
from campaigns.unknowns import EVIDENCE, settle_from_events
from newsletter.config import Settings
from newsletter.db import utcnow
from newsletter.errors import InvalidInput
from subscribers.addresses import Address, email_digest, parse_address
from subscribers.bulk import insert_rows, one_of
from subscribers.model import Subscriber

EVENTS = cast(Table, Event.__table__)
DELIVERIES = cast(Table, Delivery.__table__)
SUBSCRIBERS = cast(Table, Subscriber.__table__)
_SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """The settings that decide how events are judged."""

    scanner_window_seconds: float
    soft_bounce_limit: int

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestPolicy:
        return cls(settings.tracking_scanner_seconds, settings.soft_bounce_limit)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of a batch: ``recorded`` new events, ``duplicates`` already known."""

    received: int
    recorded: int
    duplicates: int
    unmatched: int

    def as_dict(self) -> dict[str, int]:
        return {
            "received": self.received,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "unmatched": self.unmatched,
        }


def record_events(
    session: Session,
    records: Sequence[EventRecord],
    policy: IngestPolicy,
    links: LinkIndexCache,
) -> IngestResult:
    """Store the new events among ``records`` and apply their effects."""
    unique = _first_of_each(records)
    digests: dict[str, str | None] = {}  # a batch names each address several times
    for record in unique:
        if record.email_hash is None and record.email:
            email = record.email
            if email not in digests:
                digests[email] = address_digest(email)
            record.email_hash = digests[email]
    unknown, erased = _resolve(session, unique)
    _attach_links(session, unique, links)
    for record in unique:
        if record.type == "clicked" and record.machine_reason is None:
            record.machine_reason = click_flag(
                user_agent=record.user_agent,
                at=record.occurred_at,
                sent_at=record.sent_at,
                window_seconds=policy.scanner_window_seconds,
            )
    keep_partitions_ahead(session.get_bind().engine, utcnow().date())
    new = _insert(session, unique)
    apply_effects(session, new, policy.soft_bounce_limit)
    revive_readers(session, new)
    proven = {r.delivery_id for r in unique if r.delivery_id in unknown and r.type in EVIDENCE}
    settle_from_events(session.connection(), [i for i in proven if i is not None])
    # Last, just before the commit: rows that concurrent batches share (a reader's
    # engagement, a delivery's bits, the variant's and campaign's counters) stay locked
    # from these upserts to the commit, so the shorter that is, the less batches wait.
    note_engagement(session.connection(), new, erased=erased)
    add_events(session.connection(), new)  # the report counters, in this transaction
    return IngestResult(
        received=len(records),
        recorded=len(new),
        duplicates=len(records) - len(new),
        unmatched=sum(1 for r in new if r.delivery_id is None),
    )


def _first_of_each(records: Sequence[EventRecord]) -> list[EventRecord]:
    """One record per event id (a batch may repeat an event, as SendGrid's samples do)."""
    seen: dict[tuple[str, str], EventRecord] = {}
    for record in records:
        seen.setdefault((record.source, record.event_id), record)
    return list(seen.values())


def _resolve(session: Session, records: Sequence[EventRecord]) -> tuple[set[int], set[int]]:
    """Tie records whose delivery (and campaign) ids and address check out to that delivery;
    returns the ids of those deliveries whose outcome is ``unknown``, and of the erased
    subscribers among those tied (so engagement needs no look-up of its own)."""
    wanted = {r.delivery_ref for r in records if r.delivery_ref is not None}
    unknown: set[int] = set()
    erased: set[int] = set()
    if not wanted:
        return unknown, erased
    connection = session.connection()  # Core rows: a thousand ORM rows cost more than the query
    found = _deliveries(connection, wanted)
    effectful: list[EventRecord] = []
    for record in records:
        target = found.get(record.delivery_ref) if record.delivery_ref is not None else None
        if target is None:
            continue
        if record.campaign_ref is not None and record.campaign_ref != target.campaign_id:
            continue  # ids that contradict each other are not ours
        names_address = record.email is not None or record.source == "sendgrid"
        if names_address and (
            record.email_hash is None
            or target.fingerprint is None
            or record.email_hash[:FINGERPRINT_LENGTH] != target.fingerprint
        ):
            continue  # about another address (or none SendGrid would send): not this delivery's
        record.delivery_id = target.delivery_id
        record.campaign_id = target.campaign_id
        record.variant_id = target.variant_id
        record.subscriber_id = target.subscriber_id
        record.sent_at = target.sent_at
        if target.status == DeliveryStatus.UNKNOWN:
            unknown.add(target.delivery_id)
        if target.fingerprint is None:  # cleared by erasure, and only by it
            erased.add(target.subscriber_id)
        if names_address and record.type in EFFECT_TYPES:
            effectful.append(record)
    if effectful:
        _attach_recipients(connection, effectful)
    return unknown, erased


class _Delivery(NamedTuple):
    """What an event needs of the delivery it names (a tuple: a batch makes a thousand, and
    a frozen dataclass costs several times more)."""

    delivery_id: int
    campaign_id: int
    variant_id: int
    subscriber_id: int
    fingerprint: str | None  # of the recipient's address; None once erased
    status: str
    sent_at: datetime | None  # clicks need it to tell a scanner from a reader


def _deliveries(connection: Connection, ids: set[int]) -> dict[int, _Delivery]:
    """The deliveries among ``ids`` (one index look-up each, no join)."""
    table = DELIVERIES.c
    rows = connection.execute(
        select(
            table.id,
            table.campaign_id,
            table.variant_id,
            table.subscriber_id,
            table.recipient_fingerprint,
            table.status,
            table.sent_at,
        ).where(one_of(connection, table.id, ids, BigInteger()))
    ).all()  # one fetch, not one per row
    make = _Delivery._make
    return {row[0]: make(row) for row in rows}


def _attach_recipients(connection: Connection, records: Sequence[EventRecord]) -> None:
    """Give each record its subscriber's address, when it is the one the record names (the
    full digest, not only the delivery's fingerprint of it)."""
    people = SUBSCRIBERS.c
    ids = {cast(int, r.subscriber_id) for r in records}
    addresses = {
        row.id: Address(row.email, row.email_key, row.email_hash)
        for row in connection.execute(
            select(people.id, people.email, people.email_key, people.email_hash).where(
                one_of(connection, people.id, ids, BigInteger()),
                people.email_hash.is_not(None),
            )
        )
    }
    for record in records:
        address = addresses.get(cast(int, record.subscriber_id))
        if address is not None and address.digest == record.email_hash:
            record.recipient = address


def _attach_links(session: Session, records: Sequence[EventRecord], links: LinkIndexCache) -> None:
    """Give each tied click its link: brief, section and narrative from the link table."""

    def load(variant_id: int) -> list[Mapping[str, Any]] | None:
        value = session.scalar(select(Variant.links).where(Variant.id == variant_id))
        return None if value is None else list(value)

    for record in records:
        if record.type != "clicked" or record.variant_id is None:
            continue
        index = links.get(record.variant_id, load)
        if index is None:
            continue
        link = index.by_id(record.link_id) if record.link_id else None
        if link is None and record.url:
            link = index.by_url(record.url)  # SendGrid: as far as the URL tells
        if link is None:
            continue
        record.link_id = link.link_id
        record.brief_slug = link.brief_slug
        record.section = link.section
        record.narrative = link.narrative
        record.url = record.url or link.url


def address_digest(email: str | None) -> str | None:
    """SHA-256 of an address's lookup key, as suppressions store it (cheap for plain ASCII)."""
    if not email:
        return None
    email = email.strip()
    if _SIMPLE_ADDRESS.fullmatch(email):
        return email_digest(email.lower())
    try:
        return parse_address(email).digest
    except InvalidInput:
        return None


def _insert(session: Session, records: Sequence[EventRecord]) -> list[EventRecord]:
    """Insert the records that are new, and their payloads; those records."""
    connection = session.connection()
    records = _not_seen(connection, records)
    if not records:
        return []
    inserted = insert_rows(
        connection,
        EVENTS,
        [r.row() for r in records],
        EVENT_COLUMNS,
        key="event_id",
        skip_conflicts=("event_id", "source", "occurred_at"),
        sparse=True,
    )
    new = [r for r in records if r.event_id in inserted]
    store_payloads(connection, [(inserted[r.event_id], r) for r in new])
    return new


def _not_seen(connection: Connection, records: Sequence[EventRecord]) -> Sequence[EventRecord]:
    """``records`` without those whose replay may carry another time and that are stored
    already (by ``(source, event_id)``, whatever their time)."""
    unsure = [r for r in records if not r.replay_keeps_time]
    if not unsure:
        return records
    if connection.dialect.name == "postgresql":  # two requests of one hit: one at a time
        for record in sorted(unsure, key=lambda r: r.event_id):
            connection.execute(select(func.pg_advisory_xact_lock(func.hashtext(record.event_id))))
    seen = set(
        connection.execute(
            select(EVENTS.c.source, EVENTS.c.event_id).where(
                one_of(connection, EVENTS.c.event_id, {r.event_id for r in unsure})
            )
        ).all()
    )
    return [r for r in records if r.replay_keeps_time or (r.source, r.event_id) not in seen]

"""Payloads kept one row per batch: an event's entry is found among batches whose id ranges
overlap, erasure rewrites a shared batch and drops an emptied one, the prune counts events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from campaigns.events import EventBatch, EventRecord
from campaigns.payloads import (
    drop_payloads,
    forget_payloads,
    payload_count,
    payloads_of,
    store_payloads,
)
from newsletter.db import Database

EARLY = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
LATE = EARLY + timedelta(days=40)


def _record(number: int, at: datetime) -> EventRecord:
    return EventRecord(
        source="sendgrid",
        event_id=f"sg-{number}",
        type="opened",
        occurred_at=at,
        received_at=at,
        user_agent=f"agent {number}",
        raw={"email": f"reader{number % 3}@example.org", "n": number, "big": 10**30},
    )


def test_entries_are_found_erased_and_pruned_by_batch(db: Database) -> None:
    with db.transaction() as session:
        connection = session.connection()
        # two batches stored at once: their id ranges overlap (1..9 and 2..8)
        store_payloads(connection, [(i, _record(i, EARLY)) for i in (1, 5, 9)])
        store_payloads(connection, [(i, _record(i, LATE)) for i in (2, 4, 6, 8)])
        store_payloads(connection, [(20, _record(20, LATE)), (21, _record(21, EARLY))])
    with db.transaction() as session:
        connection = session.connection()
        found = payloads_of(connection, [4, 5, 20, 21, 7])
        assert set(found) == {4, 5, 20, 21}  # 7 has none
        assert (found[5].user_agent, found[5].received_at) == ("agent 5", EARLY)
        assert found[4].raw == {"email": "reader1@example.org", "n": 4, "big": 10**30}
        assert found[20].received_at == LATE and found[21].received_at == EARLY  # one row each
        assert payload_count(connection) == 9
        assert forget_payloads(connection, [1, 9, 4, 21, 7]) == 4
    with db.transaction() as session:
        connection = session.connection()
        assert set(payloads_of(connection, range(30))) == {2, 5, 6, 8, 20}
        sizes = session.execute(
            select(EventBatch.first_event, EventBatch.last_event, EventBatch.size)
        ).all()
        assert sorted(tuple(row) for row in sizes) == [(2, 8, 3), (5, 5, 1), (20, 20, 1)]
    assert drop_payloads(db.engine, EARLY + timedelta(days=1), 2, dry_run=True) == 1
    assert drop_payloads(db.engine, EARLY + timedelta(days=1), 2, dry_run=False) == 1
    with db.transaction() as session:
        assert set(payloads_of(session.connection(), range(30))) == {2, 6, 8, 20}

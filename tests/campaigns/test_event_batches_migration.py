"""Migration 0036 moves the per-event payloads into one row per batch (one per time of
arrival) on SQLite and PostgreSQL, matches the model, reads back through
:mod:`campaigns.payloads`, and the downgrade puts one row per event back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import func, insert, inspect, select, text

from campaigns.events import Event, EventBatch
from campaigns.payloads import payloads_of
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.schema import schema_differences

AT = datetime(2026, 11, 3, 10, 30, tzinfo=UTC)
FIRST = datetime(2026, 11, 3, 10, 31, 5, tzinfo=UTC)
SECOND = datetime(2026, 11, 3, 10, 32, 7, tzinfo=UTC)


def _bound(db: Database, moment: datetime) -> datetime | str:
    if db.engine.dialect.name == "sqlite":  # naive UTC text, as UTCDateTime stores it
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def test_0036_moves_payloads_into_batches_and_goes_back(db: Database) -> None:
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0035")
    assert "event_batches" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as connection:
        connection.execute(
            insert(Event),
            [
                {"source": "sendgrid", "event_id": f"sg-{i}", "type": "opened",
                 "occurred_at": AT, "delivery_id": i, "subscriber_id": i}
                for i in range(1, 5)
            ],
        )  # fmt: skip
        ids = sorted(connection.execute(select(Event.id)).scalars())
        payload = text(
            "INSERT INTO event_payloads (event_id, received_at, user_agent, raw) "
            "VALUES (:id, :at, :agent, :raw)"
        )
        for number, event_id in enumerate(ids[:3]):  # two in the first batch, one in the next
            raw = {"event": "open", "sg_event_id": f"sg-{number + 1}", "n": [number, None]}
            connection.execute(
                payload,
                {
                    "id": event_id,
                    "at": _bound(db, FIRST if number < 2 else SECOND),
                    "agent": f"agent {number}" if number != 1 else None,
                    "raw": json.dumps(raw),
                },
            )

    assert "0036" in db.upgrade()
    assert "event_payloads" not in inspect(db.engine).get_table_names()
    assert schema_differences(db) == []
    with db.engine.connect() as connection:
        batches = connection.execute(
            select(EventBatch.received_at, EventBatch.first_event, EventBatch.last_event,
                   EventBatch.size).order_by(EventBatch.id)
        ).all()  # fmt: skip
        stored = payloads_of(connection, ids)
    assert [tuple(b) for b in batches] == [(FIRST, ids[0], ids[1], 2), (SECOND, ids[2], ids[2], 1)]
    assert set(stored) == set(ids[:3])  # the fourth event had no payload
    assert stored[ids[0]].raw == {"event": "open", "sg_event_id": "sg-1", "n": [0, None]}
    assert (stored[ids[0]].user_agent, stored[ids[0]].received_at) == ("agent 0", FIRST)
    assert stored[ids[1]].user_agent is None and stored[ids[2]].received_at == SECOND

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0035")
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event_id, user_agent, raw FROM event_payloads ORDER BY event_id")
        ).all()
        assert connection.execute(select(func.count()).select_from(Event)).scalar() == 4
    back = [(r[0], r[1], json.loads(r[2]) if isinstance(r[2], str) else r[2]) for r in rows]
    assert [(r[0], r[1]) for r in back] == [
        (ids[0], "agent 0"),
        (ids[1], None),
        (ids[2], "agent 2"),
    ]
    assert back[2][2] == {"event": "open", "sg_event_id": "sg-3", "n": [2, None]}
    db.upgrade()
    with db.engine.connect() as connection:
        assert set(payloads_of(connection, ids)) == set(ids[:3])

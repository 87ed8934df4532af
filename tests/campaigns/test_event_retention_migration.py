"""Migration 0021 rebuilds ``events`` compactly with events in it (codes for type and source,
payloads apart, the address hash only where no subscriber has it; monthly partitions on
PostgreSQL), on SQLite and PostgreSQL, and its downgrade puts every row back as it was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from campaigns.events import Event
from campaigns.payloads import payloads_of
from campaigns.retention import monthly_partitions
from newsletter.db import Database
from newsletter.migrate import alembic_config
from subscribers.model import Subscriber
from tests.campaigns.helpers import add_subscribers
from tests.campaigns.webhooks import ingest

AT = datetime(2025, 6, 3, 10, 30, tzinfo=UTC)
RECEIVED = datetime(2025, 6, 3, 10, 31, tzinfo=UTC)
OLD_COLUMNS = "source, event_id, type, occurred_at, received_at, subscriber_id, email_hash, "
OLD_COLUMNS += "machine, url, user_agent, raw"


def _before_0021() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0021")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


def _old_rows(subscriber_id: int, digest: str) -> list[dict[str, Any]]:
    tied = {
        "source": "sendgrid",
        "event_id": "sg-1",
        "type": "clicked",
        "subscriber_id": subscriber_id,
        "email_hash": digest,
        "machine": False,
        "url": "https://example.org/a",
        "user_agent": "Mozilla/5.0",
        "raw": json.dumps({"event": "click", "sg_event_id": "sg-1"}),
    }
    untied = {
        **tied,
        "source": "first-party",
        "event_id": "open-9-1-reader",
        "type": "opened",
        "subscriber_id": None,
        "email_hash": "ab" * 32,
        "url": None,
        "user_agent": None,
        "raw": None,
    }
    return [{**row, "occurred_at": AT, "received_at": RECEIVED} for row in (tied, untied)]


def _insert_old(db: Database, rows: list[dict[str, Any]]) -> None:
    names = [name.strip() for name in OLD_COLUMNS.split(",")]
    values = ", ".join(f":{name}" for name in names)
    with db.engine.begin() as connection:
        for row in rows:
            if db.engine.dialect.name == "sqlite":  # naive UTC text, as UTCDateTime stores it
                row = {
                    **row,
                    "occurred_at": AT.replace(tzinfo=None),
                    "received_at": RECEIVED.replace(tzinfo=None),
                }
            connection.execute(
                text(f"INSERT INTO events ({OLD_COLUMNS}) VALUES ({values})"),
                row,
            )


def test_0021_moves_events_and_goes_back(db: Database) -> None:
    reader = add_subscribers(db, 1)[0]
    with db.transaction() as session:
        subscriber = session.scalars(select(Subscriber).where(Subscriber.email == reader)).one()
        subscriber_id, digest = subscriber.id, subscriber.email_hash
    assert digest is not None
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), _before_0021())
    assert "event_payloads" not in inspect(db.engine).get_table_names()
    _insert_old(db, _old_rows(subscriber_id, digest))

    db.upgrade()
    with db.transaction() as session:
        events = {e.event_id: e for e in session.scalars(select(Event))}
        session.expunge_all()
        payloads = payloads_of(session.connection(), [e.id for e in events.values()])
    click, opened = events["sg-1"], events["open-9-1-reader"]
    assert (click.type, click.source, click.subscriber_id) == ("clicked", "sendgrid", subscriber_id)
    assert (opened.type, opened.source) == ("opened", "first-party")
    assert click.occurred_at == AT and click.url == "https://example.org/a"
    assert click.email_hash is None and opened.email_hash == "ab" * 32  # only where untied
    assert payloads[click.id].raw == {"event": "click", "sg_event_id": "sg-1"}
    assert (payloads[click.id].user_agent, payloads[click.id].received_at) == (
        "Mozilla/5.0",
        RECEIVED,
    )
    assert payloads[opened.id].raw is None
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            months = monthly_partitions(connection)
        this_month = datetime.now(UTC).date().replace(day=1)
        assert "events_2025_06" in months and this_month in months.values()
        assert len([m for m in months.values() if m > this_month]) == 2
    # new ids follow the copied ones, and the copied keys still refuse a replay
    fresh = {"email": "x@example.org", "event": "open", "sg_event_id": "sg-2", "timestamp": 1}
    assert ingest(db, [fresh]).recorded == 1
    with db.transaction() as session:
        ids = dict(session.execute(select(Event.event_id, Event.id)).all())
    assert ids["sg-2"] > max(ids["sg-1"], ids["open-9-1-reader"])

    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), _before_0021())
    assert "event_payloads" not in inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event_id, source, type, email_hash, user_agent, raw FROM events")
        ).all()
    back = {row[0]: row[1:] for row in rows}
    raw = back["sg-1"][4]
    assert back["sg-1"][:4] == ("sendgrid", "clicked", digest, "Mozilla/5.0")
    assert (json.loads(raw) if isinstance(raw, str) else raw)["sg_event_id"] == "sg-1"
    assert back["open-9-1-reader"][:3] == ("first-party", "opened", "ab" * 32)
    assert len(back) == 3
    db.upgrade()
    assert ingest(db, [fresh]).duplicates == 1

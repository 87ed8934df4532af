"""Event retention on SQLite and PostgreSQL: `events prune` removes the events older than the
cutoff (whole months on PostgreSQL) and payloads past their period, keeps the rest, and the
de-duplication key still refuses replays in the rebuilt, partitioned table."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from campaigns.events import Event, EventRecord
from campaigns.ingest import IngestPolicy, record_events
from campaigns.linkmap import LinkIndexCache
from campaigns.payloads import payload_count, payloads_of
from campaigns.retention import (
    Age,
    ensure_partitions,
    monthly_partitions,
    parse_age,
    prune_events,
)
from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.errors import InvalidInput
from tests.campaigns.webhooks import ingest

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
runner = CliRunner()

# id → when it happened (and was received); a 13-month cutoff from NOW is 2025-11-02 12:00
MOMENTS = {
    "jan-2025": datetime(2025, 1, 15, 8, 0, tzinfo=UTC),
    "oct-2025": datetime(2025, 10, 20, 8, 0, tzinfo=UTC),
    "nov-2025-before-cutoff": datetime(2025, 11, 1, 8, 0, tzinfo=UTC),
    "oct-2026": datetime(2026, 10, 1, 8, 0, tzinfo=UTC),  # kept; its payload is past 30 days
    "nov-2026": datetime(2026, 11, 20, 8, 0, tzinfo=UTC),  # kept with its payload
}


def _record(event_id: str, at: datetime) -> EventRecord:
    return EventRecord(
        source="sendgrid",
        event_id=event_id,
        type="opened",
        occurred_at=at,
        received_at=at,
        email="someone@example.org",
        user_agent="Mozilla/5.0",
        raw={"event": "open", "sg_event_id": event_id, "email": "someone@example.org"},
    )


def _store(db: Database, records: list[EventRecord]) -> int:
    with db.transaction() as session:
        result = record_events(
            session, records, IngestPolicy.from_settings(Settings()), LinkIndexCache()
        )
    return result.recorded


def _events(db: Database) -> set[str]:
    with db.transaction() as session:
        return set(session.scalars(select(Event.event_id)))


def _payloads(db: Database) -> set[str]:
    with db.transaction() as session:
        ids = dict(session.execute(select(Event.id, Event.event_id)).all())
        return {ids[i] for i in payloads_of(session.connection(), ids)}


def _old_months(db: Database) -> None:
    """PostgreSQL: partitions from January 2025 on (rows there move out of DEFAULT)."""
    with db.engine.begin() as connection:
        ensure_partitions(connection, date(2025, 1, 1), ahead=11)


@pytest.mark.parametrize(
    ("text", "age"), [("30d", Age(30, "d")), ("8w", Age(8, "w")), (" 13M ", Age(13, "m"))]
)
def test_ages_are_days_weeks_or_months(text: str, age: Age) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "13", "m", "0m", "13y", "-3d", "1.5m", "13 months"])
def test_other_ages_are_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"--older-than: .* \(30d, 8w, 13m\)"):
        parse_age(text)


def test_months_count_by_the_calendar() -> None:
    assert Age(13, "m").before(NOW) == datetime(2025, 11, 2, 12, 0, tzinfo=UTC)
    march_31 = datetime(2026, 3, 31, tzinfo=UTC)
    assert Age(1, "m").before(march_31) == datetime(2026, 2, 28, tzinfo=UTC)
    assert Age(2, "w").before(NOW) == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def test_prune_drops_old_events_and_expired_payloads(db: Database) -> None:
    postgres = db.engine.dialect.name == "postgresql"
    assert _store(db, [_record(name, at) for name, at in MOMENTS.items()]) == 5
    if postgres:
        _old_months(db)

    preview = prune_events(db, Age(13, "m"), payload_days=30, now=NOW, dry_run=True)
    assert _events(db) == set(MOMENTS) and _payloads(db) == set(MOMENTS)  # nothing changed
    report = prune_events(db, Age(13, "m"), payload_days=30, now=NOW)
    assert preview.events_removed == report.events_removed
    assert preview.payloads_deleted == report.payloads_deleted == 4

    kept = {"oct-2026", "nov-2026"}
    if postgres:  # whole months: November 2025 is not wholly before the cutoff yet
        kept.add("nov-2025-before-cutoff")
        dropped = [name for name, _ in report.partitions]
        assert dropped == [f"events_2025_{month:02}" for month in range(1, 11)]
        assert dict(report.partitions)["events_2025_01"] == 1
        with db.engine.connect() as connection:
            left = set(monthly_partitions(connection))
        assert "events_2025_10" not in left and {"events_2025_11", "events_2026_12"} <= left
        assert "events from 2025-11-01 on stay (partitions go by whole months)" in report.lines()
    assert _events(db) == kept
    assert report.events_removed == len(MOMENTS) - len(kept)
    assert _payloads(db) == {"nov-2026"}  # the normalised events outlive their payloads
    lines = report.lines()
    assert f"events before 2025-11-02 12:00 UTC: {len(MOMENTS) - len(kept)} removed" in lines
    assert "payloads received before 2026-11-02 12:00 UTC: 4 removed" in lines

    again = prune_events(db, Age(13, "m"), payload_days=30, now=NOW)
    assert (again.events_removed, again.payloads_deleted, again.partitions) == (0, 0, [])


def test_rows_go_in_batches(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's events, PostgreSQL's DEFAULT partition, and payloads on both."""
    monkeypatch.setattr("campaigns.retention.BATCH", 3)
    old = datetime(2024, 5, 1, tzinfo=UTC)
    assert _store(db, [_record(f"old-{n}", old) for n in range(10)]) == 10
    assert _store(db, [_record("new", NOW)]) == 1
    report = prune_events(db, Age(1, "m"), payload_days=30, now=NOW)
    assert (report.events_deleted, report.payloads_deleted) == (10, 10)
    assert _events(db) == {"new"}


def test_replays_are_refused_across_the_partitioned_table(db: Database) -> None:
    old_at = int(datetime(2025, 3, 5, tzinfo=UTC).timestamp())
    events = [
        {"email": "a@example.org", "event": "delivered", "sg_event_id": "old", "timestamp": old_at},
        {
            "email": "b@example.org",
            "event": "open",
            "sg_event_id": "now",
            "timestamp": 1_796_000_000,
        },
    ]
    assert ingest(db, events).as_dict() == {
        "received": 2,
        "recorded": 2,
        "duplicates": 0,
        "unmatched": 2,
    }
    if db.engine.dialect.name == "postgresql":
        _old_months(db)  # March 2025's row leaves the DEFAULT partition for its own
        with db.engine.connect() as connection:
            assert "events_2025_03" in monthly_partitions(connection)
    assert ingest(db, events).duplicates == 2
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2
        assert payload_count(session.connection()) == 2


def test_cli_prune_prints_what_it_did_and_refuses_bad_ages(db: Database) -> None:
    assert _store(db, [_record("ancient", datetime(2020, 1, 1, tzinfo=UTC))]) == 1
    bad = runner.invoke(app, ["events", "prune", "--older-than", "13 months"])
    assert bad.exit_code != 0
    assert "error: --older-than: '13 months' is not an age" in bad.output
    dry = runner.invoke(app, ["events", "prune", "--older-than", "13m", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 would go" in dry.output and _events(db) == {"ancient"}
    done = runner.invoke(app, ["events", "prune", "--older-than", "13m"])
    assert done.exit_code == 0, done.output
    assert "removed" in done.output and _events(db) == set()


def test_ingest_makes_the_partitions_ahead_that_are_missing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's events table has no partitions")
    monkeypatch.setattr("campaigns.retention._kept_ahead", set())  # as in a fresh process
    this_month = datetime.now(UTC).date().replace(day=1)
    with db.engine.begin() as connection:
        months = {start: name for name, start in monthly_partitions(connection).items()}
        ahead = sorted(start for start in months if start > this_month)
        assert len(ahead) == 2
        connection.execute(text(f"DROP TABLE {months[ahead[-1]]}"))
    event = {"email": "a@example.org", "event": "open", "sg_event_id": "x", "timestamp": 1}
    assert ingest(db, [event]).recorded == 1
    with db.engine.connect() as connection:
        assert months[ahead[-1]] in monthly_partitions(connection)

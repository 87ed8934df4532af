"""Delivery at the reader's local time: a simulated clock runs the worker minute by minute,
and each zone's mail leaves within a minute of 07:00 on its readers' clocks, never before;
New York crosses its spring-forward night on the way (07:00 EDT, not EST)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns.freeze import freeze_campaign
from campaigns.local_time import next_local_moment
from campaigns.model import Campaign, Delivery
from campaigns.sending import run_worker
from campaigns.service import CampaignDraft, create_campaign, get_campaign, set_local_time
from newsletter.config import Settings
from newsletter.db import Database
from subscribers.model import Subscriber
from tests.campaigns.helpers import SLUGS, add_subscribers, import_examples

# 2026-03-08 is the day New York springs forward (02:00 EST → 03:00 EDT).
FROZEN = datetime(2026, 3, 8, 0, 30, 17, tzinfo=UTC)  # 17 s past a minute: steps miss it
EXPECTED = {  # reader's zone → 07:00 local as UTC
    "Asia/Kathmandu": datetime(2026, 3, 8, 1, 15, tzinfo=UTC),  # +05:45
    "Europe/Berlin": datetime(2026, 3, 8, 6, 0, tzinfo=UTC),  # CET, +01:00
    None: datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # no zone: the default (UTC)
    "Mars/Olympus_Mons": datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # unknown here: default
    "America/New_York": datetime(2026, 3, 8, 11, 0, tzinfo=UTC),  # EDT, -04:00 since 02:00
}
PER_ZONE = 3


class Clock:
    """The worker's time, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    @property
    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def _readers_in_zones(db: Database) -> dict[str, str | None]:
    emails = add_subscribers(db, PER_ZONE * len(EXPECTED))
    zones = [zone for zone in EXPECTED for _ in range(PER_ZONE)]
    with db.transaction() as session:
        for email, zone in zip(emails, zones, strict=True):
            session.execute(
                update(Subscriber).where(Subscriber.email == email).values(time_zone=zone)
            )
    return dict(zip(emails, zones, strict=True))


def test_each_zone_is_sent_within_a_minute_of_its_local_hour(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    zone_of = _readers_in_zones(db)
    settings = Settings(outbox=tmp_path / "outbox", worker_poll_seconds=1)
    with db.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("Morning", list(SLUGS))).id
        set_local_time(session, campaign_id, time(7, 0))
    freeze_campaign(db, campaign_id, settings, now=FROZEN)

    clock = Clock(FROZEN)
    sent_at: dict[str, datetime] = {}
    last = max(EXPECTED.values())
    while clock.moment <= last.replace(minute=2):
        run_worker(db, settings, stop=threading.Event(), once=True, clock=clock)
        with db.transaction() as session:
            rows = session.execute(
                select(Subscriber.email)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .where(Delivery.campaign_id == campaign_id, Delivery.status == "sent")
            ).scalars()
            for email in rows:
                sent_at.setdefault(str(email), clock.moment)
        clock.now += 60

    assert set(sent_at) == set(zone_of), "everyone is sent to once their hour has come"
    for email, zone in zone_of.items():
        late = (sent_at[email] - EXPECTED[zone]).total_seconds()
        assert 0 <= late < 60, f"{zone}: sent {sent_at[email]}, due {EXPECTED[zone]}"
    with db.transaction() as session:
        assert get_campaign(session, campaign_id).status == "sent"


def test_a_campaign_without_local_time_has_no_moments(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    _readers_in_zones(db)
    with db.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("Now", list(SLUGS))).id
    freeze_campaign(db, campaign_id, Settings(outbox=tmp_path / "outbox"))
    with db.transaction() as session:
        moments = set(
            session.scalars(select(Delivery.not_before).where(Delivery.campaign_id == campaign_id))
        )
    assert moments == {None}


def test_the_cli_sets_shows_and_refuses_local_times(db: Database) -> None:
    from typer.testing import CliRunner

    from newsletter.cli.app import app

    import_examples(db)
    runner = CliRunner()
    made = runner.invoke(
        app, ["campaigns", "create", "--name", "M", "-b", SLUGS[0], "--local-time", "07:00"]
    )
    assert made.exit_code == 0, made.output
    campaign_id = int(made.stdout.strip())
    shown = runner.invoke(app, ["campaigns", "show", str(campaign_id)])
    assert "at the readers' local time: 07:00" in shown.stdout
    bad = runner.invoke(
        app, ["campaigns", "create", "--name", "B", "-b", SLUGS[0], "--local-time", "25:00"]
    )
    assert bad.exit_code != 0 and "local_time" in bad.output and "HH:MM" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    with db.transaction() as session:
        assert [c.name for c in session.scalars(select(Campaign))] == ["M"]  # nothing partial
    cleared = runner.invoke(
        app,
        [
            "campaigns",
            "schedule",
            str(campaign_id),
            "--at",
            "2030-01-01T05:00Z",
            "--local-time",
            "none",
        ],
    )
    assert cleared.exit_code == 0, cleared.output
    with db.transaction() as session:
        assert get_campaign(session, campaign_id).local_send_time is None


def test_newsletter_send_says_when_the_next_zone_is_due(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`newsletter send` sends what is due and says when the rest waits for."""
    from typer.testing import CliRunner

    from newsletter.cli.app import app

    import_examples(db)
    _readers_in_zones(db)
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "box"))
    with db.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("Later", list(SLUGS))).id
        set_local_time(session, campaign_id, time(7, 0))
    now = datetime.now(UTC)
    sent = CliRunner().invoke(app, ["send", str(campaign_id), "--yes"])
    assert sent.exit_code == 0, sent.output
    with db.transaction() as session:
        first = next_local_moment(session, campaign_id)
    assert first is not None and now < first <= now + timedelta(days=1)
    assert f"the next rows are due at {first:%Y-%m-%d %H:%M} UTC" in sent.stdout
    assert "still sending" in sent.stdout


def test_the_freeze_stays_one_insert_with_each_zones_moment(db: Database, tmp_path: Path) -> None:
    from sqlalchemy import event

    import_examples(db)
    zone_of = _readers_in_zones(db)
    with db.transaction() as session:
        campaign_id = create_campaign(session, CampaignDraft("One", list(SLUGS))).id
        set_local_time(session, campaign_id, time(7, 0))
    inserts: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DELIVERIES"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        freeze_campaign(db, campaign_id, Settings(outbox=tmp_path / "outbox"), now=FROZEN)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(inserts) == 1 and "CASE" in inserts[0]
    with db.transaction() as session:
        moments = dict(
            session.execute(
                select(Subscriber.email, Delivery.not_before).join(
                    Delivery, Delivery.subscriber_id == Subscriber.id
                )
            ).all()
        )
    assert {email: moments[email] for email in zone_of} == {
        email: EXPECTED[zone] for email, zone in zone_of.items()
    }


def test_a_subject_test_sent_at_local_time_sends_each_zones_cells_at_its_hour_and_holds_the_rest(
    db: Database, tmp_path: Path
) -> None:
    """Both features write the same one INSERT (cell and not-before moment per row) and
    both narrow the same claim: due rows, of the test cells only, until the test is decided."""
    from campaigns.subject_tests import SubjectTestPlan, set_subject_test

    import_examples(db)
    emails = add_subscribers(db, 1000)
    with db.transaction() as session:
        session.execute(
            update(Subscriber)
            .where(Subscriber.email.in_(emails[:500]))
            .values(time_zone="Asia/Kathmandu")
        )
        campaign_id = create_campaign(session, CampaignDraft("Morning test", list(SLUGS))).id
        set_local_time(session, campaign_id, time(7, 0))
        set_subject_test(session, campaign_id, SubjectTestPlan([("Subject B", None)], 0.1, 600))
    settings = Settings(outbox=tmp_path / "outbox", subject_test_min_cell=10)
    freeze_campaign(db, campaign_id, settings, now=FROZEN)

    def rows() -> list[tuple[str, int | None, datetime | None, str]]:
        with db.transaction() as session:
            found = session.execute(
                select(Subscriber.time_zone, Delivery.cell, Delivery.not_before, Delivery.status)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Delivery.campaign_id == campaign_id)
            )
            return [(zone or "UTC", cell, at, status) for zone, cell, at, status in found]

    frozen = rows()
    assert len(frozen) == 1000
    assert {at for zone, _, at, _ in frozen if zone == "UTC"} == {EXPECTED[None]}
    assert {at for zone, _, at, _ in frozen if zone != "UTC"} == {EXPECTED["Asia/Kathmandu"]}
    assert sum(cell is not None for _, cell, _, _ in frozen) == 200  # two cells of 10 %

    clock = Clock(EXPECTED["Asia/Kathmandu"] + timedelta(seconds=30))
    run_worker(db, settings, stop=threading.Event(), once=True, clock=clock)
    sent = [(zone, cell) for zone, cell, _, status in rows() if status == "sent"]
    assert sent and {zone for zone, _ in sent} == {"Asia/Kathmandu"}
    assert all(cell is not None for _, cell in sent), "the rest waits for the test's decision"
    dealt_there = sum(1 for zone, cell, _, _ in frozen if zone != "UTC" and cell is not None)
    assert len(sent) == dealt_there

    # The wait counts from when the last cell's mail went out (at its readers' hour, 07:00
    # UTC), not from the freeze: until then the test stays open, after it the rest goes,
    # each row no earlier than its hour.
    clock.now = (EXPECTED[None] + timedelta(seconds=30)).timestamp()
    run_worker(db, settings, stop=threading.Event(), once=True, clock=clock)
    assert sum(status == "sent" for _, _, _, status in rows()) == 200  # every cell, no rest
    clock.now = (EXPECTED[None] + timedelta(minutes=599)).timestamp()
    run_worker(db, settings, stop=threading.Event(), once=True, clock=clock)
    assert sum(status == "sent" for _, _, _, status in rows()) == 200
    clock.now += 120
    run_worker(db, settings, stop=threading.Event(), once=True, clock=clock)
    assert {status for _, _, _, status in rows()} == {"sent"}
    with db.transaction() as session:
        decided = get_campaign(session, campaign_id).test_decided_at
    assert decided is not None and decided > EXPECTED[None] + timedelta(minutes=599)

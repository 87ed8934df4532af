"""The welcome series on SQLite and PostgreSQL: a confirmed reader gets step 1 on the next
schedule round and step 2 only after its delay, through the normal send path (frozen
campaign, delivery rows, outbox), never twice (two rounds, two workers at once), and not
after unsubscribing, bouncing or lapsing."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from campaigns import welcome_queue
from campaigns.model import Campaign, Delivery, Variant
from campaigns.sending import run_worker
from campaigns.states import CampaignStatus
from campaigns.sunset import SunsetPolicy, unengaged
from campaigns.welcome_model import WelcomeReceipt
from campaigns.welcome_queue import LATE_LIMIT, queue_due_steps
from campaigns.welcome_steps import StepText, add_step, edit_step, set_enabled, step_summaries
from newsletter.config import Settings, get_settings
from newsletter.db import Database, utcnow
from subscribers.addresses import parse_address
from subscribers.csv_io import ImportOptions, import_csv
from subscribers.directory import NewSubscriber, add_subscriber
from subscribers.intake import Arrival, check_arrival, take_in
from subscribers.model import Subscriber
from subscribers.signup import Origin, SignupForm, confirm, signup
from subscribers.suppression import suppress
from tests.campaigns.helpers import (
    add_subscribers,
    html_of,
    meet_before,
    outbox_mails,
    race,
    welcomed,
)


def _settings(tmp_path: Path) -> Settings:
    return get_settings().model_copy(update={"outbox": tmp_path / "outbox"})


def _steps(db: Database) -> tuple[int, int]:
    with db.transaction() as session:
        first = add_step(session, StepText(0, "Welcome to {newsletter}", "Hello & welcome."))
        second = add_step(session, StepText(3, "Three days in", "How is it going?"))
        return first.id, second.id


def _confirmed_at(db: Database, moment: datetime) -> None:
    """Every reader confirmed by double opt-in at ``moment`` (their series starts then)."""
    with db.transaction() as session:
        session.execute(update(Subscriber).values(confirmed_at=moment, welcome_from=moment))


def _send(db: Database, settings: Settings) -> None:
    run_worker(db, settings, stop=threading.Event(), once=True)


def _to(mail: EmailMessage) -> str:
    return str(mail["To"].addresses[0].addr_spec)


def _receipts(db: Database) -> list[tuple[int, int]]:
    with db.transaction() as session:
        rows = session.execute(select(WelcomeReceipt.subscriber_id, WelcomeReceipt.step_id))
        return sorted((int(a), int(b)) for a, b in rows)


def _deliveries(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery)) or 0)


def test_step_one_next_round_step_two_after_its_delay(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, second = _steps(db)
    add_subscribers(db, 1)
    confirmed = utcnow() - timedelta(minutes=5)
    _confirmed_at(db, confirmed)

    queued = queue_due_steps(db, settings, confirmed + timedelta(minutes=1))
    assert [(q.step_id, q.readers) for q in queued] == [(first, 1)]
    _send(db, settings)
    mails = outbox_mails(tmp_path / "outbox")
    assert [m["Subject"] for m in mails] == [f"Welcome to {settings.newsletter_name}"]
    html = html_of(mails[0])
    assert "Hello &amp; welcome." in html
    assert "/preferences/" in html and "/unsubscribe/" in html
    assert "%%nl_" not in html
    assert "/archive/latest" in str(mails[0].get_body(("plain",)).get_content())  # type: ignore[union-attr]

    # Two days later: nothing new; three days later: step 2, and step 1 not again.
    assert queue_due_steps(db, settings, confirmed + timedelta(days=2)) == []
    queued = queue_due_steps(db, settings, confirmed + timedelta(days=3, minutes=1))
    assert [(q.step_id, q.readers) for q in queued] == [(second, 1)]
    _send(db, settings)
    subjects = [m["Subject"] for m in outbox_mails(tmp_path / "outbox")]
    assert sorted(subjects) == sorted([f"Welcome to {settings.newsletter_name}", "Three days in"])
    assert queue_due_steps(db, settings, confirmed + timedelta(days=4)) == []
    with db.transaction() as session:
        statuses = set(session.scalars(select(Campaign.status)))
        summaries = step_summaries(session)
    assert statuses == {CampaignStatus.SENT}
    assert [(s.step.id, s.readers, len(s.versions)) for s in summaries] == [
        (first, 1, 1),
        (second, 1, 1),
    ]


def test_a_sent_welcome_campaign_takes_new_readers_later(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _steps(db)
    add_subscribers(db, 1)
    queue_due_steps(db, settings)
    _send(db, settings)
    add_subscribers(db, 2, start=1)
    queue_due_steps(db, settings)
    with db.transaction() as session:
        assert session.scalars(select(Campaign.status)).all() == [CampaignStatus.SENDING]
    _send(db, settings)
    assert len(outbox_mails(tmp_path / "outbox")) == 3


def test_never_twice_in_two_rounds_or_two_workers(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, _ = _steps(db)
    add_subscribers(db, 40)
    queue_due_steps(db, settings)
    queue_due_steps(db, settings)
    add_subscribers(db, 40, start=40)
    assert race(db, lambda database: queue_due_steps(database, settings)) == []
    receipts = _receipts(db)
    assert len(receipts) == 80 and all(step == first for _, step in receipts)
    assert len(set(receipts)) == 80
    assert _deliveries(db) == 80
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_two_copies_racing_the_first_freeze_of_a_step(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing frozen yet: both copies find readers due and no campaign for the step's
    version; the second waits for the first and appends to its campaign, no crash."""
    settings = _settings(tmp_path)
    first, _ = _steps(db)
    add_subscribers(db, 30)
    meet_before(monkeypatch, welcome_queue, "freeze_step_version")
    assert race(db, lambda copy: queue_due_steps(copy, settings)) == []
    receipts = _receipts(db)
    assert len(receipts) == 30 and {step for _, step in receipts} == {first}
    assert _deliveries(db) == 30
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_a_reader_who_confirms_by_mail_gets_step_one(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, _ = _steps(db)
    form = SignupForm(address=parse_address("ana@example.org"), name="Ana", topics=[], form={})
    with db.transaction() as session:
        signup(session, form, Origin(source="web"), resend_after=timedelta(minutes=10))
    queue_due_steps(db, settings)
    assert welcomed(db, first) == []  # pending: not yet
    with db.transaction() as session:
        uid = session.scalars(select(Subscriber.uid)).one()
        confirm(session, uid, Origin(source="web"))
        reader = session.scalars(select(Subscriber)).one()
        assert reader.welcome_from is not None and reader.welcome_from == reader.confirmed_at
    queued = queue_due_steps(db, settings)
    assert [(q.step_id, q.readers) for q in queued] == [(first, 1)]
    assert welcomed(db, first) == ["ana@example.org"]


def test_readers_added_as_confirmed_get_the_series_only_when_asked(
    db: Database, tmp_path: Path
) -> None:
    """A CSV import, a hand add and an API-style batch add of confirmed readers: no welcome
    series, though they are active and just confirmed; with ``welcome`` they get it, from
    their confirmed moment (a CSV's old ``confirmed_at``/``created_at`` keeps it from them)."""
    settings = _settings(tmp_path)
    first, _ = _steps(db)
    old = (utcnow() - LATE_LIMIT - timedelta(days=1)).isoformat()

    def import_rows(prefix: str, welcome: bool) -> None:
        lines = [
            "email,confirmed_at,created_at",
            f"{prefix}-now@example.org,,",
            f"{prefix}-old@example.org,{old},",
            f"{prefix}-created@example.org,,{old}",
        ]
        options = ImportOptions(known_topics=(), confirmed=True, welcome=welcome)
        stream = io.StringIO("\n".join(lines) + "\n")
        assert import_csv(db, stream, source_name="t", options=options).errors == []

    import_rows("csv", welcome=False)
    import_rows("csvw", welcome=True)
    with db.transaction() as session:
        for email, welcome in (("cli@example.org", False), ("cliw@example.org", True)):
            new = NewSubscriber(email, confirmed=True, welcome=welcome)
            add_subscriber(session, new, known_topics=(), origin=Origin(source="test"))
        for email, welcome in (("api@example.org", False), ("apiw@example.org", True)):
            person = check_arrival(Arrival(email, "crm"), (), ascii_local_part=True)
            take_in(
                session,
                [person],
                confirmed=True,
                welcome=welcome,
                system="crm",
                resend_after=timedelta(minutes=10),
            )
        active = session.scalar(
            select(func.count()).select_from(Subscriber).where(Subscriber.status == "active")
        )
        assert active == 10
    queue_due_steps(db, settings)
    assert welcomed(db, first) == ["apiw@example.org", "cliw@example.org", "csvw-now@example.org"]


def test_not_after_unsubscribe_bounce_or_lapse(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, second = _steps(db)
    emails = add_subscribers(db, 4)
    confirmed = utcnow() - timedelta(days=4)
    _confirmed_at(db, confirmed)
    with db.transaction() as session:
        session.execute(
            update(Subscriber).where(Subscriber.email == emails[1]).values(status="unsubscribed")
        )
        suppress(session, emails[2], "bounced")
        session.execute(
            update(Subscriber).where(Subscriber.email == emails[3]).values(lapsed_at=utcnow())
        )
        reader = session.scalars(select(Subscriber.id).where(Subscriber.email == emails[0])).one()
    queue_due_steps(db, settings)
    assert _receipts(db) == [(reader, first), (reader, second)]
    _send(db, settings)
    assert {_to(m) for m in outbox_mails(tmp_path / "outbox")} == {emails[0]}


def test_queued_reader_who_leaves_before_the_send_is_skipped(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _steps(db)
    emails = add_subscribers(db, 2)
    queue_due_steps(db, settings)
    with db.transaction() as session:
        suppress(session, emails[1], "manual")
    _send(db, settings)
    assert [_to(m) for m in outbox_mails(tmp_path / "outbox")] == [emails[0]]


def test_readers_confirmed_before_the_series_are_not_flooded(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, second = _steps(db)
    add_subscribers(db, 1)
    now = utcnow()
    _confirmed_at(db, now - LATE_LIMIT - timedelta(days=1))  # day 0 step: 8 days late
    queued = queue_due_steps(db, settings, now)
    assert [q.step_id for q in queued] == [second]  # day 3 step: 5 days late, within the limit
    _confirmed_at(db, now - timedelta(days=400))
    with db.transaction() as session:
        session.execute(update(Subscriber).values(email="other@example.org"))
    assert queue_due_steps(db, settings, now) == []
    assert first not in [step for _, step in _receipts(db)]


def test_an_edit_is_a_new_version_and_nobody_gets_the_step_twice(
    db: Database, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    first, _ = _steps(db)
    add_subscribers(db, 1)
    queue_due_steps(db, settings)
    with db.transaction() as session:
        edit_step(session, first, StepText(0, "Welcome, take two", "New words."))
    add_subscribers(db, 1, start=1)
    queue_due_steps(db, settings)
    _send(db, settings)
    subjects = sorted(m["Subject"] for m in outbox_mails(tmp_path / "outbox"))
    assert subjects == sorted([f"Welcome to {settings.newsletter_name}", "Welcome, take two"])
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Variant)) == 2
        summary = step_summaries(session)[0]
    assert [(v.version, v.readers) for v in summary.versions] == [(1, 1), (2, 1)]


def test_a_disabled_step_queues_nobody(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, second = _steps(db)
    with db.transaction() as session:
        set_enabled(session, first, False)
        set_enabled(session, second, False)
    add_subscribers(db, 1)
    assert queue_due_steps(db, settings, utcnow() + timedelta(days=3)) == []
    assert _deliveries(db) == 0


def test_welcome_mails_are_not_issues_for_the_sunset_policy(db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _steps(db)
    add_subscribers(db, 1)
    queue_due_steps(db, settings)
    _send(db, settings)
    with db.transaction() as session:
        session.execute(update(Delivery).values(sent_at=utcnow() - timedelta(days=60)))
        policy = SunsetPolicy(issues=1, days=7, grace_days=7)
        assert session.execute(unengaged(policy, utcnow())).all() == []

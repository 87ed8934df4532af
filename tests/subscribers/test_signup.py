"""Double opt-in at the service level: who gets a confirmation mail, and what is written."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from newsletter.db import Database, utcnow
from newsletter.errors import NotFoundError
from subscribers.addresses import parse_address
from subscribers.fast_signup import record_signup
from subscribers.model import ConsentRecord, QueuedMail, Subscriber
from subscribers.preferences import Preferences, unsubscribe, update_preferences
from subscribers.signup import (
    ConfirmResult,
    Origin,
    SignupForm,
    SignupResult,
    confirm,
    retrying_unique,
    signup,
)
from subscribers.suppression import suppress

ORIGIN = Origin(ip="203.0.113.9", user_agent="Mozilla/5.0 test", source="web")
RESEND = timedelta(minutes=10)


def _form(email: str = "Ana.Lima@Example.COM", **kwargs: object) -> SignupForm:
    return SignupForm(
        address=parse_address(email),
        name=kwargs.get("name", "Ana"),  # type: ignore[arg-type]
        topics=kwargs.get("topics", ["europe"]),  # type: ignore[arg-type]
        form={"email": email, "name": "Ana", "topics": ["europe"]},
    )


def _counts(db: Database) -> tuple[int, int, int]:
    with db.transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(Subscriber)) or 0,
            session.scalar(select(func.count()).select_from(ConsentRecord)) or 0,
            session.scalar(select(func.count()).select_from(QueuedMail)) or 0,
        )


def _subscriber(db: Database) -> Subscriber:
    with db.transaction() as session:
        return session.scalars(select(Subscriber)).one()


def test_a_new_address_is_pending_with_consent_and_one_queued_mail(db: Database) -> None:
    with db.transaction() as session:
        assert signup(session, _form(), ORIGIN, resend_after=RESEND) is SignupResult.QUEUED
    row = _subscriber(db)
    assert (row.email, row.email_key) == ("Ana.Lima@example.com", "ana.lima@example.com")
    assert (row.status, row.name, row.topics, row.source) == ("pending", "Ana", ["europe"], "web")
    assert len(row.uid) >= 20 and row.uid != str(row.id)
    with db.transaction() as session:
        consent = session.scalars(select(ConsentRecord)).one()
        assert (consent.kind, consent.ip, consent.user_agent) == (
            "signup",
            "203.0.113.9",
            "Mozilla/5.0 test",
        )
        assert consent.form["email"] == "Ana.Lima@Example.COM"
        mail = session.scalars(select(QueuedMail)).one()
        assert (mail.kind, mail.status, mail.subscriber_id) == ("confirmation", "queued", row.id)


def test_a_pending_address_gets_another_mail_only_after_the_resend_interval(db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        signup(session, _form(), ORIGIN, resend_after=RESEND, now=now)
    with db.transaction() as session:
        later = now + timedelta(minutes=1)
        result = signup(
            session, _form("ana.lima@example.com"), ORIGIN, resend_after=RESEND, now=later
        )
        assert result is SignupResult.THROTTLED
    assert _counts(db) == (1, 2, 1)
    with db.transaction() as session:
        later = now + timedelta(minutes=11)
        result = signup(session, _form(), ORIGIN, resend_after=RESEND, now=later)
        assert result is SignupResult.QUEUED
    assert _counts(db) == (1, 3, 2)


def test_an_active_subscriber_gets_no_second_mail_and_nothing_is_written(db: Database) -> None:
    with db.transaction() as session:
        signup(session, _form(), ORIGIN, resend_after=RESEND)
    with db.transaction() as session:
        assert confirm(session, _subscriber(db).uid, ORIGIN) is ConfirmResult.CONFIRMED
    before = _counts(db)
    with db.transaction() as session:
        result = signup(session, _form(name="Mallory"), ORIGIN, resend_after=timedelta(0))
        assert result is SignupResult.ALREADY_ACTIVE
    assert _counts(db) == before
    assert _subscriber(db).name == "Ana"


def test_an_unsubscribed_address_must_confirm_again(db: Database) -> None:
    with db.transaction() as session:
        signup(session, _form(), ORIGIN, resend_after=RESEND)
    uid = _subscriber(db).uid
    with db.transaction() as session:
        confirm(session, uid, ORIGIN)
    with db.transaction() as session:
        assert unsubscribe(session, uid, ORIGIN) is True
    with db.transaction() as session:
        assert unsubscribe(session, uid, ORIGIN) is False  # idempotent
    with db.transaction() as session:
        result = signup(session, _form(), ORIGIN, resend_after=timedelta(0))
        assert result is SignupResult.QUEUED
    row = _subscriber(db)
    assert row.status == "pending"
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(QueuedMail)) == 2
        assert confirm(session, uid, ORIGIN) is ConfirmResult.CONFIRMED
    assert _subscriber(db).status == "active"


def test_a_suppressed_address_is_neither_written_nor_mailed(db: Database) -> None:
    with db.transaction() as session:
        suppress(session, "ana.lima@example.com", "complained")
    with db.transaction() as session:
        assert signup(session, _form(), ORIGIN, resend_after=RESEND) is SignupResult.SUPPRESSED
    assert _counts(db) == (0, 0, 0)


def test_confirming_is_idempotent_and_closed_after_unsubscribing(db: Database) -> None:
    with db.transaction() as session:
        signup(session, _form(), ORIGIN, resend_after=RESEND)
    uid = _subscriber(db).uid
    with db.transaction() as session:
        assert confirm(session, uid, ORIGIN) is ConfirmResult.CONFIRMED
    with db.transaction() as session:
        assert confirm(session, uid, ORIGIN) is ConfirmResult.ALREADY_ACTIVE
    row = _subscriber(db)
    assert row.confirmed_at is not None and row.confirmed_at.tzinfo is not None
    assert row.welcome_from == row.confirmed_at  # a double opt-in starts the welcome series
    with db.transaction() as session:
        unsubscribe(session, uid, ORIGIN)
    with db.transaction() as session:
        assert confirm(session, uid, ORIGIN) is ConfirmResult.CLOSED
    with db.transaction() as session, pytest.raises(NotFoundError):
        confirm(session, "no-such-uid", ORIGIN)


def test_preferences_change_choices_but_never_the_status(db: Database) -> None:
    with db.transaction() as session:
        signup(session, _form(), ORIGIN, resend_after=RESEND)
    uid = _subscriber(db).uid
    with db.transaction() as session:
        update_preferences(
            session,
            uid,
            Preferences(name="Ana L.", topics=["climate"], narratives="facts-only"),
            ORIGIN,
        )
    row = _subscriber(db)
    assert (row.name, row.topics, row.narratives, row.status) == (
        "Ana L.",
        ["climate"],
        "facts-only",
        "pending",
    )
    with db.transaction() as session:
        kinds = session.scalars(select(ConsentRecord.kind).order_by(ConsentRecord.id)).all()
    assert kinds == ["signup", "preferences"]


def test_a_lost_unique_key_race_is_retried_not_reported(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A second request for the same new address commits first; the first one retries."""
    if db.dialect != "postgresql":
        pytest.skip("needs row-level lock waits to force the race deterministically")
    address = parse_address("race@example.com")
    results: list[SignupResult | BaseException] = []

    def request() -> None:
        try:
            results.append(
                retrying_unique(
                    db,
                    lambda s: signup(s, _form("race@example.com"), ORIGIN, resend_after=RESEND),
                )
            )
        except BaseException as exc:  # reported by the assertion below
            results.append(exc)

    other = create_engine(db.engine.url)
    with other.connect() as connection:
        transaction = connection.begin()
        holder = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        connection.execute(
            insert(Subscriber.__table__).values(
                uid="winner",
                email=address.email,
                email_key=address.key,
                email_hash=address.digest,
                status="pending",
                topics=[],
                narratives="all",
                attributes={},
                created_at=utcnow(),
                confirmation_sent_at=utcnow(),
            )
        )
        with caplog.at_level(logging.INFO, logger="subscribers.signup"):
            thread = threading.Thread(target=request)
            thread.start()
            deadline = time.monotonic() + 10
            with db.engine.connect() as watcher:  # wait until the request waits on our row
                while time.monotonic() < deadline:
                    waiting = watcher.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE :holder = ANY(pg_blocking_pids(pid))"
                        ),
                        {"holder": holder},
                    ).scalar()
                    if waiting:
                        break
                    time.sleep(0.01)
                else:
                    pytest.fail("the signup never waited for the competing insert")
            transaction.commit()
            thread.join(10)
    other.dispose()
    assert results == [SignupResult.THROTTLED]
    assert "unique-key race lost" in caplog.text
    assert _counts(db) == (1, 1, 0)


def test_record_signup_takes_the_one_statement_path_only_for_new_addresses(db: Database) -> None:
    """On PostgreSQL a new address is one statement; everything else takes the general path.
    The outcome and the rows written are the same as :func:`signup`'s on both databases."""
    assert record_signup(db, _form(), ORIGIN, resend_after=RESEND) is SignupResult.QUEUED
    assert _counts(db) == (1, 1, 1)
    row = _subscriber(db)
    assert (row.email, row.email_key, row.status, row.topics, row.source) == (
        "Ana.Lima@example.com",
        "ana.lima@example.com",
        "pending",
        ["europe"],
        "web",
    )
    assert row.created_at.tzinfo is not None and row.confirmation_sent_at == row.created_at
    with db.transaction() as session:
        consent = session.scalars(select(ConsentRecord)).one()
        assert (consent.kind, consent.ip, consent.form["email"]) == (
            "signup",
            "203.0.113.9",
            "Ana.Lima@Example.COM",
        )
        mail = session.scalars(select(QueuedMail)).one()
        assert (mail.status, mail.subscriber_id, mail.attempts) == ("queued", row.id, 0)
    again = record_signup(db, _form("ana.lima@example.com"), ORIGIN, resend_after=RESEND)
    assert again is SignupResult.THROTTLED
    assert _counts(db) == (1, 2, 1)
    with db.transaction() as session:
        suppress(session, "bo@example.com", "bounced")
    blocked = record_signup(db, _form("bo@example.com"), ORIGIN, resend_after=RESEND)
    assert blocked is SignupResult.SUPPRESSED
    assert _counts(db) == (1, 2, 1)

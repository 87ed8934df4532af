"""The confirmation queue: drained into a real Maildir, retried, given up, shared safely."""

from __future__ import annotations

import email
import mailbox
import re
import threading
import time
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.tokens import Purpose, TokenSigner
from newsletter.transactional import ConfirmationMailer as PipelineMailer
from subscribers.addresses import parse_address
from subscribers.confirmations import (
    ConfirmationMailer,
    DrainReport,
    backoff,
    claim_batch,
    drain_confirmations,
)
from subscribers.model import QueuedMail, Subscriber
from subscribers.preferences import unsubscribe
from subscribers.signup import Origin, SignupForm, signup

SIGNER = TokenSigner("test-secret-key-0123456789abcdef")
PUBLIC = "https://news.example.org"


def _sign_up(db: Database, *emails: str) -> None:
    with db.transaction() as session:
        for address in emails:
            form = SignupForm(address=parse_address(address), name="Zoë")
            signup(session, form, Origin(), resend_after=timedelta(0))


def _drain(db: Database, mailer: ConfirmationMailer, max_attempts: int = 3) -> DrainReport:
    return drain_confirmations(
        db, mailer, signer=SIGNER, public_url=PUBLIC, max_attempts=max_attempts
    )


def _statuses(db: Database) -> list[tuple[str, int]]:
    with db.transaction() as session:
        return [
            (m.status, m.attempts)
            for m in session.scalars(select(QueuedMail).order_by(QueuedMail.id))
        ]


def test_drained_mail_lands_in_the_maildir_with_a_working_link(
    db: Database, tmp_path: Path
) -> None:
    _sign_up(db, "zoe@bücher.example", "ann@example.com")
    outbox = tmp_path / "outbox"
    mailer = PipelineMailer(Settings(outbox=outbox, public_url=PUBLIC))
    report = _drain(db, mailer)
    assert (report.sent, report.failed, report.retried) == (2, 0, 0)
    assert _statuses(db) == [("sent", 1), ("sent", 1)]
    maildir = mailbox.Maildir(outbox)
    messages = [
        email.message_from_bytes(maildir.get_bytes(key), policy=policy.default)
        for key in maildir.iterkeys()
    ]
    recipients = sorted(str(m["To"]) for m in messages)
    # on the wire an internationalised domain travels in its ASCII (IDNA) form
    assert recipients == ["Zoë <ann@example.com>", "Zoë <zoe@xn--bcher-kva.example>"]
    body = messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(rf"{re.escape(PUBLIC)}/confirm/[\w.-]+", body)
    assert found is not None
    url = found.group()
    token = url.removeprefix(f"{PUBLIC}/confirm/")
    assert SIGNER.verify(Purpose.CONFIRM, token, max_age=60)
    assert _drain(db, mailer).handled == 0


class FlakyMailer:
    """A mailer whose provider is down: every call fails like a refused connection."""

    def __init__(self) -> None:
        self.calls = 0

    def send_confirmation(self, email: str, name: str | None, confirm_url: str) -> None:
        self.calls += 1
        raise ConnectionRefusedError("provider unreachable")


def test_failures_are_retried_with_backoff_then_given_up(db: Database) -> None:
    _sign_up(db, "ann@example.com")
    mailer = FlakyMailer()
    report = _drain(db, mailer, max_attempts=2)
    assert (report.retried, report.failed) == (1, 0)
    with db.transaction() as session:
        mail = session.scalars(select(QueuedMail)).one()
        assert mail.status == "queued" and mail.attempts == 1
        assert mail.last_error == "ConnectionRefusedError: provider unreachable"
        assert mail.available_at > utcnow() + timedelta(seconds=20)
    assert _drain(db, mailer).handled == 0  # not due yet
    with db.transaction() as session:
        session.execute(update(QueuedMail).values(available_at=utcnow()))
    report = _drain(db, mailer, max_attempts=2)
    assert report.failed == 1
    assert _statuses(db) == [("failed", 2)]
    assert mailer.calls == 2


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(50) == timedelta(hours=1)


def test_mail_for_someone_who_left_meanwhile_is_skipped(db: Database, tmp_path: Path) -> None:
    _sign_up(db, "ann@example.com")
    with db.transaction() as session:
        uid = session.scalars(select(QueuedMail)).one().subscriber_id
        unsubscribe(session, session.get_one(Subscriber, uid).uid, Origin())
    mailer = FlakyMailer()
    assert _drain(db, mailer).skipped == 1
    assert mailer.calls == 0
    assert _statuses(db) == [("skipped", 1)]


def test_a_crashed_drain_is_reclaimed_after_its_lease(db: Database) -> None:
    _sign_up(db, "ann@example.com")
    now = utcnow()
    assert len(claim_batch(db, limit=10, now=now)) == 1  # ...and the process dies here
    assert claim_batch(db, limit=10, now=now + timedelta(minutes=1)) == []
    assert len(claim_batch(db, limit=10, now=now + timedelta(minutes=6))) == 1


def test_concurrent_drains_never_claim_the_same_mail(db: Database) -> None:
    _sign_up(db, *[f"reader{i}@example.com" for i in range(200)])
    claimed: list[list[int]] = [[], [], [], []]
    barrier = threading.Barrier(len(claimed))

    def drain(index: int) -> None:
        barrier.wait()
        while ids := claim_batch(db, limit=7, now=utcnow()):
            claimed[index].extend(ids)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(claimed))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [mail_id for ids in claimed for mail_id in ids]
    assert len(everything) == 200
    assert len(set(everything)) == 200


def test_a_drain_skips_rows_another_process_holds(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are PostgreSQL's")
    _sign_up(db, *[f"reader{i}@example.com" for i in range(8)])
    with db.engine.connect() as other:
        held = (
            other.execute(select(QueuedMail.id).order_by(QueuedMail.id).limit(5).with_for_update())
            .scalars()
            .all()
        )
        started = time.monotonic()
        claimed = claim_batch(db, limit=10, now=utcnow())
        assert time.monotonic() - started < 5  # did not wait for the other transaction
        other.rollback()
    assert len(held) == 5
    assert len(claimed) == 3
    assert not set(held) & set(claimed)

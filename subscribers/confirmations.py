"""Confirmation mails (and the sunset policy's "keep me subscribed" mails, and fresh
preferences links asked for): queued in the transaction that decided them, sent later by a
drain loop.

A signup request only writes rows; mail goes out from :func:`drain_confirmations`, run by
``newsletter serve`` in a background thread or by ``newsletter subscribers
send-confirmations``. So a slow or failing mail provider never slows or fails a signup, and
a signup that rolls back never leaves a mail behind.

The drain claims rows in one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)``
(atomic on SQLite too, where one writing statement holds the write lock), so any number of
processes can drain the same PostgreSQL queue. Each row is finished in its own small
transaction right after its mail, so a crash resends at most the rows of one claimed batch
whose lease then runs out: confirmation mail is *at least once*, which is harmless.

What sends the mail is a :class:`TransactionalMailer`: the render pipeline's templates
through the configured provider (:mod:`newsletter.transactional`) plugs in at this seam.
A mail is sent only if its subscriber still waits for it when its turn comes (a
confirmation: pending, or lapsed and asking back; a keep question: still mailable and
asked; a fresh link: still subscribed and not suppressed), else it is ``skipped``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from newsletter.db import Database, utcnow
from newsletter.tokens import TokenSigner
from subscribers.links import confirm_url, keep_url, preferences_url, unsubscribe_url
from subscribers.model import MailKind, QueuedMail, Subscriber
from subscribers.suppression import is_suppressed

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
LEASE = timedelta(minutes=5)


class ConfirmationMailer(Protocol):
    """Sends one confirmation mail now; raises on failure (any exception: retried later)."""

    def send_confirmation(self, email: str, name: str | None, confirm_url: str) -> None: ...


class TransactionalMailer(ConfirmationMailer, Protocol):
    """Also sends the sunset policy's "keep me subscribed" mail (one-click unsubscribe too)."""

    def send_keep(
        self,
        email: str,
        name: str | None,
        *,
        keep_url: str,
        preferences_url: str,
        unsubscribe_url: str,
    ) -> None: ...

    def send_fresh_link(
        self, email: str, name: str | None, *, preferences_url: str, unsubscribe_url: str
    ) -> None:
        """A fresh preferences link (:mod:`subscribers.fresh_links`)."""
        ...


@dataclass
class DrainReport:
    """What one drain did: mails sent, put back for a retry, given up, and skipped."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.skipped


def queue_confirmation(session: Session, subscriber_id: int, now: datetime) -> None:
    """Queue a confirmation mail for this subscriber, inside the caller's transaction."""
    queue_mail(session, "confirmation", subscriber_id, now)


def queue_mail(session: Session, kind: MailKind, subscriber_id: int, now: datetime) -> None:
    """Queue one transactional mail, inside the caller's transaction."""
    session.execute(
        insert(QueuedMail).values(
            kind=kind,
            subscriber_id=subscriber_id,
            status="queued",
            attempts=0,
            created_at=now,
            available_at=now,
        )
    )


def backoff(attempts: int) -> timedelta:
    """Wait before try ``attempts + 1``: 30 s, 1 min, 2 min … at most an hour."""
    return min(BACKOFF_BASE * (1 << min(max(attempts - 1, 0), 16)), BACKOFF_MAX)


def claim_batch(database: Database, *, limit: int, now: datetime) -> list[int]:
    """Mark up to ``limit`` due rows ``sending`` under a lease and return their ids."""
    due = or_(
        and_(QueuedMail.status == "queued", QueuedMail.available_at <= now),
        and_(QueuedMail.status == "sending", QueuedMail.locked_until < now),
    )
    candidates = select(QueuedMail.id).where(due).order_by(QueuedMail.id).limit(limit)
    if database.dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(QueuedMail)
        .where(QueuedMail.id.in_(candidates.scalar_subquery()), due)
        .values(status="sending", locked_until=now + LEASE, attempts=QueuedMail.attempts + 1)
        .returning(QueuedMail.id)
        .execution_options(synchronize_session=False)
    )
    with database.transaction() as session:
        return sorted(session.scalars(statement))


def drain_confirmations(
    database: Database,
    mailer: TransactionalMailer,
    *,
    signer: TokenSigner,
    public_url: str,
    max_attempts: int,
    batch_size: int = 50,
    now: datetime | None = None,
) -> DrainReport:
    """Send every due transactional mail; returns counts. Runs until the queue has none due."""
    report = DrainReport()
    while True:
        started = now or utcnow()
        ids = claim_batch(database, limit=batch_size, now=started)
        if not ids:
            return report
        for mail_id in ids:
            _send_one(database, mail_id, mailer, signer, public_url, max_attempts, report)


def _send_one(
    database: Database,
    mail_id: int,
    mailer: TransactionalMailer,
    signer: TokenSigner,
    public_url: str,
    max_attempts: int,
    report: DrainReport,
) -> None:
    with database.transaction() as session:
        mail = session.get(QueuedMail, mail_id)
        if mail is None or mail.status != "sending":
            return
        subscriber = session.get(Subscriber, mail.subscriber_id)
        kind = mail.kind
        why_not = _not_waiting(session, kind, subscriber)
        if why_not is not None or subscriber is None or subscriber.email is None:
            mail.status, mail.locked_until = "skipped", None
            mail.last_error = why_not or "the subscriber was erased"
            report.skipped += 1
            return
        email, name, uid = subscriber.email, subscriber.name, subscriber.uid
    # The mail goes out outside any transaction: no lock is held while a provider answers.
    try:
        if kind == "keep":
            mailer.send_keep(
                email,
                name,
                keep_url=keep_url(public_url, signer, uid),
                preferences_url=preferences_url(public_url, signer, uid),
                unsubscribe_url=unsubscribe_url(public_url, signer, uid),
            )
        elif kind == "fresh-link":
            mailer.send_fresh_link(
                email,
                name,
                preferences_url=preferences_url(public_url, signer, uid),
                unsubscribe_url=unsubscribe_url(public_url, signer, uid),
            )
        else:
            mailer.send_confirmation(email, name, confirm_url(public_url, signer, uid))
    except Exception as exc:
        _record_failure(database, mail_id, exc, max_attempts, report)
        return
    with database.transaction() as session:
        session.execute(
            update(QueuedMail)
            .where(QueuedMail.id == mail_id)
            .values(status="sent", sent_at=utcnow(), locked_until=None, last_error=None)
        )
    report.sent += 1


def _not_waiting(session: Session, kind: str, subscriber: Subscriber | None) -> str | None:
    """Why this subscriber no longer waits for a mail of this kind (None: they do)."""
    if subscriber is None or subscriber.email is None:
        return "the subscriber was erased"
    if kind == "keep":
        asked = subscriber.status == "active" and subscriber.lapsed_at is None
        if not asked or subscriber.reengage_sent_at is None:
            return "the subscriber answered, lapsed or left before the question went out"
        if subscriber.email_hash and is_suppressed(session, subscriber.email_hash):
            return "the address is suppressed"
        return None
    if kind == "fresh-link":
        if subscriber.status != "active":
            return "the subscriber left before the link went out"
        if subscriber.email_hash and is_suppressed(session, subscriber.email_hash):
            return "the address is suppressed"
        return None
    lapsed = subscriber.status == "active" and subscriber.lapsed_at is not None
    if subscriber.status != "pending" and not lapsed:
        return "the subscriber is no longer waiting for confirmation"
    return None


def _record_failure(
    database: Database, mail_id: int, exc: Exception, max_attempts: int, report: DrainReport
) -> None:
    reason = f"{type(exc).__name__}: {exc}"[:1000]
    with database.transaction() as session:
        mail = session.get(QueuedMail, mail_id)
        if mail is None:
            return
        if mail.attempts >= max_attempts:
            mail.status = "failed"
            report.failed += 1
            log.error(
                "transactional mail %s failed for good after %s tries: %s",
                mail_id,
                mail.attempts,
                reason,
            )
        else:
            mail.status = "queued"
            mail.available_at = utcnow() + backoff(mail.attempts)
            report.retried += 1
            log.warning(
                "transactional mail %s failed (try %s), will retry: %s",
                mail_id,
                mail.attempts,
                reason,
            )
        mail.locked_until = None
        mail.last_error = reason


class ConfirmationSender:
    """A background thread that drains the queue every ``interval`` seconds until stopped.

    ``newsletter serve`` runs one, so the embedded default sends confirmations with no
    extra process; a larger deployment can run ``newsletter subscribers send-confirmations
    --watch`` on other hosts as well (PostgreSQL lets them share the queue).
    """

    def __init__(
        self,
        database: Database,
        mailer: TransactionalMailer,
        *,
        signer: TokenSigner,
        public_url: str,
        max_attempts: int,
        interval: float = 2.0,
    ) -> None:
        self._drain: Callable[[], DrainReport] = lambda: drain_confirmations(
            database, mailer, signer=signer, public_url=public_url, max_attempts=max_attempts
        )
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="confirmations", daemon=True)

    def drain_once(self) -> DrainReport:
        """Send what is due now, in this thread (``send-confirmations``)."""
        return self._drain()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self._drain()
                if report.handled:
                    log.info(
                        "confirmations: %s sent, %s to retry, %s failed, %s skipped",
                        report.sent,
                        report.retried,
                        report.failed,
                        report.skipped,
                    )
            except Exception:  # the database may be briefly away: log, wait, try again
                log.exception("confirmation drain failed; retrying in %s s", self._interval)
            self._stop.wait(self._interval)

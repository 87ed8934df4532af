"""Poll the bounce mailbox: bounces and complaints for SMTP and outbox sends become events.

Each waiting message is read (:mod:`newsletter.deliverability.bounce_mail`), tied to a
delivery, recorded through :func:`campaigns.ingest.record_events` (the same events table,
suppression and soft-bounce streaks as SendGrid's webhook), then moved to ``processed``.
What cannot be read or classified, is over the size limit, or carries a forged return path
is moved to ``review`` with the reason logged: nothing is deleted, and no message stops a
poll. Events get ids made from the bounce's ``Message-ID`` (or its bytes) and the address, so
polling a message twice (a move that failed after its events were committed) records nothing
twice.

A report is tied to a delivery only by evidence we made and cannot be guessed: the VERP
return path it was mailed to (or that the reported message carried), whose signature is
checked, or the reported message's ``Message-ID`` (random, 128 bits) matching the one stored
for the delivery id it carried. Even then, as for SendGrid, only a failure that names the
delivery's recipient changes anybody (:mod:`campaigns.ingest`). One exception, for
complaints whose reporter hides the recipient (AOL, and Yahoo at times): when the signed
return path names the delivery and the report names no address at all, the complaint is
about that delivery's recipient.

Events from the mailbox are stored with ``source`` ``first-party`` (what we observed
ourselves rather than what a provider told us); ``raw.mailbox`` tells them from the pixel's.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from campaigns.events import REASON_LENGTH, EventRecord, EventType
from campaigns.ingest import IngestPolicy, record_events
from campaigns.linkmap import LinkIndexCache, url_expansions
from campaigns.model import Delivery
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.deliverability.bounce_mail import BounceReport, Failure, read_report
from newsletter.deliverability.mailboxes import (
    PROCESSED,
    REVIEW,
    BounceMailbox,
    MailboxError,
    MailItem,
)
from newsletter.deliverability.verp import ReturnPaths
from newsletter.errors import InvalidToken
from subscribers.model import Subscriber

log = logging.getLogger(__name__)

_TYPES: dict[str, EventType] = {
    "hard": "bounced",
    "soft": "bounced",
    "delayed": "deferred",
    "complaint": "complained",
}


class KeepForReview(Exception):
    """This message is not for automatic processing; ``str()`` says why."""


@dataclass
class PollResult:
    """What one poll did: messages seen, where they went, and the events they made."""

    messages: int = 0
    processed: int = 0
    reviewed: int = 0
    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Tie:
    """The delivery a report is about, and how we know (``verp`` or ``message-id``)."""

    delivery_id: int
    by: str


class BouncePoller:
    """Reads a bounce mailbox into events; one per process, polls one at a time."""

    def __init__(
        self, database: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.database = database
        self.return_paths = ReturnPaths.from_settings(settings)
        self.policy = IngestPolicy.from_settings(settings)
        self.links = LinkIndexCache(url_expansions(settings.public_url))
        self.max_bytes = settings.bounce_max_bytes
        self.clock = clock

    def poll(self, mailbox: BounceMailbox) -> PollResult:
        """Process every waiting message once; a mailbox or database failure raises (the
        message stays where it was, for the next poll)."""
        result = PollResult()
        for item in mailbox.waiting():
            result.messages += 1
            try:
                self._process(mailbox, item, result)
            except (SQLAlchemyError, MailboxError):
                raise  # not the message's fault: it stays for the next poll
            except Exception as exc:  # a bad message never stops the poll
                if not isinstance(exc, KeepForReview):
                    log.exception(
                        "bounce mailbox %s: message %s failed", mailbox.where, item.handle
                    )
                log.warning("bounce mailbox %s: message %s kept for review: %s",
                            mailbox.where, item.handle, exc)  # fmt: skip
                mailbox.move(item, REVIEW)
                result.reviewed += 1
                continue
            mailbox.move(item, PROCESSED)
            result.processed += 1
        return result

    def _process(self, mailbox: BounceMailbox, item: MailItem, result: PollResult) -> None:
        if item.size > self.max_bytes:
            raise KeepForReview(f"{item.size} bytes, over NEWSLETTER_BOUNCE_MAX_BYTES")
        data = mailbox.read(item)
        try:
            report = read_report(data, max_bytes=self.max_bytes)
        except Exception as exc:  # untrusted input: whatever the parsers raise, a person looks
            raise KeepForReview(f"unreadable ({type(exc).__name__}: {exc})") from exc
        if report.format == "auto-reply":
            log.info("bounce mailbox %s: message %s is an automatic reply: no bounce",
                     mailbox.where, item.handle)  # fmt: skip
            return
        if not report.failures:
            raise KeepForReview(report.reason or "no failure found")
        received = self.clock()
        with self.database.transaction() as session:
            tie = self._tie(session, report)
            records = [
                self._record(session, report, failure, tie, data, received, mailbox.where)
                for failure in report.failures
            ]
            outcome = record_events(session, records, self.policy, self.links)
        result.recorded += outcome.recorded
        result.duplicates += outcome.duplicates
        result.unmatched += outcome.unmatched

    def _tie(self, session: Session, report: BounceReport) -> _Tie | None:
        """The delivery the report is about, from evidence only we could have made."""
        named: set[int] = set()
        for address in report.return_paths:
            try:
                found = self.return_paths.delivery_id(address)
            except InvalidToken as exc:
                raise KeepForReview(f"forged or altered return path: {exc}") from exc
            if found is not None:
                named.add(found)
        if len(named) > 1:
            raise KeepForReview(f"return paths naming {len(named)} deliveries")
        if named:
            return _Tie(named.pop(), "verp")
        return _by_message_id(session, report)

    def _record(
        self,
        session: Session,
        report: BounceReport,
        failure: Failure,
        tie: _Tie | None,
        data: bytes,
        received: datetime,
        where: str,
    ) -> EventRecord:
        address = failure.address
        if address is None and tie is not None and tie.by == "verp":
            address = _recipient_of(session, tie.delivery_id)  # a redacted complaint
        kind = _TYPES[failure.kind]
        bounce_type = failure.kind if failure.kind in ("hard", "soft") else None
        dated = _when(report.date)
        return EventRecord(
            source="first-party",
            event_id=_event_id(report, failure, tie, data),
            type=kind,
            occurred_at=dated or received,
            received_at=received,
            replay_keeps_time=dated is not None,
            email=address,
            delivery_ref=tie.delivery_id if tie is not None else None,
            bounce_type=bounce_type,
            reason=_clip(failure.diagnostic),
            smtp_status=failure.status,
            raw=_raw(report, failure, tie, where),
        )


def _by_message_id(session: Session, report: BounceReport) -> _Tie | None:
    """The delivery id the reported message carried, if its stored Message-ID matches."""
    ref, message_id = report.original_delivery, report.original_message_id
    if not ref or not message_id or not ref.isascii() or not ref.isdigit() or len(ref) > 18:
        return None
    stored = session.scalar(select(Delivery.message_id).where(Delivery.id == int(ref)))
    if stored and _bare(stored) == _bare(message_id):
        return _Tie(int(ref), "message-id")
    return None


def _recipient_of(session: Session, delivery_id: int) -> str | None:
    return session.scalar(
        select(Subscriber.email)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.id == delivery_id)
    )


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


def _event_id(report: BounceReport, failure: Failure, tie: _Tie | None, data: bytes) -> str:
    """The same for the same report polled again (its Message-ID, else its bytes)."""
    origin = report.message_id or hashlib.sha256(data).hexdigest()
    delivery = tie.delivery_id if tie is not None else ""
    key = f"{origin}|{delivery}|{(failure.address or '').lower()}|{failure.kind}"
    return "mail:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _when(value: str | None) -> datetime | None:
    """The report's Date, in UTC; none when missing or unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clip(value: str | None) -> str | None:
    if value is None:
        return None
    return value if len(value) <= REASON_LENGTH else value[: REASON_LENGTH - 1] + "…"


def _raw(report: BounceReport, failure: Failure, tie: _Tie | None, where: str) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "mailbox": where,
        "format": report.format,
        "message_id": report.message_id,
        "subject": report.subject,
        "recipient": failure.address,
        "kind": failure.kind,
        "status": failure.status,
        "diagnostic": failure.diagnostic,
        "tied_by": tie.by if tie is not None else None,
    }
    if report.feedback_type:
        raw["feedback_type"] = report.feedback_type
    raw.update(report.extra)
    return {key: value for key, value in raw.items() if value is not None}

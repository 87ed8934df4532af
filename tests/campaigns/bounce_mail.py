"""Test helpers for the bounce mailbox: an issue sent to the outbox, corpus messages filled in
for its deliveries, and Maildir folders to put them in and count them."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.events import Event
from campaigns.sending import send_campaign
from newsletter.config import Settings
from newsletter.db import Database
from subscribers.model import Subscriber, Suppression
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign, outbox_mails
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "data" / "bounces"


@dataclass(frozen=True)
class Sent:
    """What one reader's outbox message carried: the evidence a bounce may name."""

    email: str
    delivery_id: int
    verp: str
    message_id: str


def outbox_settings(outbox: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"provider": "outbox", "outbox": outbox}
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def send_to_outbox(db: Database, settings: Settings) -> dict[str, Sent]:
    """Send a new campaign of the example briefs; what each reader's message carried."""
    before = {m["Message-ID"] for m in outbox_mails(settings.outbox)}
    report = send_campaign(db, settings, new_campaign(db))
    assert report.status == "sent", report.status_reason
    return {
        m["To"].addresses[0].addr_spec: _sent(m)
        for m in outbox_mails(settings.outbox)
        if m["Message-ID"] not in before
    }


def _sent(message: EmailMessage) -> Sent:
    verp = str(message["Return-Path"]).strip("<>")
    return Sent(
        message["To"].addresses[0].addr_spec,
        int(message["X-Newsletter-Nl-Delivery"]),
        verp,
        str(message["Message-ID"]),
    )


@pytest.fixture
def readers(db: Database, tmp_path: Path) -> list[Sent]:
    """Ten readers of an issue sent through the outbox, in address order."""
    import_examples(db)
    addresses = add_subscribers(db, 10)
    sent = send_to_outbox(db, outbox_settings(tmp_path / "outbox"))
    return [sent[a] for a in addresses]


def corpus(name: str, sent: Sent, **changes: str) -> bytes:
    """Corpus message ``name`` about ``sent`` (``changes`` override the markers' values)."""
    values = {
        "VERP": sent.verp,
        "RCPT": sent.email,
        "MESSAGE_ID": sent.message_id,
        "DELIVERY": str(sent.delivery_id),
    }
    values.update(changes)
    data = (CORPUS / name).read_bytes()
    for marker, value in values.items():
        data = data.replace(f"{{{{{marker}}}}}".encode(), value.encode())
    return data


def bounce_maildir(path: Path, *messages: bytes) -> Path:
    box = mailbox.Maildir(path, create=True)
    for data in messages:
        box.add(data)
    return path


def folder_count(path: Path, folder: str | None = None) -> int:
    """Messages in the Maildir (``folder`` None) or in its Maildir++ sub-folder."""
    root = path if folder is None else path / f".{folder}"
    return sum(1 for sub in ("new", "cur") for f in (root / sub).glob("*") if f.is_file())


def statuses(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {s.email or "": s.status for s in session.scalars(select(Subscriber))}


def suppressed(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {s.email_hash: s.reason for s in session.scalars(select(Suppression))}


def mailbox_events(db: Database) -> list[Event]:
    with db.transaction() as session:
        events = list(session.scalars(select(Event).where(Event.event_id.like("mail:%"))))
        session.expunge_all()
        return events

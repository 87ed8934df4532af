"""The data-protection duties: give a person everything we hold on them, or erase them.

Erasing keeps the subscriber row (so a campaign's counts stay right) but empties every field
that describes the person, deletes their consent records and queued mail, and puts the
SHA-256 of the address on the suppression list so it is never mailed again, even if it
turns up in a later import.

The outbound webhook messages that name a person are this package's share too
(:mod:`subscribers.webhook_personal_data`). Other packages hold personal data as well (the
campaigns package: tracking events, engagement, welcome receipts); they add it to both
duties with :func:`register_personal_data`, so that this module needs to know nothing
about them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from subscribers.addresses import parse_address
from subscribers.directory import consent_history
from subscribers.model import ConsentRecord, QueuedMail, Subscriber, Suppression
from subscribers.suppression import suppress
from subscribers.webhook_personal_data import erase_webhook_messages, export_webhook_messages


@dataclass(frozen=True, slots=True)
class PersonalDataSection:
    """One kind of personal data: how to export it (JSON-able) and how to erase it."""

    name: str
    export: Callable[[Session, Subscriber], Any]
    erase: Callable[[Session, Subscriber], None]


_SECTIONS: dict[str, PersonalDataSection] = {}


def register_personal_data(section: PersonalDataSection) -> None:
    _SECTIONS[section.name] = section


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def _subscriber_data(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "topics": list(subscriber.topics),
        "narratives": subscriber.narratives,
        "time_zone": subscriber.time_zone,
        "attributes": dict(subscriber.attributes),
        "source": subscriber.source,
        "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "welcome_from": _iso(subscriber.welcome_from),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
    }


def _export_consent(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    records = consent_history(session, subscriber)
    return [
        {
            "kind": r.kind,
            "at": _iso(r.at),
            "ip": r.ip,
            "user_agent": r.user_agent,
            "source": r.source,
            "form": r.form,
        }
        for r in records
    ]


def _erase_consent(session: Session, subscriber: Subscriber) -> None:
    session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber.id))


def _export_mail(session: Session, subscriber: Subscriber) -> list[dict[str, Any]]:
    mails = session.scalars(
        select(QueuedMail).where(QueuedMail.subscriber_id == subscriber.id).order_by(QueuedMail.id)
    )
    return [
        {
            "kind": m.kind,
            "status": m.status,
            "queued_at": _iso(m.created_at),
            "sent_at": _iso(m.sent_at),
        }
        for m in mails
    ]


def _erase_mail(session: Session, subscriber: Subscriber) -> None:
    session.execute(delete(QueuedMail).where(QueuedMail.subscriber_id == subscriber.id))


register_personal_data(PersonalDataSection("consent_records", _export_consent, _erase_consent))
register_personal_data(PersonalDataSection("confirmation_mails", _export_mail, _erase_mail))
register_personal_data(
    PersonalDataSection("webhook_messages", export_webhook_messages, erase_webhook_messages)
)


def export_personal_data(session: Session, email: str) -> dict[str, Any]:
    """Everything held about the owner of ``email``, as JSON-able data."""
    address = parse_address(email)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == address.key))
    suppression = session.get(Suppression, address.digest)
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "address": address.email,
        "suppressed": None
        if suppression is None
        else {"reason": suppression.reason, "at": _iso(suppression.at)},
        "subscriber": None,
    }
    if subscriber is not None:
        data["subscriber"] = _subscriber_data(subscriber)
        for name, section in _SECTIONS.items():
            data[name] = section.export(session, subscriber)
    return data


class EraseResult(StrEnum):
    ERASED = "erased"  # a subscriber was anonymised and the address suppressed
    ALREADY_ERASED = "already-erased"  # nothing left to erase
    NOT_FOUND = "not-found"  # no subscriber: the address is suppressed all the same


def erase_subscriber(session: Session, email: str) -> EraseResult:
    """Anonymise the subscriber with this address and suppress the address for good."""
    address = parse_address(email)
    subscriber = session.scalar(
        select(Subscriber).where(Subscriber.email_key == address.key).with_for_update()
    )
    if subscriber is None:
        existing = session.get(Suppression, address.digest)
        if existing is not None and existing.reason == "erased":
            return EraseResult.ALREADY_ERASED
        suppress(session, address, "erased")
        return EraseResult.NOT_FOUND
    for section in _SECTIONS.values():
        section.erase(session, subscriber)
    suppress(session, address, "erased")
    now = utcnow()
    subscriber.email = subscriber.email_key = subscriber.email_hash = None
    subscriber.name = subscriber.source = subscriber.time_zone = None
    subscriber.topics, subscriber.attributes = [], {}
    subscriber.status = (
        "unsubscribed" if subscriber.status in ("pending", "active") else subscriber.status
    )
    subscriber.unsubscribed_at = subscriber.unsubscribed_at or now
    subscriber.erased_at = now
    return EraseResult.ERASED

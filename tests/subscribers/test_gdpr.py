"""Export everything held on a person; erase them and keep only a suppression hash."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from newsletter.db import Database
from newsletter.errors import ConflictError, NotFoundError
from subscribers.addresses import email_digest, parse_address
from subscribers.directory import NewSubscriber, add_subscriber, find_by_email, list_subscribers
from subscribers.gdpr import EraseResult, erase_subscriber, export_personal_data
from subscribers.model import ConsentRecord, QueuedMail, Subscriber, Suppression
from subscribers.signup import Origin, SignupForm, SignupResult, confirm, signup

ORIGIN = Origin(ip="198.51.100.7", user_agent="Firefox", source="web")


def _signed_up(db: Database) -> str:
    with db.transaction() as session:
        form = SignupForm(
            address=parse_address("Ana@Example.com"),
            name="Ana",
            topics=["europe"],
            form={"x": 1},
            time_zone="Europe/Lisbon",
        )
        signup(session, form, ORIGIN, resend_after=timedelta(0))
        uid = find_by_email(session, "ana@example.com").uid
        confirm(session, uid, ORIGIN)
    return uid


def test_export_holds_the_subscriber_their_consent_and_mail(db: Database) -> None:
    _signed_up(db)
    with db.transaction() as session:
        data = export_personal_data(session, "ANA@example.com")
    json.dumps(data)  # JSON-able as it is
    assert data["subscriber"]["email"] == "Ana@example.com"
    assert data["subscriber"]["status"] == "active"
    assert data["subscriber"]["time_zone"] == "Europe/Lisbon"  # where someone lives, roughly
    assert [r["kind"] for r in data["consent_records"]] == ["signup", "confirm"]
    assert data["consent_records"][0]["ip"] == "198.51.100.7"
    assert data["consent_records"][0]["form"] == {"x": 1}
    assert [m["kind"] for m in data["confirmation_mails"]] == ["confirmation"]
    assert data["suppressed"] is None


def test_erase_anonymises_and_suppresses_for_good(db: Database) -> None:
    uid = _signed_up(db)
    with db.transaction() as session:
        assert erase_subscriber(session, "ana@example.com") is EraseResult.ERASED
    with db.transaction() as session:
        row = session.scalars(select(Subscriber).where(Subscriber.uid == uid)).one()
        assert (row.email, row.email_key, row.email_hash, row.name, row.source) == (None,) * 5
        assert (row.topics, row.attributes, row.status) == ([], {}, "unsubscribed")
        assert row.time_zone is None
        assert row.erased_at is not None
        assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 0
        assert session.scalar(select(func.count()).select_from(QueuedMail)) == 0
        suppression = session.get_one(Suppression, email_digest("ana@example.com"))
        assert suppression.reason == "erased"
        with pytest.raises(NotFoundError):
            find_by_email(session, "ana@example.com")
        assert list_subscribers(session) == []
        assert erase_subscriber(session, "ana@example.com") is EraseResult.ALREADY_ERASED
        data = export_personal_data(session, "ana@example.com")
        assert data["subscriber"] is None and data["suppressed"]["reason"] == "erased"
    with db.transaction() as session:  # never again: not by signup, not by hand
        form = SignupForm(address=parse_address("ana@example.com"))
        assert signup(session, form, ORIGIN, resend_after=timedelta(0)) is SignupResult.SUPPRESSED
        with pytest.raises(ConflictError, match="suppression list"):
            add_subscriber(
                session, NewSubscriber("ana@example.com"), known_topics=(), origin=ORIGIN
            )


def test_erasing_an_unknown_address_still_suppresses_it(db: Database) -> None:
    with db.transaction() as session:
        assert erase_subscriber(session, "nobody@example.com") is EraseResult.NOT_FOUND
    with db.transaction() as session:
        assert session.get(Suppression, email_digest("nobody@example.com")) is not None


def test_adding_by_hand_needs_confirmation_unless_told_otherwise(db: Database) -> None:
    with db.transaction() as session:
        pending = add_subscriber(
            session,
            NewSubscriber("bo@example.com", name="Bo", topics=["Europe"]),
            known_topics={"europe"},
            origin=ORIGIN,
        )
        active = add_subscriber(
            session, NewSubscriber("cy@example.com", confirmed=True), known_topics=(), origin=ORIGIN
        )
        assert (pending.status, pending.topics, active.status) == ("pending", ["europe"], "active")
        assert session.scalar(select(func.count()).select_from(QueuedMail)) == 1
        with pytest.raises(ConflictError, match="already a subscriber"):
            add_subscriber(session, NewSubscriber("BO@example.com"), known_topics=(), origin=ORIGIN)

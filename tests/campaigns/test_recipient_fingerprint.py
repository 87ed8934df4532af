"""A delivery keeps a fingerprint of its recipient's address (the freeze copies it, erasure
clears it, migration 0040 fills it for deliveries made before): the webhook ingest ties an
event naming an address by it, without reading the subscriber, and reads the subscriber's
full digest before an event may change anyone. On SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, update

from campaigns.model import FINGERPRINT_LENGTH, Delivery
from campaigns.sending import send_campaign
from newsletter.db import Database
from newsletter.migrate import alembic_config
from subscribers.addresses import email_digest
from subscribers.gdpr import erase_subscriber, export_personal_data
from subscribers.model import Subscriber, Suppression
from tests.campaigns.helpers import (
    add_subscribers,
    frozen_recipients,
    import_examples,
    new_campaign,
    sendgrid_settings,
)
from tests.campaigns.webhooks import event, ingest, recipients_of
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.schema import schema_differences


def fingerprints(db: Database) -> dict[str | None, str | None]:
    """Per delivery, by its subscriber's address: the delivery's fingerprint."""
    with db.transaction() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.recipient_fingerprint).join(
                Subscriber, Subscriber.id == Delivery.subscriber_id
            )
        ).all()
    return {email: fingerprint for email, fingerprint in rows}


def sent(db: Database, server: FakeSendGrid) -> int:
    campaign_id = new_campaign(db)
    report = send_campaign(db, sendgrid_settings(server), campaign_id)
    assert report.status == "sent", report.status_reason
    return campaign_id


def test_the_freeze_copies_each_recipients_fingerprint(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 4)
    assert frozen_recipients(db, sendgrid_server) == set(addresses)
    assert fingerprints(db) == {a: email_digest(a)[:FINGERPRINT_LENGTH] for a in addresses}


def test_erasure_clears_it_and_events_naming_the_address_are_no_longer_tied(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    gone, kept = add_subscribers(db, 2)
    campaign_id = sent(db, sendgrid_server)
    to = recipients_of(sendgrid_server, campaign_id)
    with db.transaction() as session:
        exported = export_personal_data(session, gone)["deliveries"]
    assert [(d["campaign_id"], d["status"]) for d in exported] == [(campaign_id, "sent")]
    with db.transaction() as session:
        erase_subscriber(session, gone)
    assert fingerprints(db) == {None: None, kept: email_digest(kept)[:FINGERPRINT_LENGTH]}

    result = ingest(db, [event(to[gone], "open"), event(to[kept], "open")])
    assert (result.recorded, result.unmatched) == (2, 1)


def test_a_fingerprint_match_alone_changes_nobody(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    """As if another address's digest began like the recipient's (once in 2**64): its event
    is tied and counted, but suppresses nobody, since the recipient's full digest differs."""
    import_examples(db)
    reader, victim = add_subscribers(db, 2)
    ours = recipients_of(sendgrid_server, sent(db, sendgrid_server))[reader]
    with db.transaction() as session:
        reader_id = session.scalar(select(Subscriber.id).where(Subscriber.email == reader))
        session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id == reader_id)
            .values(recipient_fingerprint=email_digest(victim)[:FINGERPRINT_LENGTH])
        )
    bounce = event(ours, "bounce", type="bounce", reason="550 5.1.1 unknown", email=victim)
    result = ingest(db, [bounce, event(ours, "spamreport", email=victim)])
    assert (result.recorded, result.unmatched) == (2, 0)
    with db.transaction() as session:
        assert session.scalars(select(Suppression)).all() == []
        assert set(session.scalars(select(Subscriber.status))) == {"active"}


def test_0040_fills_the_fingerprints_of_earlier_deliveries_and_goes_back(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    gone, *kept = add_subscribers(db, 3)
    frozen_recipients(db, sendgrid_server)
    with db.transaction() as session:
        erase_subscriber(session, gone)
    before = fingerprints(db)
    assert before == {None: None, **{a: email_digest(a)[:FINGERPRINT_LENGTH] for a in kept}}
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0039")

    assert "0040" in db.upgrade()
    assert schema_differences(db) == []
    assert fingerprints(db) == before
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0039")
    db.upgrade()

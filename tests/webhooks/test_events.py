"""Events are queued where the change happens, in its transaction: a subscriber confirms,
unsubscribes, bounces or complains; a campaign starts and is sent (delivered by the
worker's round). A rolled-back change queues nothing."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign, Delivery
from campaigns.sending import run_worker, send_campaign
from campaigns.unknowns import resend_quarantined
from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import StepText, add_step
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.webhooks.endpoints import NewEndpoint
from newsletter.webhooks.model import EVENT_TYPES, MessageStatus, WebhookMessage
from subscribers.addresses import parse_address
from subscribers.model import Subscriber
from subscribers.preferences import unsubscribe
from subscribers.signup import Origin, confirm
from subscribers.suppression import suppress, suppress_many
from tests.campaigns.helpers import (
    add_subscribers,
    import_examples,
    new_campaign,
    sendgrid_settings,
)
from tests.campaigns.webhooks import event, ingest, recipients_of
from tests.fakes.fixtures import sendgrid_server  # noqa: F401  (a fixture)
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.subscribers.conftest import add_subscriber
from tests.webhooks.conftest import register
from tests.webhooks.receiver import Receiver

ORIGIN = Origin(source="test")


def _payloads(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        return list(session.scalars(select(WebhookMessage.payload).order_by(WebhookMessage.id)))


def test_confirm_and_unsubscribe_queue_their_events(db: Database, endpoint: NewEndpoint) -> None:
    with db.transaction() as session:
        uid = add_subscriber(session, "Ann@Example.org", status="pending").uid
    with db.transaction() as session:
        confirm(session, uid, ORIGIN)
    with db.transaction() as session:
        confirm(session, uid, ORIGIN)  # already active: nothing new to report
        unsubscribe(session, uid, ORIGIN)
    confirmed, unsubscribed = _payloads(db)
    assert confirmed["type"] == "subscriber.confirmed"
    assert confirmed["data"] | {"at": None} == {
        "subscriber_uid": uid,
        "email": "Ann@example.org",
        "status": "active",
        "at": None,
    }
    assert unsubscribed["type"] == "subscriber.unsubscribed"
    assert unsubscribed["data"]["status"] == "unsubscribed"


def test_a_rolled_back_change_queues_nothing(db: Database, endpoint: NewEndpoint) -> None:
    with db.transaction() as session:
        uid = add_subscriber(session, "ann@example.org").uid
    with pytest.raises(RuntimeError), db.transaction() as session:
        assert unsubscribe(session, uid, ORIGIN)
        assert session.scalars(select(WebhookMessage)).all(), "queued inside the transaction"
        raise RuntimeError("the change fails after the event was queued")
    assert _payloads(db) == []
    with db.transaction() as session:
        status = session.scalars(select(Subscriber.status).where(Subscriber.uid == uid)).one()
    assert status == "active"


def test_bounces_and_complaints_queue_theirs_and_erasure_nothing(
    db: Database, endpoint: NewEndpoint
) -> None:
    with db.transaction() as session:
        for name in ("bo", "co", "er", "gone"):
            add_subscriber(session, f"{name}@example.org")
        add_subscriber(session, "left@example.org", status="unsubscribed")
    with db.transaction() as session:
        suppress_many(
            session,
            [
                (parse_address("bo@example.org"), "bounced"),
                (parse_address("co@example.org"), "complained"),
                (parse_address("left@example.org"), "bounced"),  # not subscribed: no event
            ],
        )
        suppress(session, "gone@example.org", "bounced")
        suppress(session, "er@example.org", "erased")
    found = {(p["type"], p["data"]["email"]) for p in _payloads(db)}
    assert found == {
        ("subscriber.bounced", "bo@example.org"),
        ("subscriber.complained", "co@example.org"),
        ("subscriber.bounced", "gone@example.org"),
    }


def test_campaign_started_and_sent_are_delivered_by_the_worker(
    db: Database, receiver: Receiver, endpoint: NewEndpoint, tmp_path: Path
) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = new_campaign(db)
    settings = Settings(
        outbox=tmp_path / "outbox",
        webhooks_allow_private_addresses=True,
        webhook_timeout_seconds=2,
        worker_poll_seconds=0.1,
    )
    freeze_campaign(db, campaign_id, settings)
    assert [p["type"] for p in _payloads(db)] == ["campaign.started"]
    run_worker(db, settings, stop=threading.Event(), once=True)
    with db.transaction() as session:
        statuses = set(session.scalars(select(WebhookMessage.status)))
    assert statuses == {MessageStatus.DELIVERED}
    bodies = [Webhook(endpoint.secret).verify(r.body, r.headers) for r in receiver.received]
    # sent in parallel: the order of arrival is not promised (docs/webhooks.md)
    assert sorted(b["type"] for b in bodies) == ["campaign.sent", "campaign.started"]
    assert {b["data"]["campaign_id"] for b in bodies} == {campaign_id}
    assert all(b["data"]["name"] for b in bodies)


def _one_unknown(db: Database, campaign_id: int) -> None:
    """One of the campaign's sent rows becomes unknown an hour ago, and the campaign allows
    unknown rows to be resent after a minute."""
    with db.transaction() as session:
        first = session.scalars(
            select(Delivery.id).where(Delivery.campaign_id == campaign_id).limit(1)
        ).one()
        session.execute(
            update(Delivery)
            .where(Delivery.id == first)
            .values(status="unknown", updated_at=utcnow() - timedelta(hours=1))
        )
        session.get_one(Campaign, campaign_id).retry_unknown_after = 1


@pytest.mark.parametrize("how", ["retry-unknown", "quarantine"])
def test_a_campaign_finishing_again_is_reported_sent_once(
    db: Database, endpoint: NewEndpoint, tmp_path: Path, how: str
) -> None:
    """``send --retry-unknown`` and the quarantine resend reopen a sent campaign; when it
    finishes again, neither campaign.started nor campaign.sent is queued again."""
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = new_campaign(db)
    settings = Settings(outbox=tmp_path / "outbox", webhooks_allow_private_addresses=True)
    assert send_campaign(db, settings, campaign_id).status == "sent"
    for _ in range(2):
        _one_unknown(db, campaign_id)
        if how == "retry-unknown":
            assert send_campaign(db, settings, campaign_id, retry_unknown=True).status == "sent"
        else:
            assert resend_quarantined(db, 0) == 1
            run_worker(db, settings, stop=threading.Event(), once=True)
        with db.transaction() as session:
            assert session.get_one(Campaign, campaign_id).status == "sent"
    assert [p["type"] for p in _payloads(db)] == ["campaign.started", "campaign.sent"]


def test_welcome_series_campaigns_report_neither_start_nor_sent(
    db: Database, endpoint: NewEndpoint, tmp_path: Path
) -> None:
    """A welcome step's campaign finishes each time its readers so far are sent and takes
    new ones later: it is evergreen, so it reports neither (docs/webhooks.md)."""
    settings = Settings(outbox=tmp_path / "outbox", webhooks_allow_private_addresses=True)
    with db.transaction() as session:
        add_step(session, StepText(0, "Welcome", "Hello."))
    for round_ in range(3):
        add_subscribers(db, 2, start=2 * round_)
        assert queue_due_steps(db, settings)
        run_worker(db, settings, stop=threading.Event(), once=True)
        with db.transaction() as session:
            assert set(session.scalars(select(Campaign.status))) == {"sent"}
    assert not [p for p in _payloads(db) if p["type"].startswith("campaign.")]


def test_sendgrid_bounces_complaints_and_unsubscribes_are_reported(
    db: Database,
    sendgrid_server: FakeSendGrid,  # noqa: F811
    receiver: Receiver,
) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 4)
    campaign_id = new_campaign(db)
    assert send_campaign(db, sendgrid_settings(sendgrid_server), campaign_id).status == "sent"
    subscriber_events = [e for e in EVENT_TYPES if e.startswith("subscriber.")]
    register(db, receiver.url, subscriber_events)
    to = recipients_of(sendgrid_server, campaign_id)
    r = [to[a] for a in addresses]
    events = [
        event(r[0], "bounce", type="bounce", reason="550 5.1.1 no such user", status="5.1.1"),
        event(r[1], "spamreport"),
        event(r[2], "unsubscribe"),
        event(r[3], "bounce", type="blocked", reason="421 try later"),  # soft: nothing yet
    ]
    ingest(db, events)
    found = {(p["type"], p["data"]["email"]) for p in _payloads(db)}
    assert found == {
        ("subscriber.bounced", addresses[0]),
        ("subscriber.complained", addresses[1]),
        ("subscriber.unsubscribed", addresses[2]),
    }

"""Delivery against a real receiver on loopback: it fails, times out, then recovers; each
attempt is signed (Standard Webhooks) with the same id; backoff; a day's limit; both
databases."""

from __future__ import annotations

import json
import ssl
import time
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.webhooks.deadline import DeadlineTransport
from newsletter.webhooks.endpoints import NewEndpoint, delivery_log, retry_now, set_enabled
from newsletter.webhooks.model import EventType, MessageStatus, WebhookMessage
from newsletter.webhooks.queue import queue_event
from newsletter.webhooks.sender import RETRY_DELAYS, RETRY_WINDOW, WebhookSender
from tests.fakes.smtp_server import Certificate
from tests.webhooks.conftest import Clock, register
from tests.webhooks.receiver import DRIP, DRIP_HEADERS, TIMEOUT, Receiver

DATA = {"subscriber_uid": "u1", "email": "ann@example.org", "status": "active", "at": "x"}


def _queue(
    db: Database, clock: Clock | None = None, event: EventType = EventType.SUBSCRIBER_CONFIRMED
) -> int:
    with db.transaction() as session:
        return queue_event(session, event, DATA, now=clock() if clock else None)


def _message(db: Database) -> WebhookMessage:
    with db.transaction() as session:
        return session.scalars(select(WebhookMessage)).one()


def test_fails_times_out_then_delivers_signed_with_backoff(
    db: Database, settings: Settings, receiver: Receiver, endpoint: NewEndpoint, clock: Clock
) -> None:
    receiver.script = [500, TIMEOUT, 200]
    assert _queue(db, clock) == 1
    sender = WebhookSender(db, settings, clock=clock)
    try:
        first = sender.send_due()
        assert (first.delivered, first.retrying) == (0, 1)
        message = _message(db)
        assert message.status == MessageStatus.PENDING
        assert message.last_status_code == 500
        assert message.last_response == "answer 500 <b>from the receiver</b>"
        assert message.next_attempt_at == clock.now + RETRY_DELAYS[0]

        clock.advance(seconds=4)  # not due yet: nothing is sent
        assert sender.send_due().attempted == 0 and len(receiver.received) == 1

        clock.advance(seconds=1)
        second = sender.send_due()
        assert second.retrying == 1 and "timed out" in second.errors[0]
        message = _message(db)
        assert message.last_status_code is None and "timed out" in (message.last_error or "")
        assert message.next_attempt_at == clock.now + RETRY_DELAYS[1]

        clock.advance(minutes=5)
        assert sender.send_due().delivered == 1
    finally:
        sender.close()

    message = _message(db)
    assert message.status == MessageStatus.DELIVERED and message.attempts == 3
    assert message.delivered_at == clock.now and message.last_error is None
    assert len(receiver.received) == 3
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {message.msg_id}, "every attempt carries the same webhook-id"
    last = receiver.received[-1]
    assert last.headers["content-type"] == "application/json"
    body = Webhook(endpoint.secret).verify(last.body, last.headers)
    assert body["type"] == "subscriber.confirmed" and body["data"] == DATA
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(last.body.replace(b"ann@", b"bob@"), last.headers)
    with db.transaction() as session:
        (row,) = delivery_log(session)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)
    assert row.last_response == "answer 200 <b>from the receiver</b>"


def test_gives_up_a_day_after_it_was_queued(
    db: Database, settings: Settings, receiver: Receiver, endpoint: NewEndpoint, clock: Clock
) -> None:
    receiver.script = [503] * 50
    _queue(db, clock)
    created = _message(db).created_at
    sender = WebhookSender(db, settings, clock=clock)
    times = []
    try:
        while _message(db).status == MessageStatus.PENDING:
            clock.now = max(clock.now, _message(db).next_attempt_at)
            times.append(clock.now)
            sender.send_due()
    finally:
        sender.close()
    message = _message(db)
    assert message.status == MessageStatus.FAILED and message.last_status_code == 503
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert gaps[: len(RETRY_DELAYS)] == list(RETRY_DELAYS)
    assert times[-1] == created + RETRY_WINDOW, "the last attempt is a day after queueing"
    assert message.attempts == len(times) == len(RETRY_DELAYS) + 2
    assert len(receiver.received) == len(times)

    with db.transaction() as session:  # retry now: one more attempt, and it is delivered
        retry_now(session, message.id, now=clock.now)
    receiver.script = []
    sender = WebhookSender(db, settings, clock=clock)
    try:
        assert sender.send_due().delivered == 1
    finally:
        sender.close()


def test_redirects_are_not_followed_and_disabled_endpoints_wait(
    db: Database, settings: Settings, receiver: Receiver, endpoint: NewEndpoint, clock: Clock
) -> None:
    receiver.script = [302]
    _queue(db, clock)
    sender = WebhookSender(db, settings, clock=clock)
    try:
        assert sender.send_due().retrying == 1
        assert _message(db).last_status_code == 302
        with db.transaction() as session:
            set_enabled(session, endpoint.row.id, False)
        clock.advance(minutes=1)
        assert sender.send_due().attempted == 0
        assert _queue(db, clock) == 0, "a disabled endpoint gets no new messages"
        with db.transaction() as session:
            set_enabled(session, endpoint.row.id, True)
        assert sender.send_due().delivered == 1
    finally:
        sender.close()
    assert len(receiver.received) == 2


def test_only_wanted_events_are_queued(db: Database, receiver: Receiver) -> None:
    from tests.webhooks.conftest import register

    register(db, receiver.url, ["campaign.sent"])
    assert _queue(db, None, EventType.SUBSCRIBER_CONFIRMED) == 0
    assert _queue(db, None, EventType.CAMPAIGN_SENT) == 1
    payload = _message(db).payload
    assert payload["type"] == "campaign.sent"
    assert json.dumps(payload)  # stored as JSON


def test_message_ids_differ_per_endpoint(
    db: Database, receiver: Receiver, endpoint: NewEndpoint
) -> None:
    from tests.webhooks.conftest import register

    register(db, receiver.url + "/second")
    assert _queue(db) == 2
    with db.transaction() as session:
        ids = set(session.scalars(select(WebhookMessage.msg_id)))
    assert len(ids) == 2


def test_timeout_setting_bounds_an_attempt(
    db: Database, settings: Settings, receiver: Receiver, endpoint: NewEndpoint, clock: Clock
) -> None:
    receiver.script = [TIMEOUT]
    receiver.pause = 3.0
    _queue(db, clock)
    sender = WebhookSender(db, settings, clock=clock)
    try:
        import time

        started = time.monotonic()
        sender.send_due()
        assert time.monotonic() - started < 2.0
    finally:
        sender.close()
    assert _message(db).next_attempt_at - clock.now == timedelta(seconds=5)


@pytest.mark.parametrize("drip", [DRIP, DRIP_HEADERS])
def test_a_receiver_dripping_its_answer_cannot_hold_an_attempt_past_the_timeout(
    db: Database,
    settings: Settings,
    receiver: Receiver,
    endpoint: NewEndpoint,
    clock: Clock,
    drip: str,
) -> None:
    """Each byte comes well within the 0.5 s a read may wait, the whole answer in 8 s: the
    attempt still ends at its 0.5 s, a timeout retried on the backoff like any other."""
    receiver.script = [drip]
    assert receiver.drip_every < settings.webhook_timeout_seconds / 2
    assert receiver.drip_every * receiver.drip_bytes >= 8
    _queue(db, clock)
    sender = WebhookSender(db, settings, clock=clock)
    try:
        started = time.monotonic()
        report = sender.send_due()
        assert time.monotonic() - started < 2.0
        assert report.retrying == 1 and "timed out" in report.errors[0]
        message = _message(db)
        assert message.status == MessageStatus.PENDING and message.last_status_code is None
        assert "timed out" in (message.last_error or "")
        assert message.next_attempt_at == clock.now + RETRY_DELAYS[0]
        clock.advance(seconds=5)
        assert sender.send_due().delivered == 1  # the connection it gave up was not reused
    finally:
        sender.close()
    assert _message(db).attempts == 2


def test_https_receivers_are_verified_and_held_to_the_deadline_too(
    db: Database,
    settings: Settings,
    https_receiver: Receiver,
    certificate: Certificate,
    clock: Clock,
) -> None:
    register(db, https_receiver.url)
    _queue(db, clock)
    sender = WebhookSender(db, settings, clock=clock)  # certifi's roots: not our certificate
    try:
        report = sender.send_due()
    finally:
        sender.close()
    assert report.retrying == 1 and "CERTIFICATE_VERIFY_FAILED" in report.errors[0]
    assert https_receiver.received == []

    https_receiver.script = [DRIP]
    trusting = ssl.create_default_context(cafile=certificate.cert_path)
    sender = WebhookSender(db, settings, clock=clock, transport=DeadlineTransport(verify=trusting))
    try:
        clock.advance(seconds=5)
        started = time.monotonic()
        report = sender.send_due()
        assert time.monotonic() - started < 2.0
        assert report.retrying == 1 and "timed out" in report.errors[0]
        clock.advance(minutes=5)
        assert sender.send_due().delivered == 1
    finally:
        sender.close()
    assert len(https_receiver.received) == 2

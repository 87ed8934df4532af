"""Two senders at once on PostgreSQL (SKIP LOCKED claims): every message is delivered once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import event, func, select

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.webhooks.endpoints import NewEndpoint
from newsletter.webhooks.model import EventType, MessageStatus, WebhookMessage
from newsletter.webhooks.queue import queue_events
from newsletter.webhooks.sender import Claimed, SendReport, WebhookSender
from tests.webhooks.receiver import Receiver

MESSAGES = 60


def test_two_senders_deliver_each_message_once(
    db: Database, settings: Settings, receiver: Receiver, endpoint: NewEndpoint
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite runs one sender (one writer); concurrent claims are PostgreSQL's")
    events = [(EventType.SUBSCRIBER_CONFIRMED, {"n": n}) for n in range(MESSAGES)]
    with db.transaction() as session:
        assert queue_events(session, events) == MESSAGES
    receiver.delay = 0.02  # keep both senders busy at the same time
    reports: list[SendReport] = []
    start = threading.Barrier(2)

    def run() -> None:
        sender = WebhookSender(db, settings)
        try:
            start.wait()
            reports.append(sender.send_due())
        finally:
            sender.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not [error for r in reports for error in r.errors]
    counts = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(counts) == MESSAGES and set(counts.values()) == {1}
    assert sorted(r.delivered for r in reports) != [0, MESSAGES], "both senders took a share"
    assert sum(r.delivered for r in reports) == MESSAGES
    with db.transaction() as session:
        delivered = session.scalar(
            select(func.count()).where(WebhookMessage.status == MessageStatus.DELIVERED)
        )
    assert delivered == MESSAGES


def test_a_claim_read_before_another_sender_took_the_message_takes_nothing(
    db: Database, settings: Settings, endpoint: NewEndpoint
) -> None:
    """The worker and an admin's "try again now" read the same due message; the second to
    write must not claim it again (SQLite's SELECT takes no lock: the UPDATE decides)."""
    with db.transaction() as session:
        assert queue_events(session, [(EventType.SUBSCRIBER_CONFIRMED, {"n": 1})]) == 1
    worker, admin = WebhookSender(db, settings), WebhookSender(db, settings)
    taken_first: list[object] = []

    def other_claims_first(_c: object, _cur: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE WEBHOOK_MESSAGES") and not taken_first:
            taken_first.append(None)
            taken_first.extend(worker.claim([]))

    event.listen(db.engine, "before_cursor_execute", other_claims_first)
    try:
        second = admin.claim([])
    finally:
        event.remove(db.engine, "before_cursor_execute", other_claims_first)
        worker.close()
        admin.close()
    taken = [c.id for c in taken_first[1:] if isinstance(c, Claimed)] + [c.id for c in second]
    assert len(taken) == 1, f"claimed {len(taken)} times"
    with db.transaction() as session:
        assert session.scalar(select(WebhookMessage.attempts)) == 1

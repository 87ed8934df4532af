"""Today's personal data in export and erasure, on SQLite and PostgreSQL: a reader's welcome
receipts and the outbound webhook messages about them are exported; erasing them deletes
the pending messages, scrubs the address out of the others (payload, stored response), and
removes the receipts; the erased reader gets no further welcome step, and another reader's
rows are untouched."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from campaigns.sending import run_worker
from campaigns.welcome_model import WelcomeReceipt
from campaigns.welcome_queue import queue_due_steps
from campaigns.welcome_steps import StepText, add_step
from newsletter.config import Settings, get_settings
from newsletter.db import Database, utcnow
from newsletter.webhooks.model import MessageStatus, WebhookMessage
from newsletter.webhooks.sender import send_due
from subscribers.gdpr import EraseResult, erase_subscriber, export_personal_data
from subscribers.model import Subscriber
from subscribers.preferences import unsubscribe
from subscribers.signup import Origin, confirm
from tests.campaigns.helpers import outbox_mails
from tests.subscribers.conftest import add_subscriber
from tests.webhooks.conftest import register
from tests.webhooks.receiver import Receiver, receiver  # noqa: F401  (a fixture)

ORIGIN = Origin(source="test")
ANA, BOB = "Ana@Example.org", "bob@example.org"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return get_settings().model_copy(
        update={"outbox": tmp_path / "outbox", "webhooks_allow_private_addresses": True}
    )


def _confirmed(db: Database, email: str) -> tuple[int, str]:
    with db.transaction() as session:
        row = add_subscriber(session, email, status="pending")
        confirm(session, row.uid, ORIGIN)  # queues subscriber.confirmed
        return row.id, row.uid


def _table_text(db: Database) -> str:
    """Every column of every webhook message, as text: where an address could hide."""
    with db.transaction() as session:
        rows = session.execute(text("SELECT * FROM webhook_messages")).all()
    return repr([tuple(row) for row in rows]).lower()


def _rows_of(db: Database, uid: str) -> list[Any]:
    with db.transaction() as session:
        messages = session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)).all()
        return [
            (m.id, m.event_type, m.payload, m.status, m.last_response, m.delivered_at)
            for m in messages
            if m.payload["data"].get("subscriber_uid") == uid
        ]


def _setup(db: Database, settings: Settings, receiver: Receiver) -> dict[str, Any]:  # noqa: F811
    register(db, receiver.url)
    with db.transaction() as session:
        first = add_step(session, StepText(0, "Welcome", "Hello."))
        second = add_step(session, StepText(3, "Three days in", "How is it going?"))
        steps = (first.id, second.id)
    ana_id, ana_uid = _confirmed(db, ANA)
    bob_id, bob_uid = _confirmed(db, BOB)
    assert send_due(db, settings).delivered == 2  # both confirmations reached the receiver
    with db.transaction() as session:  # a receiver that echoed the address in its answer
        session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.status == MessageStatus.DELIVERED)
            .values(last_response=f"ok, got {ANA} and {BOB}")
        )
        unsubscribe(session, ana_uid, ORIGIN)  # queued, not delivered yet
        unsubscribe(session, bob_uid, ORIGIN)
        # back to active, so the welcome series is due to them both
        session.execute(update(Subscriber).values(status="active", unsubscribed_at=None))
    queued = queue_due_steps(db, settings, utcnow() + timedelta(minutes=1))
    assert [(q.step_id, q.readers) for q in queued] == [(steps[0], 2)]
    return {"steps": steps, "ana": (ana_id, ana_uid), "bob": (bob_id, bob_uid)}


def test_export_shows_welcome_receipts_and_webhook_messages(
    db: Database,
    settings: Settings,
    receiver: Receiver,  # noqa: F811
) -> None:
    found = _setup(db, settings, receiver)
    with db.transaction() as session:
        data = export_personal_data(session, "ana@example.org")
    receipts = data["welcome_receipts"]
    assert [(r["step_id"], r["step_subject"]) for r in receipts] == [(found["steps"][0], "Welcome")]
    assert receipts[0]["queued_at"]
    messages = data["webhook_messages"]
    assert [(m["event_type"], m["status"], m["delivered"]) for m in messages] == [
        ("subscriber.confirmed", "delivered", True),
        ("subscriber.unsubscribed", "pending", False),
    ]
    assert all(m["queued_at"] and m["sent_to"] == "127.0.0.1" for m in messages)
    assert messages[0]["delivered_at"] and messages[1]["delivered_at"] is None
    assert {m["payload"]["data"]["email"] for m in messages} == {"Ana@example.org"}
    assert {m["payload"]["data"]["subscriber_uid"] for m in messages} == {found["ana"][1]}
    assert "bob" not in repr(data).lower()


def test_erase_leaves_no_trace_of_the_address_and_no_further_welcome_step(
    db: Database,
    settings: Settings,
    receiver: Receiver,  # noqa: F811
    tmp_path: Path,
) -> None:
    found = _setup(db, settings, receiver)
    (ana_id, ana_uid), (bob_id, bob_uid) = found["ana"], found["bob"]
    assert "ana@example.org" in _table_text(db)
    bob_before = _rows_of(db, bob_uid)
    with db.transaction() as session:
        assert erase_subscriber(session, ANA) is EraseResult.ERASED

    assert "ana@example.org" not in _table_text(db)
    assert "bob@example.org" in _table_text(db)
    # Bob's rows are untouched but for the receiver's echo of Ana's address.
    echo = ("ok, got Ana@Example.org and bob@example.org", "ok, got [erased] and bob@example.org")
    assert _rows_of(db, bob_uid) == [
        (*row[:4], row[4].replace(*echo) if row[4] else None, row[5]) for row in bob_before
    ]
    assert any(row[4] == echo[0] for row in bob_before)
    ana_rows = _rows_of(db, ana_uid)  # the delivered one is kept, scrubbed; the pending is gone
    assert [(r[1], r[3]) for r in ana_rows] == [("subscriber.confirmed", "delivered")]
    assert ana_rows[0][2]["data"]["email"] is None
    assert ana_rows[0][4] == "ok, got [erased] and bob@example.org"
    with db.transaction() as session:
        assert export_personal_data(session, ANA)["subscriber"] is None
        receipts = session.execute(select(WelcomeReceipt.subscriber_id)).scalars().all()
    assert receipts == [bob_id]

    # The pending messages go out: Bob's only.
    before = len(receiver.received)
    assert send_due(db, settings).delivered == 1
    bodies = [r.body.decode().lower() for r in receiver.received[before:]]
    assert len(bodies) == 1 and bob_uid.lower() in bodies[0] and "ana@" not in bodies[0]

    # Welcome steps: the queued step 1 is skipped for Ana, step 2 later goes to Bob alone.
    run_worker(db, settings, stop=threading.Event(), once=True)
    queued = queue_due_steps(db, settings, utcnow() + timedelta(days=3, minutes=2))
    assert [(q.step_id, q.readers) for q in queued] == [(found["steps"][1], 1)]
    run_worker(db, settings, stop=threading.Event(), once=True)
    recipients = sorted(str(m["To"]).lower() for m in outbox_mails(tmp_path / "outbox"))
    assert recipients == ["bob@example.org", "bob@example.org"]
    with db.transaction() as session:
        steps = session.execute(
            select(WelcomeReceipt.subscriber_id, WelcomeReceipt.step_id).order_by(
                WelcomeReceipt.step_id
            )
        ).all()
    assert [tuple(s) for s in steps] == [(bob_id, found["steps"][0]), (bob_id, found["steps"][1])]
    assert ana_id not in {s[0] for s in steps}

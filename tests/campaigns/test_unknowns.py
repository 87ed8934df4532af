"""Unknown deliveries resolved from evidence (campaigns.unknowns), on SQLite and PostgreSQL.

- the provider's events for an unknown delivery settle it as sent, through the webhook's
  ingest path; an event naming another address settles nothing;
- without evidence, an unknown row is resent only when its campaign allows it and its
  quarantine has passed, exactly once, and the report counts it apart;
- events that arrived while the row was still ``sending`` are found at the quarantine's
  end: such a row is settled, not resent;
- a campaign cannot ask for a shorter quarantine than the settings require;
- SMTP: each message the relay accepted is recorded at once, so a sender killed mid-batch
  leaves only what it had not heard back about.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns.model import Delivery
from campaigns.reports import campaign_report
from campaigns.sending import allow_unknown_retry, run_worker, send_campaign
from campaigns.service import delivery_counts
from campaigns.store import SqlDeliveryStore
from campaigns.unknowns import resend_quarantined
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import InvalidInput
from subscribers.model import Subscriber
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign
from tests.campaigns.helpers import sendgrid_settings as base_settings
from tests.campaigns.webhooks import event, ingest, recipients_of
from tests.conftest import ROOT
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.smtp_server import FakeSmtpServer

QUARANTINE_MINUTES = 0.01  # 0.6 s: the tests wait it out for real


def sendgrid_settings(server: FakeSendGrid) -> Settings:
    return base_settings(server, unknown_quarantine_minutes=QUARANTINE_MINUTES)


def unknown_ids(db: Database, campaign_id: int) -> list[int]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.campaign_id == campaign_id, Delivery.status == "unknown"
                )
            )
        )


def addresses_of(db: Database, ids: list[int]) -> set[str]:
    with db.transaction() as session:
        rows = session.scalars(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.id.in_(ids))
        )
        return {str(e) for e in rows}


def one_unknown_batch(db: Database, server: FakeSendGrid, *, accept: bool) -> int:
    """A campaign of 300 whose first batch of 100 got no answer (accepted or not)."""
    import_examples(db)
    add_subscribers(db, 300)
    server.drop_next(1, accept=accept)
    campaign_id = new_campaign(db)
    report = send_campaign(db, sendgrid_settings(server), campaign_id)
    assert report.counts == {"sent": 200, "unknown": 100}
    return campaign_id


def test_provider_events_settle_unknown_deliveries_as_sent(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    campaign_id = one_unknown_batch(db, sendgrid_server, accept=True)
    unknown = addresses_of(db, unknown_ids(db, campaign_id))
    recipients = recipients_of(sendgrid_server, campaign_id)
    kinds = ["processed", "delivered", "open", "click", "deferred", "bounce", "dropped"]
    events = [
        event(recipients[address], kinds[n % len(kinds)])
        for n, address in enumerate(sorted(unknown))
    ]
    stranger = dict(events[0], email="someone-else@example.org", sg_event_id="stranger-1")
    first = ingest(db, [stranger])
    assert first.unmatched == 1
    assert len(unknown_ids(db, campaign_id)) == 100, "an event about another address proves nothing"
    result = ingest(db, events)
    assert result.recorded == 100
    with db.transaction() as session:
        assert delivery_counts(session, campaign_id) == {"sent": 300}
        sent_at = session.scalars(
            select(Delivery.sent_at).where(Delivery.campaign_id == campaign_id)
        ).all()
        report = campaign_report(session, campaign_id)
    assert all(moment is not None for moment in sent_at)
    assert report.totals.sent == 300 and report.totals.unknown == 0
    assert report.totals.resent_after_unknown == 0
    assert ingest(db, events).recorded == 0  # a replay changes nothing


def test_without_evidence_unknown_rows_are_resent_once_when_the_campaign_allows_it(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    campaign_id = one_unknown_batch(db, sendgrid_server, accept=False)
    settings = sendgrid_settings(sendgrid_server)
    time.sleep(QUARANTINE_MINUTES * 60 + 0.2)
    assert resend_quarantined(db, QUARANTINE_MINUTES) == 0, "the campaign did not allow it"
    allow_unknown_retry(db, settings, campaign_id, 60)
    assert resend_quarantined(db, QUARANTINE_MINUTES) == 0, "its quarantine has not passed"
    report = send_campaign(
        db,
        settings,
        campaign_id,
        retry_unknown_after=QUARANTINE_MINUTES,
    )
    assert report.status == "sent", report.status_reason
    assert report.counts == {"sent": 300}
    assert sendgrid_server.recipient_counts() == Counter(
        {a: 1 for a in sendgrid_server.recipient_counts()}
    )
    assert len(sendgrid_server.recipient_counts()) == 300
    with db.transaction() as session:
        totals = campaign_report(session, campaign_id).totals
    assert totals.resent_after_unknown == 100 and totals.sent == 300


def test_the_worker_loop_resends_after_the_quarantine(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    campaign_id = one_unknown_batch(db, sendgrid_server, accept=False)
    settings = sendgrid_settings(sendgrid_server)
    allow_unknown_retry(db, settings, campaign_id, QUARANTINE_MINUTES)
    time.sleep(QUARANTINE_MINUTES * 60 + 0.2)
    stats = run_worker(db, settings, stop=threading.Event(), once=True)
    assert stats.sent == 100
    with db.transaction() as session:
        assert delivery_counts(session, campaign_id) == {"sent": 300}
    assert sorted(sendgrid_server.recipient_counts().values()) == [1] * 300


def test_events_that_came_while_the_row_was_in_flight_settle_it_at_the_quarantine(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    campaign_id = one_unknown_batch(db, sendgrid_server, accept=True)
    settings = sendgrid_settings(sendgrid_server)
    ids = unknown_ids(db, campaign_id)
    with db.transaction() as session:  # as if the worker were still alive, its lease running
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(status="sending", lease_until=utcnow() + timedelta(minutes=5))
        )
    recipients = recipients_of(sendgrid_server, campaign_id)
    ingest(db, [event(recipients[a], "processed") for a in addresses_of(db, ids)])
    assert len(unknown_ids(db, campaign_id)) == 0
    with db.transaction() as session:  # … then it died: its lease runs out
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(lease_until=utcnow()))
    assert SqlDeliveryStore(db).expire_leases(campaign_id) == 100
    allow_unknown_retry(db, settings, campaign_id, QUARANTINE_MINUTES)
    time.sleep(QUARANTINE_MINUTES * 60 + 0.2)
    assert resend_quarantined(db, QUARANTINE_MINUTES) == 0
    with db.transaction() as session:
        assert delivery_counts(session, campaign_id) == {"sent": 300}
    assert sorted(sendgrid_server.recipient_counts().values()) == [1] * 300


def test_a_campaign_cannot_shorten_the_quarantine(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    campaign_id = new_campaign(db)
    settings = base_settings(sendgrid_server)  # the default: 30 minutes
    with pytest.raises(InvalidInput, match="at least NEWSLETTER_UNKNOWN_QUARANTINE_MINUTES"):
        allow_unknown_retry(db, settings, campaign_id, 5)


def _sent(db: Database, campaign_id: int) -> int:
    with db.transaction() as session:
        return delivery_counts(session, campaign_id).get("sent", 0)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_smtp_acceptances_are_recorded_one_by_one_so_a_killed_worker_leaves_only_its_message(
    db: Database, database_url: str, smtp_server: FakeSmtpServer, tmp_path: Path, pipelining: bool
) -> None:
    """A real `newsletter send` process, SIGKILLed while the relay holds its 31st message:
    the 30 messages the relay accepted are ``sent`` already (the journal caught up while
    the relay held the 31st), the rest still in flight."""
    smtp_server.behaviour.pipelining = pipelining
    import_examples(db)
    add_subscribers(db, 100)
    campaign_id = new_campaign(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_DATABASE_URL=database_url,
        NEWSLETTER_PROVIDER="smtp",
        NEWSLETTER_SMTP_URL=f"smtp://127.0.0.1:{smtp_server.port}?starttls=never",
        NEWSLETTER_SECRET_KEY="test-secret-key-0123456789abcdef",
        NEWSLETTER_COMPLIANCE_CHECKS="0",
        NEWSLETTER_SEND_LANES="1",
        PYTHONPATH=str(ROOT),  # this checkout's code
    )
    newsletter = Path(sys.executable).with_name("newsletter")
    smtp_server.behaviour.hold_from = 31  # the relay answers 30 messages, then holds the 31st
    sender = subprocess.Popen(
        [str(newsletter), "send", str(campaign_id), "--yes"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    answered = 30
    try:
        deadline = time.monotonic() + 60
        while len(smtp_server.received) < 31 or _sent(db, campaign_id) < answered:
            assert sender.poll() is None, sender.communicate()[0].decode()
            assert time.monotonic() < deadline, "the sender made no progress"
            time.sleep(0.01)
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=30)
        smtp_server.behaviour.hold_from = None
    with db.transaction() as session:
        counts = delivery_counts(session, campaign_id)
    assert counts == {"sent": answered, "sending": 100 - answered}

"""Scale-out and crash safety with real worker processes on PostgreSQL.

- four `newsletter worker` processes share one 20,000-recipient send: nobody twice, nobody
  missed;
- a worker killed with SIGKILL in the middle of a send, then a new one started: every
  recipient was accepted by the provider exactly once or is reported `unknown`, and the
  counts add up;
- two senders, 20 % of requests failing, one SIGKILLed mid-send, then the provider's events
  through the webhook's ingest path and a worker after the quarantine: nobody twice, nobody
  left unknown (campaigns.unknowns).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaigns.freeze import freeze_campaign
from campaigns.model import Delivery
from campaigns.reports import campaign_report
from campaigns.sending import allow_unknown_retry
from campaigns.service import CampaignDraft, create_campaign, delivery_counts
from newsletter.config import Settings
from newsletter.db import Database
from subscribers.model import Subscriber
from tests.campaigns.helpers import SLUGS, add_subscribers, import_examples
from tests.campaigns.webhooks import event, ingest, recipients_of
from tests.conftest import ROOT
from tests.fakes.sendgrid_server import DEFAULT_KEY, FakeSendGrid

pytestmark = pytest.mark.slow
RECIPIENTS = 20_000


def worker_env(database_url: str, server: FakeSendGrid, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("NEWSLETTER_") and key != "SENDGRID_API_KEY"
    }
    env.update(
        {
            "NEWSLETTER_DATABASE_URL": database_url,
            "NEWSLETTER_PROVIDER": "sendgrid",
            "SENDGRID_API_KEY": DEFAULT_KEY,
            "NEWSLETTER_SENDGRID_HOST": server.url,
            "NEWSLETTER_SECRET_KEY": "test-secret-key-0123456789abcdef",
            "NEWSLETTER_SEND_RETRY_BASE_DELAY": "0.05",
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONPATH": str(ROOT),  # the workers run this checkout's code
        }
    )
    env.update(extra)
    return env


def start_worker(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    newsletter = Path(sys.executable).with_name("newsletter")
    return subprocess.Popen(
        [str(newsletter), "worker", "--once"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def frozen_campaign(
    db: Database, server: FakeSendGrid, recipients: int = RECIPIENTS
) -> tuple[int, list[str]]:
    import_examples(db)
    addresses = add_subscribers(db, recipients, named=False)
    with db.transaction() as session:
        campaign_id = create_campaign(
            session, CampaignDraft(name="Big send", brief_slugs=list(SLUGS))
        ).id
    settings = Settings(provider="sendgrid", sendgrid_api_key=DEFAULT_KEY, sendgrid_host=server.url)
    assert freeze_campaign(db, campaign_id, settings).recipients == recipients
    return campaign_id, addresses


def needs_postgres(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("several workers share a send only on PostgreSQL (SQLite runs one worker)")


def test_four_workers_share_one_send(
    db: Database, database_url: str, sendgrid_server: FakeSendGrid, tmp_path: Path
) -> None:
    needs_postgres(db)
    sendgrid_server.configure(check_schema=False, latency_ms=20)
    campaign_id, addresses = frozen_campaign(db, sendgrid_server)
    env = worker_env(database_url, sendgrid_server, NEWSLETTER_SEND_LANES="2")
    four_workers_send_it_all(db, env, sendgrid_server, tmp_path, campaign_id, addresses)


def four_workers_send_it_all(
    db: Database,
    env: dict[str, str],
    server: FakeSendGrid,
    cwd: Path,
    campaign_id: int,
    addresses: list[str],
) -> None:
    """Four workers to the end: everyone accepted once, every row sent, the send shared."""
    workers = [start_worker(env, cwd) for _ in range(4)]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output.decode()
    assert server.recipient_counts() == Counter({a: 1 for a in addresses})
    with db.transaction() as session:
        assert delivery_counts(session, campaign_id) == {"sent": len(addresses)}
        workers_used = set(session.scalars(select(Delivery.worker).distinct()))
    assert len(workers_used) >= 2, "the send should have been shared"


def test_a_killed_worker_never_causes_a_silent_resend(
    db: Database, database_url: str, sendgrid_server: FakeSendGrid, tmp_path: Path
) -> None:
    needs_postgres(db)
    sendgrid_server.configure(check_schema=False, latency_ms=300)
    campaign_id, addresses = frozen_campaign(db, sendgrid_server)
    env = worker_env(database_url, sendgrid_server, NEWSLETTER_SEND_LEASE_SECONDS="2")
    victim = start_worker(env, tmp_path)
    deadline = time.monotonic() + 120
    while sendgrid_server.stats().get("accepted_personalizations", 0) < 4_000:
        assert victim.poll() is None, victim.communicate()[0].decode()
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    with db.transaction() as session:
        midway = delivery_counts(session, campaign_id)
    assert midway.get("sending", 0) > 0, f"the kill should land mid-batch: {midway}"
    time.sleep(2.5)  # let the dead worker's lease run out
    survivor = start_worker(env, tmp_path)
    output, _ = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, output.decode()

    accepted = sendgrid_server.recipient_counts()
    assert max(accepted.values()) == 1, "nobody may be accepted twice"
    with db.transaction() as session:
        counts = delivery_counts(session, campaign_id)
        rows = session.execute(
            select(Subscriber.email, Delivery.status).join(
                Subscriber, Subscriber.id == Delivery.subscriber_id
            )
        ).all()
    assert sum(counts.values()) == RECIPIENTS
    assert set(counts) <= {"sent", "unknown"}
    assert counts.get("unknown", 0) > 0
    for address, status in rows:
        if status == "sent":
            assert accepted[address] == 1, address
        else:
            assert status == "unknown" and accepted[address] in (0, 1), address
    assert counts["sent"] + counts["unknown"] == len(addresses)


CRASH_RECIPIENTS = 6_000


def in_flight(db: Database, worker: subprocess.Popen[bytes]) -> int:
    """How many rows this worker process has claimed and not yet settled."""
    with db.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    Delivery.status == "sending", Delivery.worker.contains(f":{worker.pid}:")
                )
            )
            or 0
        )


QUARANTINE_MINUTES = 0.05  # 3 s: the test waits it out for real


def test_after_a_crash_and_the_providers_events_nobody_is_left_unknown(
    db: Database, database_url: str, sendgrid_server: FakeSendGrid, tmp_path: Path
) -> None:
    needs_postgres(db)
    sendgrid_server.configure(
        check_schema=False, latency_ms=200, failure_rate=0.2, failure_statuses=(429, 500), seed=3
    )
    campaign_id, addresses = frozen_campaign(db, sendgrid_server, CRASH_RECIPIENTS)
    settings = Settings(unknown_quarantine_minutes=QUARANTINE_MINUTES)
    allow_unknown_retry(db, settings, campaign_id, QUARANTINE_MINUTES)
    env = worker_env(
        database_url,
        sendgrid_server,
        NEWSLETTER_SEND_LEASE_SECONDS="2",
        NEWSLETTER_SEND_LANES="2",
        NEWSLETTER_SEND_BATCH_SIZE="250",
        NEWSLETTER_UNKNOWN_QUARANTINE_MINUTES=str(QUARANTINE_MINUTES),
    )
    victim, survivor = start_worker(env, tmp_path), start_worker(env, tmp_path)
    deadline = time.monotonic() + 120
    while sendgrid_server.stats().get("accepted_personalizations", 0) < 2_000 or not in_flight(
        db, victim
    ):
        assert victim.poll() is None, victim.communicate()[0].decode()
        assert time.monotonic() < deadline, "the workers made no progress"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    output, _ = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, output.decode()
    time.sleep(2.5)  # the dead worker's lease runs out; a restarted worker finds its rows
    restarted = start_worker(env, tmp_path)
    output, _ = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, output.decode()
    with db.transaction() as session:
        after_crash = delivery_counts(session, campaign_id)
    assert after_crash.get("unknown", 0) > 0, f"the kill should leave rows unknown: {after_crash}"

    # SendGrid's events for everything it accepted, in webhook-sized batches
    events = [event(r, "processed") for r in recipients_of(sendgrid_server, campaign_id).values()]
    for start in range(0, len(events), 1000):
        ingest(db, events[start : start + 1000])
    with db.transaction() as session:
        after_events = delivery_counts(session, campaign_id)
    without_evidence = after_events.get("unknown", 0)

    time.sleep(QUARANTINE_MINUTES * 60 + 0.5)
    finisher = start_worker(env, tmp_path)
    output, _ = finisher.communicate(timeout=300)
    assert finisher.returncode == 0, output.decode()

    accepted = sendgrid_server.recipient_counts()
    with db.transaction() as session:
        final = delivery_counts(session, campaign_id)
        totals = campaign_report(session, campaign_id).totals
    print(  # the figures docs/deliverability.md quotes (pytest -s)
        f"after the crash: {after_crash}; after the events: {after_events}; final: {final}; "
        f"resent after unknown: {totals.resent_after_unknown}; "
        f"duplicates: {sum(n - 1 for n in accepted.values())}"
    )
    assert max(accepted.values()) == 1, "nobody may be accepted twice"
    assert accepted == Counter({a: 1 for a in addresses})
    assert final == {"sent": CRASH_RECIPIENTS}
    assert totals.resent_after_unknown == without_evidence

"""Shaped sends end to end in one process (outbox, SQLite and PostgreSQL): an hourly limit
reached mid-send resumes in the next hour, a warm-up's day 1 and day 2, the delivery window's
pacing, the commands that set and show them, and no shaping work at all when nothing is set.
(Four worker processes sharing a per-second limit: test_shaped_workers.py.)"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign, Delivery, SendQuota
from campaigns.sending import run_worker, send_campaign
from campaigns.service import delivery_counts, resume_campaign, set_spread
from newsletter.cli.app import app
from newsletter.config import Settings, get_settings
from newsletter.db import Database
from newsletter.delivery.base import Batch, RecipientResult
from newsletter.delivery.outbox import OutboxProvider
from newsletter.errors import ProviderRetryable
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign, outbox_mails
from tests.campaigns.test_send import _weekly_from_the_cli
from tests.campaigns.test_shaping import HOUR, Clock


def outbox_settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(outbox=tmp_path / "box", **changes)


def sent_once(tmp_path: Path, count: int) -> None:
    """The outbox holds ``count`` messages, one per recipient."""
    recipients = Counter(m["To"] for m in outbox_mails(tmp_path / "box"))
    assert len(recipients) == count and set(recipients.values()) == {1}


def worker_round(
    db: Database, settings: Settings, clock: Clock, campaign_id: int
) -> dict[str, int]:
    """One round of a worker at ``clock``'s time; the campaign's counts after it."""
    run_worker(db, settings, stop=threading.Event(), once=True, clock=clock)
    with db.transaction() as session:
        return delivery_counts(session, campaign_id)


def test_an_hourly_limit_reached_mid_send_resumes_the_next_hour(
    db: Database, tmp_path: Path
) -> None:
    import_examples(db)
    add_subscribers(db, 25)
    campaign_id = new_campaign(db)
    clock = Clock()  # 12:30 UTC
    settings = outbox_settings(tmp_path, send_limit_per_hour=10)
    report = send_campaign(db, settings, campaign_id, clock=clock)
    assert report.status == "sending"
    assert report.counts == {"sent": 10, "queued": 15}
    assert report.status_reason == (
        "waiting for the hourly limit of outbox (10 an hour): resumes at 2026-12-02 13:00 UTC"
    )
    # the same hour: nothing more goes
    assert worker_round(db, settings, clock, campaign_id) == {"sent": 10, "queued": 15}
    clock.now += HOUR
    assert worker_round(db, settings, clock, campaign_id) == {"sent": 20, "queued": 5}
    clock.now += HOUR
    assert worker_round(db, settings, clock, campaign_id) == {"sent": 25}
    with db.transaction() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert (campaign.status, campaign.status_reason) == ("sent", None)
    sent_once(tmp_path, 25)


def test_a_new_domain_warms_up_day_by_day(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 30)
    campaign_id = new_campaign(db)
    clock = Clock()
    settings = outbox_settings(tmp_path, warmup_start=10, warmup_factor=1.5)
    report = send_campaign(db, settings, campaign_id, clock=clock)
    assert report.counts == {"sent": 10, "queued": 20}
    assert report.status_reason is not None
    assert report.status_reason.startswith(
        "waiting for the warm-up limit of example.org (day 1: 10 today): resumes at 2026-12-03"
    )
    clock.now += 24 * HOUR  # day 2: 15
    assert worker_round(db, settings, clock, campaign_id) == {"sent": 25, "queued": 5}
    clock.now += 24 * HOUR
    assert worker_round(db, settings, clock, campaign_id) == {"sent": 30}
    sent_once(tmp_path, 30)


def test_a_delivery_window_spreads_the_send(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 60)
    campaign_id = new_campaign(db)
    report = send_campaign(db, outbox_settings(tmp_path), campaign_id, spread_minutes=0.05)
    assert report.counts == {"sent": 60}
    with db.transaction() as session:
        assert session.get_one(Campaign, campaign_id).spread_minutes == 0.05
        first, last = session.execute(
            select(func.min(Delivery.sent_at), func.max(Delivery.sent_at))
        ).one()
    # 60 over 3 s: batches of 4 every 0.2 s, the last starting 2.8 s after the first
    assert 2.5 <= (last - first).total_seconds() <= 3.6
    assert report.stats.batches == 15
    sent_once(tmp_path, 60)


def test_a_long_window_does_not_keep_its_worker_from_other_campaigns(
    db: Database, tmp_path: Path
) -> None:
    import_examples(db)
    add_subscribers(db, 4)
    slow, fast = new_campaign(db, name="Slow"), new_campaign(db, name="Fast")
    settings = outbox_settings(tmp_path)
    with db.transaction() as session:
        set_spread(session, slow, 10)  # 4 readers over 10 minutes: one every 150 s
    for campaign_id in (slow, fast):
        freeze_campaign(db, campaign_id, settings)
    stats = run_worker(db, settings, stop=threading.Event(), once=True)
    assert stats.sent == 5  # the window's first reader, then all of the other campaign
    with db.transaction() as session:
        assert delivery_counts(session, slow) == {"sent": 1, "queued": 3}
        assert delivery_counts(session, fast) == {"sent": 4}
        assert session.get_one(Campaign, slow).status_reason is None  # not held: paced


def test_with_no_limit_nothing_touches_the_shaping_tables(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 30)
    campaign_id = new_campaign(db)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        settings = outbox_settings(tmp_path, send_batch_size=5)
        assert send_campaign(db, settings, campaign_id).counts == {"sent": 30}
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "send_pacing" in s or "send_quotas" in s]
    assert sum("sending_domains" in s for s in statements) == 2  # once per send: its domain


def test_spread_and_warm_up_from_the_command_line(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, campaign_id = _weekly_from_the_cli(db, tmp_path, monkeypatch, readers=4)
    refused = runner.invoke(app, ["send", campaign_id, "--yes", "--spread-minutes", "0"])
    assert refused.exit_code != 0
    assert "spread_minutes: must be more than 0 and at most 10080 (a week)" in refused.output
    scheduled = runner.invoke(
        app,
        [
            "campaigns",
            "schedule",
            campaign_id,
            "--at",
            "2030-01-01T07:00Z",
            "--spread-minutes",
            "90",
        ],
    )
    assert scheduled.exit_code == 0, scheduled.output
    assert "spread over 90 minutes" in scheduled.output
    shown = runner.invoke(app, ["campaigns", "show", campaign_id])
    assert "spread over 90 minutes" in shown.output
    sent = runner.invoke(app, ["send", campaign_id, "--yes", "--spread-minutes", "0.01"])
    assert sent.exit_code == 0, sent.output
    monkeypatch.setenv("NEWSLETTER_WARMUP_START", "1000")
    get_settings.cache_clear()
    today = datetime.now(UTC).date().isoformat()
    listed = runner.invoke(app, ["domain", "warmup"])
    assert listed.exit_code == 0, listed.output
    assert "example.org" in listed.output and today in listed.output and "1,000" in listed.output
    moved = runner.invoke(app, ["domain", "warmup", "example.org", "--first-day", "2026-01-01"])
    assert moved.exit_code == 0 and "2026-01-01" in moved.output
    bad = runner.invoke(app, ["domain", "warmup", "example.org", "--first-day", "soon"])
    assert bad.exit_code == 2 and "'soon' is not a YYYY-MM-DD date" in bad.output


def test_send_says_when_a_limit_holds_the_rest(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, campaign_id = _weekly_from_the_cli(db, tmp_path, monkeypatch, readers=3)
    monkeypatch.setenv("NEWSLETTER_SEND_LIMIT_PER_HOUR", "2")
    get_settings.cache_clear()
    sent = runner.invoke(app, ["send", campaign_id, "--yes"])
    assert sent.exit_code == 0, sent.output
    output = " ".join(sent.output.split())
    assert "waiting for the hourly limit of outbox (2 an hour): resumes at" in output
    assert "still sending: `newsletter worker`" in output
    shown = runner.invoke(app, ["campaigns", "show", campaign_id])
    assert "waiting for the hourly limit" in " ".join(shown.output.split())
    assert "queued 1" in shown.output


def test_rows_put_back_unsent_count_against_no_quota(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 5)
    campaign_id = new_campaign(db)
    frozen_with = Settings(provider="sendgrid", sendgrid_api_key="k" * 40)
    freeze_campaign(db, campaign_id, frozen_with)
    # this worker has no SendGrid key: it cannot build the batch, nothing reaches a provider
    worker = outbox_settings(tmp_path, send_limit_per_day=100)
    report = send_campaign(db, worker, campaign_id, clock=Clock())
    assert report.status == "paused" and report.counts == {"queued": 5}
    with db.transaction() as session:
        assert session.scalars(select(SendQuota.used)).all() == [0]


class RefusedAfter(OutboxProvider):
    """Writes the first ``accepts`` messages of a batch, then the relay refuses connections
    (an outage): the rest of every try is refused for now."""

    def __init__(self, folder: Path, accepts: int) -> None:
        super().__init__(folder)
        self.accepts = accepts

    def send(self, batch: Batch) -> list[RecipientResult]:
        taken = replace(batch, recipients=batch.recipients[: self.accepts])
        settled = super().send(taken) if taken.recipients else []
        self.accepts = 0  # the outage lasts: later tries get nothing through
        raise ProviderRetryable("connection refused", settled=settled)


@pytest.mark.parametrize("accepted", [0, 2])
def test_rows_requeued_by_an_outage_give_their_quota_back(
    db: Database, tmp_path: Path, accepted: int
) -> None:
    import_examples(db)
    add_subscribers(db, 5)
    campaign_id = new_campaign(db)
    clock = Clock()
    settings = outbox_settings(
        tmp_path, send_limit_per_day=100, send_limit_per_hour=50, send_retry_attempts=2,
        send_retry_base_delay=0.0,
    )  # fmt: skip
    provider = RefusedAfter(tmp_path / "box", accepted)
    report = send_campaign(db, settings, campaign_id, provider=provider, clock=clock)
    assert report.status == "paused" and "kept refusing for now" in (report.status_reason or "")
    assert report.counts == ({"queued": 5} if not accepted else {"sent": 2, "queued": 3})
    with db.transaction() as session:
        used = {p: n for p, n in session.execute(select(SendQuota.period, SendQuota.used))}
    assert used == {"day": accepted, "hour": accepted}  # only what went counts
    # the relay is back, the same hour: the rest goes, and the quotas count each message once
    with db.transaction() as session:
        resume_campaign(session, campaign_id)
    report = send_campaign(db, settings, campaign_id, clock=clock)
    assert report.counts == {"sent": 5}
    with db.transaction() as session:
        used = {p: n for p, n in session.execute(select(SendQuota.period, SendQuota.used))}
    assert used == {"day": 5, "hour": 5}
    sent_once(tmp_path, 5)

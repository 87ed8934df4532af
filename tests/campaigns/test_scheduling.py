"""Scheduling and pacing: due campaigns start once, the rate limiter holds its rate."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from campaigns import freeze
from campaigns.ratelimit import SendRateLimiter
from campaigns.sending import run_worker, start_due_campaigns
from campaigns.service import CampaignDraft, create_campaign, delivery_counts, get_campaign
from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.webhooks.endpoints import add_endpoint
from newsletter.webhooks.model import WebhookMessage
from tests.campaigns.helpers import SLUGS, add_subscribers, import_examples, meet_before, race


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_paces_batches() -> None:
    clock = FakeClock()
    limiter = SendRateLimiter(500, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        limiter.acquire(1000)
    # 4,000 messages at 500/s with a burst of 500: 7 seconds of waiting in all
    assert sum(clock.slept) == pytest.approx(7.0)
    unlimited = SendRateLimiter(None, clock=clock, sleep=clock.sleep)
    assert unlimited.acquire(10**6) == 0.0


def test_due_campaigns_start_once_and_future_ones_wait(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    add_subscribers(db, 5)
    now = datetime.now(UTC)
    with db.transaction() as session:
        due = create_campaign(
            session, CampaignDraft("Due", list(SLUGS), send_at=now - timedelta(minutes=1))
        ).id
        later = create_campaign(
            session, CampaignDraft("Later", list(SLUGS), send_at=now + timedelta(days=1))
        ).id
    settings = Settings(outbox=tmp_path / "outbox")
    started = start_due_campaigns(db, settings)
    assert [s.campaign_id for s in started] == [due]
    assert start_due_campaigns(db, settings) == []
    stats = run_worker(db, settings, stop=threading.Event(), once=True)
    assert stats.sent == 5
    with db.transaction() as session:
        assert get_campaign(session, due).status == "sent"
        assert get_campaign(session, later).status == "scheduled"
        assert delivery_counts(session, later) == {}


def test_two_schedulers_racing_the_first_freeze(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both copies see the same due campaign, not yet frozen: the second waits for the
    first's freeze and finds it done (no crash, one set of deliveries, one start report)."""
    import_examples(db)
    add_subscribers(db, 20)
    with db.transaction() as session:
        due = create_campaign(
            session,
            CampaignDraft("Due", list(SLUGS), send_at=datetime.now(UTC) - timedelta(minutes=1)),
        ).id
        add_endpoint(
            session, "http://127.0.0.1:9/", ["campaign.started"], created_by="t", allow_private=True
        )
    settings = Settings(outbox=tmp_path / "outbox")
    meet_before(monkeypatch, freeze, "compile_campaign")
    assert race(db, lambda copy: start_due_campaigns(copy, settings)) == []
    with db.transaction() as session:
        assert get_campaign(session, due).status == "sending"
        assert delivery_counts(session, due) == {"queued": 20}
        assert session.scalar(select(func.count()).select_from(WebhookMessage)) == 1
    assert run_worker(db, settings, stop=threading.Event(), once=True).sent == 20


def test_digest_and_scheduler_commands(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "box"))
    runner = CliRunner()
    created = runner.invoke(app, ["digest", "create", "--send-at", "2020-01-01T07:00:00Z"])
    assert created.exit_code == 0, created.output
    assert "created campaign" in created.stdout
    again = runner.invoke(app, ["digest", "create"])
    assert "already exists" in again.stdout
    ran = runner.invoke(app, ["scheduler", "--once"])
    assert ran.exit_code == 0, ran.output
    assert "3 sent" in ran.stdout
    bad = runner.invoke(app, ["digest", "create", "--week", "2026-W99"])
    assert bad.exit_code == 1 and "has no week 99" in bad.stderr

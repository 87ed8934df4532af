"""The shared send limiter (campaigns.shaping) on SQLite and PostgreSQL, with a clock the tests
move: pacing shared by two "workers", hour and day quotas that run out and reopen in the next
window, the least of several quotas, rows given back, the warm-up's day 1 and day 2, and what
the campaign says while it waits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from campaigns.envelope import envelope_for
from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign, SendQuota
from campaigns.shaping import (
    Pace,
    Period,
    Quota,
    SendShaper,
    ShapingPlan,
    WarmUp,
    plan_for,
    set_first_day,
    shaper_for,
    warmup_status,
)
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.errors import InvalidInput
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign

NOON = datetime(2026, 12, 2, 12, 30, tzinfo=UTC).timestamp()
HOUR = 3600.0


class Clock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def hourly(limit: int, key: str = "provider:outbox") -> Quota:
    return Quota(key, Period.HOUR, limit, f"the hourly limit of outbox ({limit:,} an hour)")


def daily(limit: int, key: str = "provider:outbox") -> Quota:
    return Quota(key, Period.DAY, limit, f"the daily limit of outbox ({limit:,} a day)")


def frozen(db: Database, tmp_path: object, recipients: int = 10) -> int:
    import_examples(db)
    add_subscribers(db, recipients)
    campaign_id = new_campaign(db)
    freeze_campaign(db, campaign_id, Settings())
    return campaign_id


def reason(db: Database, campaign_id: int) -> str | None:
    with db.transaction() as session:
        return session.get_one(Campaign, campaign_id).status_reason


def test_two_workers_share_one_pace(db: Database) -> None:
    clock = Clock()
    plan = ShapingPlan(paces=(Pace("provider:outbox", 100.0),))
    first, second = (SendShaper(db, 1, plan, clock=clock) for _ in range(2))
    assert first.batch(1000) == 20  # 0.2 s of 100/s
    assert first.admit(1000)[:2] == (1000, 0.0)  # booked at send time, not before the claim
    assert first.pace(20) == 0.0
    assert second.pace(20) == pytest.approx(0.2)
    assert first.pace(20) == pytest.approx(0.4)
    clock.now += 10  # idle time is not saved up into a burst
    assert second.pace(20) == 0.0
    assert first.pace(20) == pytest.approx(0.2)


def test_a_delivery_window_is_booked_before_the_claim(db: Database) -> None:
    clock = Clock()
    window = Pace("campaign:1", 1.0, 50.0, before_claim=True)  # 3,000 over 50 minutes
    shaper = SendShaper(db, 1, ShapingPlan(paces=(window,)), clock=clock)
    assert shaper.batch(1000) == 50
    assert shaper.admit(50)[:2] == (50, 0.0)
    assert shaper.admit(50)[:2] == (50, pytest.approx(50.0))
    assert shaper.pace(50) == 0.0
    # booked 100 s ahead: past the horizon (60 s) nothing is booked; come back in 40 s
    assert shaper.admit(50)[:2] == (0, pytest.approx(40.0))
    clock.now += 40
    assert shaper.admit(50)[:2] == (50, pytest.approx(60.0))


def test_an_hourly_quota_runs_out_and_reopens_the_next_hour(db: Database, tmp_path: object) -> None:
    campaign_id = frozen(db, tmp_path)
    with db.transaction() as session:
        session.get_one(Campaign, campaign_id).status = "sending"
    clock = Clock()
    shaper = SendShaper(db, campaign_id, ShapingPlan(quotas=(hourly(50),)), clock=clock)
    assert shaper.admit(30)[:2] == (30, 0.0)
    assert shaper.admit(30)[:2] == (20, 0.0)  # what is left, not refused
    allowed, wait, _ = shaper.admit(30)
    assert allowed == 0 and wait == pytest.approx(30 * 60)  # 12:30 → 13:00
    assert reason(db, campaign_id) == (
        "waiting for the hourly limit of outbox (50 an hour): resumes at 2026-12-02 13:00 UTC"
    )
    clock.now += HOUR
    assert shaper.admit(30)[:2] == (30, 0.0)
    assert reason(db, campaign_id) is None  # moving again: the reason is gone


def test_the_least_of_several_quotas_is_taken_from_each(db: Database) -> None:
    clock = Clock()
    plan = ShapingPlan(quotas=(hourly(100), daily(40)))
    shaper = SendShaper(db, 1, plan, clock=clock)
    assert shaper.admit(60)[:2] == (40, 0.0)
    with db.transaction() as session:
        used = {
            period: n for period, n in session.execute(select(SendQuota.period, SendQuota.used))
        }
    assert used == {"hour": 40, "day": 40}  # the hour gave back what the day did not allow
    clock.now += HOUR  # a new hour, the same day: the day holds
    allowed, wait, _ = shaper.admit(10)
    assert allowed == 0 and wait == pytest.approx(10.5 * HOUR)  # 13:30 → midnight


def test_rows_a_claim_did_not_find_are_given_back(db: Database) -> None:
    shaper = SendShaper(db, 1, ShapingPlan(quotas=(daily(50),)), clock=Clock())
    assert shaper.admit(50)[:2] == (50, 0.0)
    shaper.give_back(20)
    assert shaper.admit(50)[:2] == (20, 0.0)


def test_quota_goes_back_to_the_hour_it_was_taken_from(db: Database) -> None:
    clock = Clock()
    shaper = SendShaper(db, 1, ShapingPlan(quotas=(hourly(50),)), clock=clock)
    allowed, _, taken_at = shaper.admit(30)
    assert (allowed, taken_at) == (30, NOON)
    clock.now += HOUR  # the batch was retried into the next hour, then put back
    assert shaper.admit(40)[:2] == (40, 0.0)
    shaper.give_back(30, taken_at)  # to 12:00–13:00, which is over: not to 13:00–14:00
    assert shaper.admit(40)[:2] == (10, 0.0)
    shaper.give_back(10, clock.now)
    assert shaper.admit(40)[:2] == (10, 0.0)


def test_warm_up_day_one_and_day_two(db: Database) -> None:
    clock = Clock()
    warmup = WarmUp("example.org", date(2026, 12, 2), start=1000, factor=1.5)
    shaper = SendShaper(db, 1, ShapingPlan(warmup=warmup), clock=clock)
    assert shaper.admit(800)[:2] == (800, 0.0)
    assert shaper.admit(800)[:2] == (200, 0.0)
    assert shaper.admit(800)[0] == 0
    clock.now += 24 * HOUR  # day 2: 1,500
    assert [shaper.admit(1000)[0] for _ in range(3)] == [1000, 500, 0]
    clock.now += 24 * HOUR  # day 3: 2,250
    assert [shaper.admit(1000)[0] for _ in range(4)] == [1000, 1000, 250, 0]
    assert warmup.limit(date(2026, 12, 11)) == int(1000 * 1.5**9)


def test_no_limit_means_no_shaper_and_the_domain_is_recorded(
    db: Database, tmp_path: object
) -> None:
    campaign_id = frozen(db, tmp_path)
    clock = Clock()
    assert shaper_for(db, Settings(), campaign_id, clock=clock) is None
    rows = warmup_status(db, Settings(), clock=clock)
    assert [(r.domain, r.first_sent_on, r.day, r.limit_today) for r in rows] == [
        ("example.org", date(2026, 12, 2), 1, None)
    ]
    clock.now += 24 * HOUR  # the first day stays the first day
    warm = Settings(warmup_start=1000)
    shaper = shaper_for(db, warm, campaign_id, clock=clock)
    assert shaper is not None and shaper.plan.warmup is not None
    assert shaper.plan.warmup.limit(date(2026, 12, 3)) == 1500
    assert shaper.admit(400)[:2] == (400, 0.0)
    (row,) = warmup_status(db, warm, clock=clock)
    assert (row.day, row.limit_today, row.sent_today) == (2, 1500, 400)


def test_a_domain_that_sent_before_is_given_its_first_day(db: Database) -> None:
    set_first_day(db, "Example.ORG", date(2026, 11, 1))
    (row,) = warmup_status(db, Settings(warmup_start=1000), clock=Clock())
    assert (row.domain, row.day) == ("example.org", 32)
    set_first_day(db, "example.org", date(2026, 12, 2))  # start again today
    assert warmup_status(db, Settings(), clock=Clock())[0].day == 1
    with pytest.raises(InvalidInput, match="not a domain name"):
        set_first_day(db, "bad domain!", date(2026, 12, 2))


def test_the_plan_follows_the_settings(tmp_path: object) -> None:
    settings = Settings(
        provider="smtp",
        smtp_url="smtp://user:pw@Mail.Example.net:587",
        send_limit_per_second=300,
        send_limit_per_hour=10_000,
        send_limit_per_day=50_000,
    )
    envelope = envelope_for(settings, 7, "everyone")
    plan = plan_for(settings, 7, envelope, spread=(6000, 10.0), first_day=None)
    assert [p.key for p in plan.paces] == ["provider:smtp:mail.example.net", "campaign:7"]
    assert plan.paces[1].rate == pytest.approx(10.0)  # 6,000 over 10 minutes
    assert plan.paces[1].batch == 30  # a window is cut into about 200 batches
    assert [q.period for q in plan.quotas] == ["hour", "day"]
    assert plan.warmup is None  # warm-up off
    assert plan.batch(1000) == 30
    assert plan_for(Settings(), 7, envelope_for(Settings(), 7, "everyone")).empty


def test_a_provider_may_have_limits_of_its_own() -> None:
    settings = Settings(
        provider="smtp",
        smtp_url="smtp://relay.example.org",
        send_limit_per_second=100,
        send_limit_per_day=1_000_000,
        send_limits={
            "SMTP:Relay.Example.org": {"per_second": 14},
            "sendgrid": {"per_hour": 5000},
        },
    )
    plan = plan_for(settings, 1, envelope_for(settings, 1, "everyone"))
    assert [(p.key, p.rate) for p in plan.paces] == [("provider:smtp:relay.example.org", 14)]
    assert [(q.period, q.limit) for q in plan.quotas] == [("day", 1_000_000)]  # the general one
    sendgrid = settings.model_copy(update={"provider": "sendgrid", "sendgrid_api_key": "k" * 40})
    plan = plan_for(sendgrid, 1, envelope_for(sendgrid, 1, "everyone"))
    assert [p.rate for p in plan.paces] == [100]
    assert [(q.period, q.limit) for q in plan.quotas] == [("hour", 5000), ("day", 1_000_000)]
    with pytest.raises(ValidationError, match="'sendgird' is not a provider"):
        Settings(send_limits={"sendgird": {"per_day": 5}})
    with pytest.raises(ValidationError, match="per_dya"):
        Settings(send_limits={"sendgrid": {"per_dya": 5}})


@pytest.mark.parametrize(
    "setting", ["SEND_LIMIT_PER_SECOND", "SEND_LIMIT_PER_HOUR", "WARMUP_START", "WARMUP_FACTOR"]
)
def test_nonsense_limits_are_refused_naming_the_setting(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"NEWSLETTER_{setting}", "0")
    with pytest.raises(ValidationError, match=setting.lower()):
        Settings()

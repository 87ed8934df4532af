"""The weekly digest holds the week's news: chosen by the briefs' own dates, dated by its send day.

A ready brief belongs to a week's digest when it was updated in the week or the grace days
before it; older ready briefs are left out and named, unless included on purpose; a brief
is not sent in two digests unless updated since the first. An issue names the day it is
sent (or scheduled) in the subject and the masthead, never the week's exclusive end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from campaigns.digest import add_new_briefs, create_weekly_digest
from campaigns.digest_weeks import digest_weeks
from campaigns.model import Campaign
from campaigns.sending import send_campaign, start_due_campaigns
from campaigns.service import get_campaign, schedule_campaign
from campaigns.weeks import IsoWeek
from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import ConflictError, NotFoundError
from newsletter.render.environment import long_date
from tests.campaigns.helpers import add_subscribers, html_of, outbox_mails, ready_brief

W48 = IsoWeek.parse("2026-W48")  # Monday 23 November – Sunday 29 November 2026


def dated_briefs(db: Database) -> None:
    """Ready briefs around W48's window (16–29 November with the default grace of 7 days)."""
    ready_brief(db, "fresh", date(2026, 11, 25))
    ready_brief(db, "first-grace-day", date(2026, 11, 16))
    ready_brief(db, "a-day-too-old", date(2026, 11, 15))
    ready_brief(db, "seed-2023", date(2023, 3, 24))
    ready_brief(db, "next-week", date(2026, 11, 30))
    ready_brief(db, "not-ready", date(2026, 11, 24), status="draft")


def test_stale_ready_briefs_are_left_out_and_named(db: Database) -> None:
    dated_briefs(db)
    result = create_weekly_digest(db, W48, settings=Settings())
    assert result.brief_slugs == ("fresh", "first-grace-day")  # newest first
    reasons = {item.slug: item.reason for item in result.left_out}
    assert reasons == {
        "a-day-too-old": "stale: updated on 15 November 2026",
        "seed-2023": "stale: updated on 24 March 2023",
    }


def test_the_grace_is_a_setting(db: Database) -> None:
    dated_briefs(db)
    result = create_weekly_digest(db, W48, settings=Settings(digest_grace_days=0))
    assert result.brief_slugs == ("fresh",)
    assert {i.slug for i in result.left_out} == {"first-grace-day", "a-day-too-old", "seed-2023"}


def test_a_stale_brief_is_taken_when_included_explicitly(db: Database) -> None:
    dated_briefs(db)
    result = create_weekly_digest(db, W48, settings=Settings(), include=["seed-2023"])
    assert result.brief_slugs == ("fresh", "first-grace-day", "seed-2023")
    assert [i.slug for i in result.left_out] == ["a-day-too-old"]
    again = create_weekly_digest(db, W48, settings=Settings(), include=["a-day-too-old"])
    assert not again.created and again.left_out == ()
    assert again.brief_slugs == ("fresh", "first-grace-day", "a-day-too-old", "seed-2023")
    with pytest.raises(ConflictError, match="'not-ready' is draft: mark it ready"):
        create_weekly_digest(db, W48, settings=Settings(), include=["not-ready"])
    with pytest.raises(NotFoundError, match="no brief with slug 'nowhere'"):
        create_weekly_digest(db, W48, settings=Settings(), include=["nowhere"])


def test_nothing_fresh_names_what_was_left_out(db: Database) -> None:
    ready_brief(db, "seed-2023", date(2023, 3, 24))
    with pytest.raises(NotFoundError, match=r"nothing to digest; left out: seed-2023 \(stale"):
        create_weekly_digest(db, W48, settings=Settings())


def test_a_brief_is_not_in_two_consecutive_digests_unless_updated_since(db: Database) -> None:
    ready_brief(db, "sunday-story", date(2026, 11, 29))
    ready_brief(db, "revised-story", date(2026, 11, 27))
    first = create_weekly_digest(db, W48, settings=Settings())
    with db.transaction() as session:  # the W48 issue went out on Sunday 29 November
        session.execute(update(Campaign).values(issue_date=date(2026, 11, 29)))
    ready_brief(db, "revised-story", date(2026, 12, 1))  # updated after that issue
    ready_brief(db, "monday-story", date(2026, 11, 30))
    second = create_weekly_digest(db, IsoWeek.parse("2026-W49"), settings=Settings())
    assert second.brief_slugs == ("revised-story", "monday-story")
    assert [(i.slug, i.reason) for i in second.left_out] == [
        ("sunday-story", "in the digest of 2026-W48 already")
    ]
    with db.transaction() as session:
        session.execute(
            update(Campaign).where(Campaign.id == first.campaign_id).values(status="cancelled")
        )
        session.execute(
            update(Campaign)
            .where(Campaign.id == second.campaign_id)
            .values(status="cancelled", digest_week=None)
        )
    third = create_weekly_digest(db, IsoWeek.parse("2026-W49"), settings=Settings())
    assert "sunday-story" in third.brief_slugs  # the W48 digest was cancelled: never sent


def test_digest_create_prints_what_it_left_out(db: Database) -> None:
    dated_briefs(db)
    result = CliRunner().invoke(app, ["digest", "create", "--week", "2026-W48"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "left out (2):" in out
    assert "seed-2023: stale: updated on 24 March 2023" in out
    assert "--include SLUG" in out
    again = CliRunner().invoke(
        app, ["digest", "create", "--week", "2026-W48", "--include", "seed-2023"]
    )
    assert again.exit_code == 0, again.output
    assert "already exists" in again.stdout and "  seed-2023" in again.stdout
    assert "left out (1):" in again.stdout


def test_an_issue_is_dated_by_the_day_it_is_sent_in_subject_and_masthead(
    db: Database, tmp_path: Path
) -> None:
    """W48's exclusive end is Monday 30 November: no mail may name it (or any day to come)."""
    ready_brief(db, "fresh", date(2026, 11, 25))
    add_subscribers(db, 2)
    settings = Settings(outbox=tmp_path / "outbox", editor_timezone="Pacific/Kiritimati")
    result = create_weekly_digest(db, W48, settings=settings)
    send_campaign(db, settings, result.campaign_id)
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()  # UTC+14: often tomorrow
    with db.transaction() as session:
        assert get_campaign(session, result.campaign_id).issue_date == today
    for message in outbox_mails(tmp_path / "outbox"):
        assert str(message["Subject"]) == f"Story fresh · The Briefing weekly, {long_date(today)}"
        assert f"{long_date(today)} · " in html_of(message)  # the masthead
        assert "30 November" not in str(message["Subject"]) + html_of(message)


def test_a_scheduled_issue_is_dated_by_its_day_and_again_when_it_starts(
    db: Database, tmp_path: Path
) -> None:
    ready_brief(db, "fresh", date(2026, 11, 25))
    add_subscribers(db, 1)
    settings = Settings(outbox=tmp_path / "outbox", editor_timezone="Europe/Berlin")
    later = datetime(2030, 1, 1, 23, 30, tzinfo=UTC)  # 2 January in Berlin
    result = create_weekly_digest(db, W48, settings=settings, send_at=later)
    with db.transaction() as session:
        campaign = get_campaign(session, result.campaign_id)
        assert campaign.status == "scheduled" and campaign.issue_date == date(2030, 1, 2)
        schedule_campaign(session, campaign.id, utcnow() - timedelta(minutes=1), settings)
    (started,) = start_due_campaigns(db, settings)
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    with db.transaction() as session:
        assert get_campaign(session, started.campaign_id).issue_date == today
    assert long_date(today) in started.variants[0].subject


def test_a_brief_marked_ready_after_the_digest_is_new_and_one_call_adds_it(db: Database) -> None:
    dated_briefs(db)
    first = create_weekly_digest(db, W48, settings=Settings())
    assert first.new == ()
    ready_brief(db, "late-story", date(2026, 11, 26))  # marked ready after the digest exists
    ready_brief(db, "late-and-old", date(2026, 10, 1))  # ready now, but not this week's news
    again = create_weekly_digest(db, W48, settings=Settings())
    assert not again.created and again.brief_slugs == first.brief_slugs
    assert [(i.slug, i.reason) for i in again.new] == [("late-story", "new since you created this")]
    assert "late-and-old" in {i.slug for i in again.left_out if not i.new}  # stale, not new
    with db.transaction() as session:
        assert add_new_briefs(session, first.campaign_id, Settings()) == ["late-story"]
        campaign = get_campaign(session, first.campaign_id)
        assert len(campaign.briefs) == 3
        assert add_new_briefs(session, first.campaign_id, Settings()) == []
    after = create_weekly_digest(db, W48, settings=Settings())
    assert after.brief_slugs == ("late-story", "fresh", "first-grace-day")  # newest first
    assert after.new == ()


def test_a_brief_taken_out_by_the_editor_is_not_new(db: Database) -> None:
    dated_briefs(db)
    result = create_weekly_digest(db, W48, settings=Settings())
    with db.transaction() as session:
        campaign = get_campaign(session, result.campaign_id)
        campaign.briefs.pop(0)  # the editor took "fresh" out
    again = create_weekly_digest(db, W48, settings=Settings())
    assert next((i.slug, i.reason, i.new) for i in again.left_out) == (
        "fresh",
        "taken out of this campaign",
        False,
    )


def test_the_weeks_offered_are_this_week_and_last_with_their_counts(db: Database) -> None:
    dated_briefs(db)  # W48: fresh, first-grace-day; next-week (30 November) is W49's
    with db.transaction() as session:
        offers = digest_weeks(session, date(2026, 12, 2), Settings())
    assert [(str(o.week), o.label, o.brief_count, o.made) for o in offers] == [
        ("2026-W49", "this week", 2, False),  # next-week, fresh (in W49's grace days)
        ("2026-W48", "last week", 2, False),
    ]
    made = create_weekly_digest(db, W48, settings=Settings())
    ready_brief(db, "late-story", date(2026, 11, 27))
    with db.transaction() as session:
        last = digest_weeks(session, date(2026, 12, 2), Settings())[1]
    assert (last.campaign_id, last.status, last.brief_count, last.new_count) == (
        made.campaign_id,
        "draft",
        2,
        1,
    )


def test_digest_create_for_an_existing_week_says_what_is_new_and_how_to_add_it(
    db: Database,
) -> None:
    dated_briefs(db)
    create_weekly_digest(db, W48, settings=Settings())
    ready_brief(db, "late-story", date(2026, 11, 26))
    ready_brief(db, "later-story", date(2026, 11, 27))
    result = CliRunner().invoke(app, ["digest", "create", "--week", "2026-W48"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "already exists" in out
    assert "new since you created this (2):" in out
    assert "  late-story: Story late-story" in out
    command = "newsletter digest create --week 2026-W48 --include later-story,late-story"
    assert f"add them: {command}" in out
    added = CliRunner().invoke(app, command.split()[1:])
    assert added.exit_code == 0, added.output
    assert "new since" not in added.stdout
    assert "  later-story\n  late-story\n  fresh" in added.stdout

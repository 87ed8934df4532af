"""Campaigns: creation, transitions, the weekly digest, and freezing, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaigns.checks import Check
from campaigns.digest import DIGEST_SUBJECT, create_weekly_digest
from campaigns.freeze import freeze_campaign
from campaigns.model import Delivery, Variant
from campaigns.service import (
    CampaignDraft,
    cancel_campaign,
    create_campaign,
    delivery_counts,
    override_check,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from campaigns.weeks import InvalidWeek, IsoWeek
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.errors import ConflictError, NotFoundError, RenderError
from newsletter.render.options import VariantOptions
from subscribers.model import Subscriber
from subscribers.suppression import suppress
from tests.campaigns.helpers import SLUGS, add_segment, add_subscribers, import_examples
from tests.render.conftest import compile_
from tests.render.fixtures import WEEK

SEED_SLUG = "ukrainian-commander-russia-losing-steam-in-bakhmut"


def make(db: Database, **changes: object) -> int:
    draft = CampaignDraft(name="Test issue", brief_slugs=list(SLUGS))
    draft = CampaignDraft(**{**draft.__dict__, **changes})  # type: ignore[arg-type]
    with db.transaction() as session:
        return create_campaign(session, draft).id


def test_iso_weeks() -> None:
    week = IsoWeek.parse("2026-W48")
    assert (week.start, week.end) == (
        datetime(2026, 11, 23, tzinfo=UTC),
        datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert str(IsoWeek.of(datetime(2027, 1, 1, tzinfo=UTC))) == "2026-W53"
    for bad in ("2026-48", "2026-W54", "W48", "9999-W52", "0001-W01"):
        with pytest.raises(InvalidWeek):
            IsoWeek.parse(bad)


def test_create_refuses_what_cannot_be_sent(db: Database) -> None:
    import_examples(db)
    with pytest.raises(NotFoundError, match="no brief with slug 'nope'"):
        make(db, brief_slugs=["nope"])
    with pytest.raises(NotFoundError, match="no segment named 'vip'"):
        make(db, segment_names=["vip"])
    with pytest.raises(RenderError, match="subject:1"):
        make(db, subject="{{ first_title ")
    with pytest.raises(ConflictError, match="at least one brief"):
        make(db, brief_slugs=[])
    with pytest.raises(ConflictError, match="time zone"):
        make(db, send_at=datetime(2026, 12, 1, 7))


def test_status_transitions(db: Database) -> None:
    import_examples(db)
    campaign_id = make(db)
    soon = datetime.now(UTC) + timedelta(hours=1)
    with db.transaction() as session:
        assert schedule_campaign(session, campaign_id, soon).status == "scheduled"
        assert pause_campaign(session, campaign_id).status == "paused"
        assert resume_campaign(session, campaign_id).status == "scheduled"
    with db.transaction() as session, pytest.raises(ConflictError, match="can only resume"):
        resume_campaign(session, campaign_id)
    with db.transaction() as session:
        assert cancel_campaign(session, campaign_id).status == "cancelled"
    with db.transaction() as session, pytest.raises(ConflictError, match="is cancelled"):
        schedule_campaign(session, campaign_id, soon)


def test_weekly_digest_is_idempotent_and_leaves_the_stale_seed_out(db: Database) -> None:
    slugs = import_examples(db)
    week = IsoWeek.parse("2026-W48")
    first = create_weekly_digest(db, week)
    again = create_weekly_digest(db, week)
    assert first.created and not again.created
    assert first.campaign_id == again.campaign_id
    assert [item.slug for item in first.left_out] == [SEED_SLUG]
    assert SEED_SLUG not in first.brief_slugs and len(first.brief_slugs) == len(slugs) - 1
    with pytest.raises(NotFoundError, match="no ready brief was updated in 2020-W01"):
        create_weekly_digest(db, IsoWeek.parse("2020-W01"))


def test_freeze_queues_each_mailable_subscriber_once_with_the_first_matching_variant(
    db: Database,
) -> None:
    import_examples(db)
    add_subscribers(db, 5, topics=["tech"])
    add_subscribers(db, 4, start=100, topics=["economy"])
    add_subscribers(db, 3, start=200)
    add_subscribers(db, 2, start=300, status="pending")
    add_subscribers(db, 1, start=400, status="unsubscribed")
    with db.transaction() as session:
        suppress(session, "reader0@example.org", "complained")
    add_segment(
        db,
        "tech",
        {"type": "topics", "any": ["tech"]},
        {"topics": ["tech"], "narratives": "facts-only"},
    )
    add_segment(db, "economy", {"type": "topics", "any": ["economy", "tech"]}, {"order": "newest"})
    campaign_id = make(db, segment_names=["tech", "economy"])
    settings = Settings()
    result = freeze_campaign(db, campaign_id, settings)
    assert result.created
    assert [(v.name, v.recipients) for v in result.variants] == [("tech", 4), ("economy", 4)]
    again = freeze_campaign(db, campaign_id, settings)
    assert not again.created and again.variants == result.variants
    with db.transaction() as session:
        assert delivery_counts(session, campaign_id) == {"queued": 8}
        tech = session.scalar(select(Variant).where(Variant.name == "tech"))
        assert tech is not None
        assert tech.brief_slugs == ["judge-orders-google-to-sell-its-ad-exchange"]
        assert "Nerd narrative" not in tech.html
        assert session.scalar(select(func.count()).select_from(Delivery)) == 8


def test_everyone_is_the_default_and_the_campaign_subject_applies(db: Database) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = make(db, subject="{{ newsletter_name }} for {{ first_name }}")
    result = freeze_campaign(db, campaign_id, Settings())
    (variant,) = result.variants
    assert variant.name == "everyone" and variant.recipients == 3
    assert variant.subject == "The Briefing for %%nl_first_name%%"


def test_a_segment_that_selects_no_brief_stops_the_freeze(db: Database) -> None:
    import_examples(db)
    add_subscribers(db, 2)
    add_segment(db, "sport", {"type": "everyone"}, {"topics": ["sports"]})
    campaign_id = make(db, segment_names=["sport"])
    with pytest.raises(RenderError, match="no brief matches"):
        freeze_campaign(db, campaign_id, Settings())
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Variant)) == 0
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 2


def test_the_web_version_has_every_brief_and_nothing_personal(db: Database) -> None:
    slugs = import_examples(db)
    add_subscribers(db, 2)
    campaign_id = make(db, brief_slugs=slugs)
    with db.transaction() as session:  # the seed brief's [1]–[6] have no source
        override_check(session, campaign_id, Check.UNSOURCED_CITATIONS, "a test", "tests")
    # outbox: first-party tracking in the email; a budget the twelve briefs do not fit
    freeze_campaign(db, campaign_id, Settings(email_size_budget=50_000))
    with db.transaction() as session:
        variant = session.scalar(select(Variant))
        assert variant is not None
        assert variant.online_slugs, "twelve briefs should not all fit a 50 KB budget"
        for slug in slugs:
            assert f'id="brief-{slug}"' in variant.web_html
        assert "/t/o/" in variant.html and "/t/c/" in variant.html
        for trace in ("%%nl_", "/t/o/", "/t/c/", "/unsubscribe/", "/preferences/"):
            assert trace not in variant.web_html


def test_the_weekly_digests_subject_leads_with_the_top_story() -> None:
    subject = compile_(WEEK, VariantOptions(subject=DIGEST_SUBJECT)).subject
    assert subject.startswith(f"{WEEK[0].title} · The Briefing weekly, 20 November 20")

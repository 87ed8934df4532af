"""Options a provider cannot honour are refused when the campaign is frozen, or left out
when the settings say they may be ignored; today's defaults ask nothing unsupported."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from campaigns.checks import require_startable
from campaigns.envelope import envelope_for, supported
from campaigns.model import Campaign
from campaigns.sending import start_due_campaigns
from campaigns.service import CampaignDraft, create_campaign, get_campaign, schedule_campaign
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import ConfigurationError, UnsupportedFeature
from tests.campaigns.helpers import add_subscribers, ready_brief

SMTP = {"provider": "smtp", "smtp_url": "smtp://127.0.0.1:25", "compliance_checks": False}


def test_the_default_outbox_asks_nothing_it_cannot_honour() -> None:
    envelope = envelope_for(Settings(), 1, "everyone")
    assert envelope.provider == "outbox" and envelope.features == frozenset()
    require_startable(Campaign(id=1), [], Settings())


def test_sendgrid_keeps_its_categories_and_tracking() -> None:
    settings = Settings(provider="sendgrid", tracking="provider", compliance_checks=False)
    envelope = envelope_for(settings, 4, "europe")
    assert envelope.categories == ("newsletter", "campaign-4", "segment-europe")
    assert envelope.tracking.provider_opens and envelope.tracking.provider_clicks


def test_provider_tracking_through_smtp_refuses_the_freeze() -> None:
    settings = Settings(tracking="provider", **SMTP)
    with pytest.raises(UnsupportedFeature, match="smtp provider cannot honour tracking") as caught:
        require_startable(Campaign(id=2), [], settings)
    assert isinstance(caught.value, ConfigurationError)
    assert "NEWSLETTER_IGNORE_UNSUPPORTED=tracking" in str(caught.value)


def test_an_ignored_option_is_left_out_of_what_is_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_IGNORE_UNSUPPORTED", "Tracking, categories")
    settings = Settings(tracking="provider", **SMTP)
    assert settings.ignore_unsupported == ["categories", "tracking"]
    require_startable(Campaign(id=3), [], settings)
    envelope = envelope_for(settings, 3, "everyone")
    assert envelope.features == frozenset()


def test_categories_asked_of_the_outbox_raise_unless_ignored() -> None:
    asked = envelope_for(Settings(provider="sendgrid"), 5, "x").model_copy(
        update={"provider": "outbox"}
    )
    with pytest.raises(UnsupportedFeature, match="categories, tracking"):
        supported(asked)
    with pytest.raises(UnsupportedFeature, match="cannot honour categories: "):
        supported(asked, ignore=["tracking"])
    assert supported(asked, ignore=["categories", "tracking"]).features == frozenset()


def test_an_unknown_option_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_IGNORE_UNSUPPORTED", "tracking,colours")
    with pytest.raises(ValueError, match="ignore_unsupported"):
        Settings()


def test_a_due_campaign_the_provider_cannot_honour_is_paused(db: Database, tmp_path: Path) -> None:
    """Scheduled with the outbox; when it falls due the settings ask SMTP for its tracking."""
    ready_brief(db, "story", date(2026, 11, 25))
    add_subscribers(db, 1)
    with db.transaction() as session:
        campaign_id = create_campaign(
            session, CampaignDraft(name="Issue", brief_slugs=["story"])
        ).id
        schedule_campaign(session, campaign_id, utcnow() + timedelta(days=1), Settings())
        get_campaign(session, campaign_id).send_at = utcnow() - timedelta(minutes=1)
    assert start_due_campaigns(db, Settings(tracking="provider", **SMTP)) == []
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        assert campaign.status == "paused" and campaign.frozen_at is None
        assert "smtp provider cannot honour tracking" in (campaign.status_reason or "")

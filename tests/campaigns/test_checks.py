"""Refused before sending: citations that point to no source (unless an override is recorded)
and mail through a real provider without a postal address, an https List-Unsubscribe or a
List-Id. Every sent message carries a List-Id (RFC 2919)."""

from __future__ import annotations

from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from campaigns.checks import Check, StartRefused
from campaigns.freeze import freeze_campaign
from campaigns.sending import send_campaign, start_due_campaigns
from campaigns.service import (
    CampaignDraft,
    create_campaign,
    get_campaign,
    override_check,
    schedule_campaign,
)
from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import InvalidInput
from tests.campaigns.helpers import add_subscribers, outbox_mails, ready_brief, sendgrid_settings
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.smtp_server import FakeSmtpServer

COMPLIANT: dict[str, Any] = {
    "compliance_checks": True,
    "postal_address": "1 Press Street, 10115 Berlin, Germany",
    "public_url": "https://news.example.org",
    "from_email": "briefing@news.example.org",
}
LIST_ID = '"The Briefing" <the-briefing.news.example.org>'


def campaign_of(db: Database, *slugs: str) -> int:
    with db.transaction() as session:
        return create_campaign(session, CampaignDraft(name="Issue", brief_slugs=slugs)).id


def unsourced_campaign(db: Database) -> int:
    ready_brief(db, "sourced", date(2026, 11, 25))
    ready_brief(db, "copied-without-sources", date(2026, 11, 24), sourced=False)
    add_subscribers(db, 2)
    return campaign_of(db, "sourced", "copied-without-sources")


UNSOURCED = r"copied-without-sources cites \[1\], \[2\], \[3\], \[4\], \[5\], \[6\]"


def test_unsourced_citations_refuse_a_start_and_a_schedule(db: Database, tmp_path: Path) -> None:
    campaign_id = unsourced_campaign(db)
    settings = Settings(outbox=tmp_path / "outbox")
    with pytest.raises(StartRefused, match=UNSOURCED):
        send_campaign(db, settings, campaign_id)
    with db.transaction() as session, pytest.raises(StartRefused, match="override"):
        schedule_campaign(session, campaign_id, utcnow() + timedelta(days=1), settings)
    with db.transaction() as session:
        assert get_campaign(session, campaign_id).status == "draft"
    assert outbox_mails(tmp_path / "outbox") == []


def test_a_recorded_override_lets_it_go_and_says_who_and_why(db: Database, tmp_path: Path) -> None:
    campaign_id = unsourced_campaign(db)
    settings = Settings(outbox=tmp_path / "outbox")
    with db.transaction() as session, pytest.raises(InvalidInput, match="reason: is required"):
        override_check(session, campaign_id, Check.UNSOURCED_CITATIONS, "  ", "ana@example.org")
    with db.transaction() as session:
        override_check(
            session, campaign_id, Check.UNSOURCED_CITATIONS, "sources in the web version", "ana"
        )
    report = send_campaign(db, settings, campaign_id)
    assert report.status == "sent" and len(outbox_mails(tmp_path / "outbox")) == 2
    with db.transaction() as session:
        (entry,) = get_campaign(session, campaign_id).overrides
    assert entry["check"] == "unsourced-citations" and entry["by"] == "ana"
    assert entry["reason"] == "sources in the web version" and entry["at"].startswith("20")


def test_send_and_schedule_take_an_override_with_a_reason(db: Database, tmp_path: Path) -> None:
    campaign_id = unsourced_campaign(db)
    runner = CliRunner()
    refused = runner.invoke(app, ["send", str(campaign_id), "--yes"])
    assert refused.exit_code == 1 and "copied-without-sources cites [1]" in refused.output
    no_reason = runner.invoke(
        app, ["send", str(campaign_id), "--yes", "--override", "unsourced-citations"]
    )
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    args = ["--override", "unsourced-citations", "--reason", "checked by the desk"]
    scheduled = runner.invoke(
        app, ["campaigns", "schedule", str(campaign_id), "--at", "2030-01-01T07:00Z", *args]
    )
    assert scheduled.exit_code == 0, scheduled.output
    sent = runner.invoke(app, ["send", str(campaign_id), "--yes"])
    assert sent.exit_code == 0, sent.output
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
    assert campaign.status == "sent"
    assert [e["reason"] for e in campaign.overrides] == ["checked by the desk"]
    assert campaign.overrides[0]["by"].startswith("cli:")


def test_the_scheduler_pauses_a_due_campaign_without_its_override(
    db: Database, tmp_path: Path
) -> None:
    """The brief lost its sources after the campaign was scheduled: nobody is there to ask."""
    ready_brief(db, "story", date(2026, 11, 25))
    add_subscribers(db, 1)
    campaign_id = campaign_of(db, "story")
    settings = Settings(outbox=tmp_path / "outbox")
    with db.transaction() as session:
        schedule_campaign(session, campaign_id, utcnow() + timedelta(days=1), settings)
    ready_brief(db, "story", date(2026, 11, 25), sourced=False)
    with db.transaction() as session:
        get_campaign(session, campaign_id).send_at = utcnow() - timedelta(minutes=1)
    assert start_due_campaigns(db, settings) == []
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
    assert campaign.status == "paused" and campaign.frozen_at is None
    assert campaign.status_reason is not None
    assert campaign.status_reason.startswith("not started when due: campaign")
    assert "story cites [1]" in campaign.status_reason
    assert outbox_mails(tmp_path / "outbox") == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"postal_address": None}, "set NEWSLETTER_POSTAL_ADDRESS"),
        ({"public_url": "http://news.example.org"}, "set NEWSLETTER_PUBLIC_URL"),
        ({"from_email": "briefing"}, "set NEWSLETTER_LIST_ID"),
    ],
)
def test_a_real_provider_is_refused_without_what_bulk_mail_needs(
    db: Database, smtp_server: FakeSmtpServer, change: dict[str, Any], named: str
) -> None:
    ready_brief(db, "story", date(2026, 11, 25))
    add_subscribers(db, 1)
    campaign_id = campaign_of(db, "story")
    url = f"smtp://127.0.0.1:{smtp_server.port}"
    settings = Settings(provider="smtp", smtp_url=url, **{**COMPLIANT, **change})
    with pytest.raises(StartRefused, match=f"cannot be sent through smtp: .*{named}"):
        freeze_campaign(db, campaign_id, settings)
    with db.transaction() as session, pytest.raises(StartRefused, match=named):
        schedule_campaign(session, campaign_id, utcnow(), settings)
    assert smtp_server.received == []
    outbox = Settings(**{**COMPLIANT, **change})  # the outbox is exempt
    assert send_campaign(db, outbox, campaign_id).status == "sent"


def test_the_list_id_setting_is_checked() -> None:
    assert Settings(list_id="<Briefing.Example.org>").list_id == "briefing.example.org"
    with pytest.raises(ValidationError, match="is not a List-Id"):
        Settings(list_id="briefing")


def test_list_id_in_outbox_and_smtp_mail(
    db: Database, tmp_path: Path, smtp_server: FakeSmtpServer
) -> None:
    ready_brief(db, "story", date(2026, 11, 25))
    add_subscribers(db, 2)
    url = f"smtp://127.0.0.1:{smtp_server.port}"
    report = send_campaign(
        db, Settings(provider="smtp", smtp_url=url, **COMPLIANT), campaign_of(db, "story")
    )
    assert report.status == "sent"
    for received in smtp_server.received:
        message = cast(EmailMessage, message_from_bytes(received.data, policy=policy.default))
        assert str(message["List-Id"]) == LIST_ID
    outbox = Settings(outbox=tmp_path / "outbox", list_id="weekly.example.net")
    assert send_campaign(db, outbox, campaign_of(db, "story")).status == "sent"
    for message in outbox_mails(tmp_path / "outbox"):
        assert str(message["List-Id"]) == '"The Briefing" <weekly.example.net>'


def test_list_id_in_the_sendgrid_payload(db: Database, sendgrid_server: FakeSendGrid) -> None:
    ready_brief(db, "story", date(2026, 11, 25))
    add_subscribers(db, 2)
    settings = sendgrid_settings(sendgrid_server, **COMPLIANT)
    assert send_campaign(db, settings, campaign_of(db, "story")).status == "sent"
    (request,) = [a.body for a in sendgrid_server.accepted]
    for personalization in request["personalizations"]:
        assert personalization["headers"]["List-Id"] == LIST_ID

"""What was previewed is what is sent: the envelope frozen with each variant.

Sender, reply-to, list headers, tracking and provider are decided at the freeze; changing
``NEWSLETTER_FROM_EMAIL``, ``NEWSLETTER_REPLY_TO``, ``NEWSLETTER_TRACKING`` or
``NEWSLETTER_PROVIDER`` before the batches go out changes none of them. A worker that
cannot make the frozen provider pauses the campaign instead of sending through another.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any, cast

import pytest
from alembic import command
from sqlalchemy import select, update

from campaigns.freeze import freeze_campaign
from campaigns.model import Variant
from campaigns.sending import send_campaign
from campaigns.service import resume_campaign
from newsletter.config import Settings, get_settings
from newsletter.db import Database
from newsletter.migrate import alembic_config
from tests.campaigns.helpers import (
    add_subscribers,
    html_of,
    import_examples,
    new_campaign,
    outbox_mails,
    sendgrid_settings,
)
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.smtp_server import FakeSmtpServer

FROZEN: dict[str, Any] = {
    "from_email": "frozen@news.example.org",
    "from_name": "Frozen Briefing",
    "reply_to": "editors@news.example.org",
    "unsubscribe_mailto": "leave@news.example.org",
    "public_url": "https://news.example.org",
}
CHANGED: dict[str, Any] = {
    "from_email": "changed@other.example.org",
    "from_name": "Changed Name",
    "reply_to": "elsewhere@other.example.org",
    "unsubscribe_mailto": None,
    "public_url": "https://other.example.org",
    "tracking": "off",
    "send_retry_base_delay": 0.01,
    "send_retry_max_delay": 0.05,
}
LIST_UNSUBSCRIBE = "<mailto:leave@news.example.org>, <https://news.example.org/unsubscribe/"


def frozen_campaign(db: Database, settings: Settings, recipients: int = 3) -> int:
    import_examples(db)
    add_subscribers(db, recipients)
    campaign_id = new_campaign(db)
    freeze_campaign(db, campaign_id, settings)
    return campaign_id


def assert_frozen_headers(message: EmailMessage) -> None:
    assert parseaddr(str(message["From"])) == ("Frozen Briefing", "frozen@news.example.org")
    assert str(message["Reply-To"]) == "editors@news.example.org"
    unsubscribe = " ".join(str(message["List-Unsubscribe"]).split())
    assert unsubscribe.startswith(LIST_UNSUBSCRIBE)
    assert unsubscribe.split(", <")[1].rstrip(">") in html_of(message)
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_outbox_mail_leaves_as_frozen_when_the_settings_now_say_smtp(
    db: Database, tmp_path: Path
) -> None:
    frozen = Settings(outbox=tmp_path / "frozen", tracking="first-party", **FROZEN)
    campaign_id = frozen_campaign(db, frozen)
    nowhere = Settings(
        provider="smtp", smtp_url="smtp://127.0.0.1:9", outbox=tmp_path / "worker", **CHANGED
    )
    report = send_campaign(db, nowhere, campaign_id)
    assert report.status == "sent", report.status_reason
    assert report.counts == {"sent": 3}
    mails = outbox_mails(tmp_path / "worker")  # the folder is the worker's, like a host
    assert len(mails) == 3 and outbox_mails(tmp_path / "frozen") == []
    for message in mails:
        assert_frozen_headers(message)
        assert "https://news.example.org/t/o/" in html_of(message)  # first-party, as frozen


def test_smtp_mail_leaves_as_frozen_when_the_settings_now_say_outbox(
    db: Database, tmp_path: Path, smtp_server: FakeSmtpServer
) -> None:
    url = f"smtp://127.0.0.1:{smtp_server.port}"
    campaign_id = frozen_campaign(db, Settings(provider="smtp", smtp_url=url, **FROZEN))
    worker = Settings(smtp_url=url, outbox=tmp_path / "outbox", **CHANGED)  # provider: outbox
    report = send_campaign(db, worker, campaign_id)
    assert report.status == "sent" and report.counts == {"sent": 3}
    assert outbox_mails(tmp_path / "outbox") == []
    assert len(smtp_server.received) == 3
    for received in smtp_server.received:
        # the envelope sender is the delivery's VERP return path at the frozen From's domain
        assert received.mail_from.startswith("bounces+")
        assert received.mail_from.endswith("@news.example.org")
        message = cast(EmailMessage, message_from_bytes(received.data, policy=policy.default))
        assert_frozen_headers(message)
        assert "/t/o/" in html_of(message)  # tracking 'auto' at the freeze: our pixel


def test_sendgrid_tracking_and_sender_stay_as_frozen(
    db: Database, tmp_path: Path, sendgrid_server: FakeSendGrid
) -> None:
    campaign_id = frozen_campaign(
        db, sendgrid_settings(sendgrid_server, tracking="provider", **FROZEN)
    )
    worker = sendgrid_settings(
        sendgrid_server, provider="outbox", outbox=tmp_path / "outbox", **CHANGED
    )
    report = send_campaign(db, worker, campaign_id)
    assert report.status == "sent" and report.counts == {"sent": 3}
    assert outbox_mails(tmp_path / "outbox") == []
    (request,) = [a.body for a in sendgrid_server.accepted]
    assert request["from"] == {"email": "frozen@news.example.org", "name": "Frozen Briefing"}
    assert request["reply_to"] == {"email": "editors@news.example.org"}
    assert request["tracking_settings"]["open_tracking"] == {"enable": True}
    assert request["tracking_settings"]["click_tracking"]["enable"] is True
    assert request["categories"] == ["newsletter", f"campaign-{campaign_id}", "segment-everyone"]
    for personalization in request["personalizations"]:
        header = personalization["headers"]["List-Unsubscribe"]
        assert header.startswith(LIST_UNSUBSCRIBE)


def test_a_frozen_provider_this_worker_cannot_make_pauses_the_campaign(
    db: Database, tmp_path: Path, sendgrid_server: FakeSendGrid
) -> None:
    campaign_id = frozen_campaign(db, sendgrid_settings(sendgrid_server))
    keyless = Settings(outbox=tmp_path / "outbox")
    report = send_campaign(db, keyless, campaign_id)
    assert report.status == "paused"
    assert report.status_reason is not None
    assert "sending with sendgrid needs an API key in SENDGRID_API_KEY" in report.status_reason
    assert report.counts == {"queued": 3}
    assert outbox_mails(tmp_path / "outbox") == [] and sendgrid_server.accepted == []

    with db.transaction() as session:
        resume_campaign(session, campaign_id)
    worker = sendgrid_settings(sendgrid_server, provider="outbox", outbox=tmp_path / "outbox")
    report = send_campaign(db, worker, campaign_id)
    assert report.status == "sent" and report.counts == {"sent": 3}
    assert len(sendgrid_server.recipient_counts()) == 3
    assert outbox_mails(tmp_path / "outbox") == []


def test_an_unreadable_stored_envelope_pauses_with_the_reason(db: Database, tmp_path: Path) -> None:
    campaign_id = frozen_campaign(db, Settings(outbox=tmp_path / "outbox"))
    with db.transaction() as session:
        session.execute(update(Variant).values(envelope={"provider": "pigeon"}))
    report = send_campaign(db, Settings(outbox=tmp_path / "outbox"), campaign_id)
    assert report.status == "paused" and report.counts == {"queued": 3}
    assert report.status_reason is not None
    assert "stored envelope is unusable: provider:" in report.status_reason
    assert outbox_mails(tmp_path / "outbox") == []


def test_the_migration_gives_variants_in_flight_an_envelope(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variants frozen before the envelope existed get the settings in force at the upgrade
    (what the old dispatch would have used) and the provider their campaign recorded."""
    campaign_id = frozen_campaign(db, Settings(outbox=tmp_path / "outbox"))
    with db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0006")
    for name, value in {
        "FROM_EMAIL": "upgraded@news.example.org",
        "REPLY_TO": "editors@news.example.org",
        "TRACKING": "off",
        "PROVIDER": "smtp",  # the campaign recorded the outbox: that one stays
        "SMTP_URL": "smtp://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    get_settings.cache_clear()
    assert "0007" in db.upgrade()
    with db.transaction() as session:
        (envelope,) = session.scalars(select(Variant.envelope)).all()
    assert envelope["provider"] == "outbox"
    assert envelope["from_email"] == "upgraded@news.example.org"
    assert envelope["reply_to"] == "editors@news.example.org"
    assert envelope["list_headers"]["List-Unsubscribe"] == "<%%nl_unsubscribe_url%%>"
    assert not any(envelope["tracking"].values())
    assert envelope["categories"][1] == f"campaign-{campaign_id}"

    report = send_campaign(db, get_settings(), campaign_id)
    assert report.status == "sent" and report.counts == {"sent": 3}
    mails = outbox_mails(tmp_path / "outbox")  # the default folder: cwd is tmp_path
    assert len(mails) == 3
    assert parseaddr(str(mails[0]["From"]))[1] == "upgraded@news.example.org"

"""Sending a campaign end to end: outbox (the default) and SendGrid through the fake server.

These are the issue's reliability checks that run in one process: every recipient arrives
exactly once, retryable failures are retried, a 400 fails only its batch with SendGrid's
words, bad credentials pause the campaign, ambiguous outcomes are 'unknown'.
"""

from __future__ import annotations

import email
import mailbox
from collections import Counter
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campaigns.model import Campaign, Delivery
from campaigns.sending import send_campaign
from campaigns.service import delivery_counts
from newsletter.cli.app import app
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.errors import ConflictError
from subscribers.model import Subscriber
from tests.campaigns.helpers import (
    SLUGS,
    add_subscribers,
    import_examples,
    new_campaign,
    sendgrid_settings,
)
from tests.fakes.sendgrid_server import FakeSendGrid


def body(message: Message, subtype: str) -> str:
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError(f"no text/{subtype} part")


def test_outbox_send_end_to_end(db: Database, tmp_path: Path) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 25)
    campaign_id = new_campaign(db)
    settings = Settings(outbox=tmp_path / "outbox", unsubscribe_mailto="unsubscribe@example.org")
    report = send_campaign(db, settings, campaign_id)
    assert report.status == "sent"
    assert report.counts == {"sent": 25}
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    messages = [email.message_from_bytes(box.get_bytes(key)) for key in box.iterkeys()]
    assert sorted(m["To"].split("<")[-1].rstrip(">") for m in messages) == sorted(addresses)
    first = next(m for m in messages if "reader7@" in m["To"])
    html, text = body(first, "html"), body(first, "plain")
    assert "%%nl_" not in html + text + first["Subject"]
    assert "Reader 7" in html and "Reader 7" in text
    unsubscribe = " ".join(first["List-Unsubscribe"].split())  # unfold
    assert unsubscribe.startswith(
        "<mailto:unsubscribe@example.org>, <http://127.0.0.1:8000/unsubscribe/"
    )
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = unsubscribe.split(", <")[1].rstrip(">")
    assert url in html and url in text
    assert "/t/o/" in html  # first-party open pixel for outbox sends
    with db.transaction() as session:
        ids = {d.message_id for d in session.scalars(select(Delivery))}
        assert len(ids) == 25 and first["Message-ID"] in ids
    with pytest.raises(ConflictError, match="was sent already"):
        send_campaign(db, settings, campaign_id)


def accepted_once(server: FakeSendGrid, addresses: list[str]) -> None:
    counts = server.recipient_counts()
    assert Counter({a: 1 for a in addresses}) == counts


def test_sendgrid_send_maps_every_recipient(db: Database, sendgrid_server: FakeSendGrid) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 250)
    campaign_id = new_campaign(db)
    settings = sendgrid_settings(sendgrid_server)
    report = send_campaign(db, settings, campaign_id)
    assert report.status == "sent" and report.counts == {"sent": 250}
    accepted_once(sendgrid_server, addresses)
    requests = sendgrid_server.accepted
    assert len(requests) == 3
    request = requests[0].body
    assert request["tracking_settings"]["open_tracking"]["enable"] is True
    assert request["custom_args"]["nl_campaign"] == str(campaign_id)
    personalization = request["personalizations"][0]
    assert personalization["custom_args"]["nl_delivery"].isdigit()
    assert set(personalization["substitutions"]) >= {
        "%%nl_first_name_html%%",
        "%%nl_unsubscribe_url%%",
    }
    assert personalization["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "%%nl_unsubscribe_url%%" in request["content"][1]["value"]
    with db.transaction() as session:
        message_ids = {d.message_id for d in session.scalars(select(Delivery))}
    assert message_ids == {r.message_id for r in requests}


def test_twenty_percent_429_and_500_still_delivers_everything_once(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 600)
    sendgrid_server.configure(failure_rate=0.2, failure_statuses=(429, 500), seed=7)
    campaign_id = new_campaign(db)
    report = send_campaign(db, sendgrid_settings(sendgrid_server, send_batch_size=50), campaign_id)
    assert report.status == "sent", report.status_reason
    assert report.counts == {"sent": 600}
    assert report.stats.retries > 0
    accepted_once(sendgrid_server, addresses)


def test_a_400_fails_only_its_batch_and_says_why(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    add_subscribers(db, 300)
    sendgrid_server.fail_next(
        400, message="The from address does not match a verified Sender Identity."
    )
    campaign_id = new_campaign(db)
    report = send_campaign(db, sendgrid_settings(sendgrid_server), campaign_id)
    assert report.counts == {"failed": 100, "sent": 200}
    assert report.status == "sent"
    result = CliRunner().invoke(app, ["campaigns", "show", str(campaign_id)])
    assert result.exit_code == 0, result.output
    assert "100 failed: sendgrid rejected the request: The from address does not match" in " ".join(
        result.output.split()
    )


def test_bad_credentials_pause_the_campaign_and_lose_nobody(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 150)
    campaign_id = new_campaign(db)
    settings = sendgrid_settings(sendgrid_server, sendgrid_api_key="SG.wrong")
    report = send_campaign(db, settings, campaign_id)
    assert report.status == "paused"
    assert report.status_reason and "refused our credentials" in report.status_reason
    assert report.counts == {"queued": 150}
    with pytest.raises(ConflictError, match="is paused: resume it first"):
        send_campaign(db, sendgrid_settings(sendgrid_server), campaign_id)
    result = CliRunner().invoke(app, ["campaigns", "resume", str(campaign_id)])
    assert result.exit_code == 0, result.output
    report = send_campaign(db, sendgrid_settings(sendgrid_server), campaign_id)
    assert report.status == "sent" and report.counts == {"sent": 150}
    accepted_once(sendgrid_server, addresses)


def test_ambiguous_outcomes_are_unknown_and_only_resent_on_purpose(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    addresses = add_subscribers(db, 300)
    sendgrid_server.drop_next(1, accept=True)  # accepted, but the answer never comes back
    campaign_id = new_campaign(db)
    settings = sendgrid_settings(sendgrid_server)
    report = send_campaign(db, settings, campaign_id)
    assert report.counts == {"sent": 200, "unknown": 100}
    assert report.status == "sent"
    assert sorted(sendgrid_server.recipient_counts().values()) == [1] * 300  # all arrived once
    retried = send_campaign(db, settings, campaign_id, retry_unknown=True)
    assert retried.counts == {"sent": 300}
    counts = sendgrid_server.recipient_counts()
    assert sum(counts.values()) == 400  # the 100 unknown ones got it twice: the person chose so
    assert set(counts) == set(addresses)


def test_subscribers_who_leave_after_the_freeze_are_skipped(
    db: Database, sendgrid_server: FakeSendGrid
) -> None:
    import_examples(db)
    add_subscribers(db, 10)
    campaign_id = new_campaign(db)
    settings = sendgrid_settings(sendgrid_server)
    from campaigns.freeze import freeze_campaign

    freeze_campaign(db, campaign_id, settings)
    with db.transaction() as session:
        leaver = session.scalar(select(Subscriber).where(Subscriber.email == "reader3@example.org"))
        assert leaver is not None
        leaver.status = "unsubscribed"
    report = send_campaign(db, settings, campaign_id)
    assert report.counts == {"sent": 9, "skipped": 1}
    assert "reader3@example.org" not in sendgrid_server.recipient_counts()
    with db.transaction() as session:
        assert session.get(Campaign, campaign_id).status == "sent"  # type: ignore[union-attr]
        assert delivery_counts(session, campaign_id)["skipped"] == 1


def _weekly_from_the_cli(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, readers: int
) -> tuple[CliRunner, str]:
    """``readers`` subscribers and a campaign made with `campaigns create` (its id)."""
    import_examples(db)
    add_subscribers(db, readers)
    monkeypatch.setenv("NEWSLETTER_OUTBOX", str(tmp_path / "box"))
    runner = CliRunner()
    created = runner.invoke(app, ["campaigns", "create", "--name", "Weekly", "--briefs", *SLUGS])
    assert created.exit_code == 0, created.output
    return runner, created.stdout.strip()


def test_send_command_shows_progress_and_a_summary(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, campaign_id = _weekly_from_the_cli(db, tmp_path, monkeypatch, readers=12)
    sent = runner.invoke(app, ["send", campaign_id, "--yes"])
    assert sent.exit_code == 0, sent.output
    assert "variant everyone: 12 recipients" in sent.stdout
    assert "sent" in sent.stdout and "12" in sent.stdout
    listed = runner.invoke(app, ["campaigns", "list"])
    assert "Weekly" in listed.stdout and "sent" in listed.stdout


def test_send_asks_first_naming_the_recipients_and_dry_run_changes_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, campaign_id = _weekly_from_the_cli(db, tmp_path, monkeypatch, readers=3)
    dry = runner.invoke(app, ["send", campaign_id, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "everyone: 3 recipients" in dry.output and "nothing was sent" in dry.output
    scripted = runner.invoke(app, ["send", campaign_id])
    assert scripted.exit_code == 1 and "add --yes to send without asking" in scripted.output
    monkeypatch.setattr("newsletter.cli.sending._interactive", lambda: True)
    declined = runner.invoke(app, ["send", campaign_id], input="n\n")
    assert declined.exit_code == 1 and "goes to:" in declined.output
    with db.transaction() as session:
        assert session.get(Campaign, int(campaign_id)).status == "draft"  # type: ignore[union-attr]
    accepted = runner.invoke(app, ["send", campaign_id], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "variant everyone: 3 recipients" in accepted.output

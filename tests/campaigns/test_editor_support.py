"""What the editor builds on in the campaigns package: first-match counts that agree with
the freeze, a subscriber's variant, editing a campaign, previews and test sends."""

from __future__ import annotations

import mailbox
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select

from campaigns.audience import audience, frozen_counts, match_subscriber
from campaigns.background import BackgroundWorker
from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign
from campaigns.preview import preview_variant, sample_copy
from campaigns.proofs import parse_test_addresses, send_test
from campaigns.service import (
    CampaignDraft,
    create_campaign,
    get_campaign,
    schedule_campaign,
    update_campaign,
)
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.errors import ConflictError, InvalidInput, InvalidToken
from newsletter.render.recipient import TYPICAL_NAME
from newsletter.tokens import Purpose, TokenSigner
from subscribers.model import Subscriber
from subscribers.suppression import suppress
from tests.campaigns.helpers import (
    SLUGS,
    add_subscribers,
    add_tech_and_economy,
    add_topic_readers,
    import_examples,
)


def _campaign(db: Database, *segments: str, subject: str | None = None) -> int:
    draft = CampaignDraft(
        name="Issue", brief_slugs=list(SLUGS), segment_names=list(segments), subject=subject
    )
    with db.transaction() as session:
        return create_campaign(session, draft).id


def _readers(db: Database) -> None:
    add_topic_readers(db)
    with db.transaction() as session:
        suppress(session, "reader0@example.org", "complained")


def _subscriber(db: Database, email: str) -> Subscriber:
    with db.transaction() as session:
        return session.scalars(select(Subscriber).where(Subscriber.email == email)).one()


def test_first_match_counts_agree_with_what_the_freeze_queues(db: Database) -> None:
    import_examples(db)
    _readers(db)
    add_tech_and_economy(db)
    campaign_id = _campaign(db, "tech", "economy")
    with db.transaction() as session:
        before = audience(session, get_campaign(session, campaign_id))
    assert [(s.name, s.recipients) for s in before] == [("tech", 4), ("economy", 4)]
    result = freeze_campaign(db, campaign_id, Settings())
    # The tech readers chose "tech", so they read only that brief; every brief is economy's.
    assert [(v.name, v.recipients) for v in result.variants] == [
        ("tech", 0),
        ("economy", 4),
        ("tech · topics: tech", 4),
    ]
    with db.transaction() as session:
        after = frozen_counts(session, campaign_id)
    assert [(v.name, v.counts) for v in after] == [
        ("tech", {}),
        ("economy", {"queued": 4}),
        ("tech · topics: tech", {"queued": 4}),
    ]

    everyone = _campaign(db)
    with db.transaction() as session:
        assert [
            (s.name, s.recipients) for s in audience(session, get_campaign(session, everyone))
        ] == [("everyone", 11)]


def test_a_subscribers_variant_before_and_after_the_freeze(db: Database) -> None:
    import_examples(db)
    _readers(db)
    add_tech_and_economy(db)
    campaign_id = _campaign(db, "tech", "economy")
    tech_reader, economy_reader, other = (
        _subscriber(db, e)
        for e in ("reader1@example.org", "reader100@example.org", "reader200@example.org")
    )
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        matches = [
            match_subscriber(session, campaign, s) for s in (tech_reader, economy_reader, other)
        ]
    assert [(m.position, m.variant, m.mailable) for m in matches] == [
        (0, "tech", True),
        (1, "economy", True),
        (None, None, True),
    ]
    suppressed = _subscriber(db, "reader0@example.org")
    freeze_campaign(db, campaign_id, Settings())
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        frozen = match_subscriber(session, campaign, economy_reader)
        left_out = match_subscriber(session, campaign, suppressed)
    assert (frozen.position, frozen.variant) == (1, "economy")
    assert (left_out.position, left_out.mailable) == (None, False)


def test_editing_replaces_briefs_and_segments_until_the_freeze(db: Database) -> None:
    import_examples(db)
    add_tech_and_economy(db)
    campaign_id = _campaign(db, "tech")
    draft = CampaignDraft(
        name="  Issue   two ",
        brief_slugs=[SLUGS[2], SLUGS[0]],
        segment_names=["economy", "tech"],
        subject="{{ first_title }}",
    )
    with db.transaction() as session:
        update_campaign(session, campaign_id, draft)
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        assert campaign.name == "Issue two" and campaign.subject_template == "{{ first_title }}"
        assert [b.position for b in campaign.briefs] == [0, 1]
        assert len(campaign.segments) == 2
        assert preview_variant(session, campaign, Settings(), 0).name == "economy"
    with db.transaction() as session, pytest.raises(ConflictError, match="listed twice"):
        update_campaign(session, campaign_id, CampaignDraft(name="x", brief_slugs=[SLUGS[0]] * 2))
    freeze_campaign(db, campaign_id, Settings())
    with db.transaction() as session, pytest.raises(ConflictError):
        update_campaign(session, campaign_id, draft)


def test_a_preview_is_filled_with_links_that_do_nothing(db: Database) -> None:
    import_examples(db)
    campaign_id = _campaign(db)
    settings = Settings()
    signer = TokenSigner(settings.signing_key())
    with db.transaction() as session:
        email = preview_variant(session, get_campaign(session, campaign_id), settings, 0)
    copy = sample_copy(email, "Zoë <b>")
    assert "Zoë &lt;b&gt;" in copy.html and "Zoë <b>" in copy.text
    assert "%%nl_" not in copy.html + copy.text + copy.subject
    token = copy.html.split("/unsubscribe/", 1)[1].split('"', 1)[0]
    with pytest.raises(InvalidToken):
        signer.verify(Purpose.UNSUBSCRIBE, token)
    anonymous = sample_copy(email)
    assert "Hello there," in anonymous.text and TYPICAL_NAME not in anonymous.text


def test_addresses_for_a_test_are_checked_and_limited() -> None:
    assert parse_test_addresses("a@example.org, B@example.org;\nb@EXAMPLE.org", 3) == [
        "a@example.org",
        "B@example.org",
    ]
    for text, reason in (
        ("", "at least one"),
        ("a@example.org nope", "not a valid"),
        ("a@x.org b@x.org c@x.org d@x.org", "at most 3"),
    ):
        with pytest.raises(InvalidInput, match=reason):
            parse_test_addresses(text, 3)


def _mails(folder: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(folder)
    return [
        cast(EmailMessage, message_from_bytes(box.get_bytes(key), policy=policy.default))
        for key in sorted(box.iterkeys())
    ]


def test_a_test_send_is_marked_untracked_and_refused_once_frozen(
    db: Database, tmp_path: Path
) -> None:
    import_examples(db)
    campaign_id = _campaign(db, subject="Hello {{ first_name }}")
    settings = Settings(outbox=tmp_path / "outbox")  # outbox: first-party tracking when sent
    result = send_test(db, settings, campaign_id, 0, ["ed@example.org", "ann@example.org"])
    assert result.sent == ("ed@example.org", "ann@example.org") and result.failed == ()
    assert result.provider == "outbox" and result.subject.startswith("[TEST] ")
    mails = _mails(tmp_path / "outbox")
    assert sorted(str(m["To"]) for m in mails) == ["ann@example.org", "ed@example.org"]
    for mail in mails:
        assert str(mail["Subject"]) == "[TEST] Hello there"  # no name: the fallback
        html = cast(EmailMessage, mail.get_body(("html",))).get_content()
        assert "/t/o/" not in html and "/t/c/" not in html and "%%nl_" not in html
        assert "Test send." in html  # the banner
    freeze_campaign(db, campaign_id, settings)
    with pytest.raises(ConflictError, match="frozen"):
        send_test(db, settings, campaign_id, 0, ["ed@example.org"])


def test_the_background_worker_starts_and_sends_a_due_campaign(
    db: Database, tmp_path: Path
) -> None:
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = _campaign(db)
    with db.transaction() as session:
        schedule_campaign(session, campaign_id, utcnow())
    settings = Settings(outbox=tmp_path / "outbox", worker_poll_seconds=0.2)
    worker = BackgroundWorker(db, settings)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with db.transaction() as session:
                if session.get(Campaign, campaign_id).status == "sent":  # type: ignore[union-attr]
                    break
            time.sleep(0.1)
    finally:
        worker.stop()
    assert not worker.alive
    with db.transaction() as session:
        assert get_campaign(session, campaign_id).status == "sent"
    assert len(_mails(tmp_path / "outbox")) == 3


def test_the_background_worker_outlives_a_broken_provider(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(provider="sendgrid", worker_poll_seconds=0.05)  # no API key
    worker = BackgroundWorker(db, settings)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while "background send worker failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.alive
    finally:
        worker.stop()
    assert "background send worker failed" in caplog.text and "SENDGRID_API_KEY" in caplog.text
    assert not worker.alive

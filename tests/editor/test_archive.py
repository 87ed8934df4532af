"""The public archive and the view-online link: sent issues only, their frozen web version,
nothing personal, no tracking, and tokens that name a variant and nobody."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import cast

import httpx
from sqlalchemy import select, update

from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign, Variant
from campaigns.sending import send_campaign
from campaigns.service import CampaignDraft, create_campaign
from newsletter.db import Database, utcnow
from newsletter.tokens import Purpose, TokenSigner
from tests.campaigns.helpers import SLUGS, add_segment, add_subscribers, import_examples
from tests.editor.conftest import client
from tests.subscribers.conftest import LiveServer

# What would betray a person or a tracker (the readers are reader<N>@example.org, "Reader N").
TRACES = (
    "%%nl_",
    "/t/o/",
    "/t/c/",
    "/unsubscribe/",
    "/preferences/",
    "reader0",
    "Reader 0",
    "reader1",
    "Reader 1",
)
# What makes a page an email (the archive's page is a web page).
EMAIL_CHROME = (
    "You are receiving",
    "View in your browser",
    "Unsubscribe",
    "Manage your preferences",
    "Hello there",
    "or just reply to this email",
)


def _campaign(db: Database, name: str, *segments: str, subject: str | None = None) -> int:
    draft = CampaignDraft(
        name=name, brief_slugs=list(SLUGS), segment_names=list(segments), subject=subject
    )
    with db.transaction() as session:
        return create_campaign(session, draft).id


def _sent(db: Database, site: LiveServer, *segments: str, subject: str | None = None) -> int:
    campaign_id = _campaign(db, "Issue", *segments, subject=subject)
    report = send_campaign(db, site.settings, campaign_id)
    assert report.status == "sent"
    return campaign_id


def test_the_archive_lists_sent_issues_newest_first_and_nothing_else(
    db: Database, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 2)
    older = _sent(db, site, subject="Older: {{ first_title }}")
    newer = _sent(db, site, subject="Hello {{ first_name }}")
    draft = _campaign(db, "Unsent draft")
    sending = _campaign(db, "Still sending")
    freeze_campaign(db, sending, site.settings)
    with db.transaction() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == older)
            .values(finished_at=utcnow().replace(year=2020))
        )
    with client(site) as http:
        page = http.get("/archive")
        assert page.status_code == 200
        listed = re.findall(r'<a href="/archive/(\d+)">([^<]+)</a>', page.text)
        assert listed == [
            (str(newer), "Hello there"),
            (str(older), "Older: EU Gas Prices Climb as Early Cold Snap Drains Storage"),
        ]
        assert "newsletter_editor" not in page.headers.get("set-cookie", "")
        assert page.headers["referrer-policy"] == "no-referrer"
        for unsent in (draft, sending):
            assert http.get(f"/archive/{unsent}").status_code == 404
        assert http.get("/archive/999999").status_code == 404
        assert http.get("/archive/0").status_code == 422
        assert http.get("/archive?page=2").status_code == 200


def test_an_archived_issue_is_the_whole_issue_with_nothing_personal(
    db: Database, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 3, topics=["tech"])
    add_segment(db, "tech", {"type": "topics", "any": ["tech"]}, {"intro": "For tech readers."})
    campaign_id = _sent(db, site, "tech", subject="Hi {{ first_name }}")
    mail = site.mails()[0]
    sent_html = cast(EmailMessage, mail.get_body(("html",))).get_content()
    assert "/t/o/" in sent_html  # the email itself was tracked (outbox: first-party)
    with client(site) as http:
        page = http.get(f"/archive/{campaign_id}")
        assert page.status_code == 200
        for trace in TRACES + EMAIL_CHROME:
            assert trace not in page.text, trace
        # the issue, not a segment's variant: no segment's intro, the campaign's subject
        assert "For tech readers." not in page.text and "<title>Hi there</title>" in page.text
        for slug in SLUGS:
            assert f'id="brief-{slug}"' in page.text
        home = site.settings.public_url.rstrip("/")
        assert f'href="{home}/subscribe"' in page.text and f'href="{home}/archive"' in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["referrer-policy"] == "no-referrer"
        # ?variant= still shows one variant's web version, as its readers' link does
        tech = http.get(f"/archive/{campaign_id}?variant=tech")
        assert tech.status_code == 200 and "For tech readers." in tech.text
        assert http.get(f"/archive/{campaign_id}?variant=nope").status_code == 404


def test_the_view_online_link_of_an_email_shows_that_variant(
    db: Database, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 1, topics=["tech"])
    add_subscribers(db, 1, start=10)
    add_segment(db, "tech", {"type": "topics", "any": ["tech"]}, {"intro": "For tech readers."})
    add_segment(db, "rest", {"type": "everyone"}, {"intro": "For everyone else."})
    _sent(db, site, "tech", "rest")
    links = {}
    for mail in site.mails():
        text = cast(EmailMessage, mail.get_body(("plain",))).get_content()
        links[str(mail["To"])] = re.search(r"https?://\S+/view/\S+", text).group(0)  # type: ignore[union-attr]
    tech_link, rest_link = (
        links["Reader 0 <reader0@example.org>"],
        links["Reader 10 <reader10@example.org>"],
    )
    with client(site) as http:
        tech = http.get(httpx.URL(tech_link).path)
        rest = http.get(httpx.URL(rest_link).path)
        assert tech.status_code == rest.status_code == 200
        assert "For tech readers." in tech.text and "For everyone else." in rest.text
        for page in (tech, rest):
            for trace in TRACES:
                assert trace not in page.text, trace
            assert page.headers["referrer-policy"] == "no-referrer"
        assert http.get(httpx.URL(tech_link).path[:-4] + "abcd").status_code == 400
        signer = TokenSigner(site.settings.signing_key())
        with db.transaction() as session:
            last = max(session.scalars(select(Variant.id)))
        assert (
            http.get(f"/view/{signer.sign(Purpose.VIEW_ONLINE, f'v{last + 1}')}").status_code == 404
        )
        wrong_purpose = signer.sign(Purpose.UNSUBSCRIBE, f"v{last}")
        assert http.get(f"/view/{wrong_purpose}").status_code == 400
        assert http.get(f"/view/{signer.sign(Purpose.VIEW_ONLINE, 'nonsense')}").status_code == 404

"""The public archive as a web page: the whole issue (every brief, every narrative, whatever
segments and readers' choices the email had), an index with each issue's briefs, an Atom
feed, and a front page at ``/``."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from sqlalchemy import select, update

from campaigns.model import Campaign, Variant
from campaigns.sending import send_campaign
from campaigns.service import CampaignDraft, create_campaign
from newsletter.briefs.model import BriefRow
from newsletter.db import Database, utcnow
from newsletter.web.feed import ATOM
from tests.campaigns.helpers import SLUGS, add_segment, add_subscribers, import_examples
from tests.campaigns.helpers import import_cited_brief as cited_brief
from tests.editor.conftest import client
from tests.editor.test_archive import EMAIL_CHROME, TRACES, _campaign, _sent
from tests.subscribers.conftest import LiveServer

NS = {"a": ATOM}
FORECAST = 'class="pc"'  # a forecast card's percentage: only where narratives are shown


def test_the_archive_page_is_the_whole_issue_whatever_the_variants_were(
    db: Database, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 2, topics=["energy"])
    add_subscribers(db, 2, start=10, topics=["tech"], narratives="no-forecast")
    add_segment(
        db,
        "energy",
        {"type": "topics", "any": ["energy"]},
        {"topics": ["energy"], "narratives": "facts-only"},
    )
    add_segment(db, "rest", {"type": "everyone"}, {"narratives": "no-forecast"})
    campaign_id = _sent(db, site, "energy", "rest")
    with db.transaction() as session:
        variants = list(session.scalars(select(Variant).where(Variant.campaign_id == campaign_id)))
    assert any(v.choice is not None for v in variants)  # readers' own choices made variants
    assert all(FORECAST not in v.web_html for v in variants)  # none showed a forecast
    assert any(len(v.brief_slugs) < len(SLUGS) for v in variants)  # one had fewer briefs
    with client(site) as http:
        page = http.get(f"/archive/{campaign_id}").text
    assert FORECAST in page
    for slug in SLUGS:
        assert f'id="brief-{slug}"' in page
    for trace in TRACES + EMAIL_CHROME:
        assert trace not in page, trace
    assert page not in {v.web_html for v in variants}


def test_a_campaign_frozen_before_archive_pages_shows_its_first_variant(
    db: Database, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 1)
    campaign_id = _sent(db, site)
    with db.transaction() as session:
        session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(archive_html=None)
        )
        web_html = session.scalars(
            select(Variant.web_html).where(Variant.campaign_id == campaign_id)
        ).one()
    with client(site) as http:
        assert http.get(f"/archive/{campaign_id}").text == web_html


def test_the_index_lists_each_issue_with_its_briefs_escaped(db: Database, site: LiveServer) -> None:
    import_examples(db)
    slug = cited_brief(db, edit=lambda data: data.update(title='Gas <b>prices</b> & "more"'))
    add_subscribers(db, 1)
    with db.transaction() as session:
        draft = CampaignDraft(
            name="Odd", brief_slugs=[slug, SLUGS[1]], subject="<i>Odd</i> & {{ first_title }}"
        )
        odd = create_campaign(session, draft).id
    assert send_campaign(db, site.settings, odd).status == "sent"
    with client(site) as http:
        index = http.get("/archive").text
        assert "<b>prices</b>" not in index and "<i>Odd</i>" not in index
        assert "Gas &lt;b&gt;prices&lt;/b&gt; &amp; &#34;more&#34;" in index
        assert "&lt;i&gt;Odd&lt;/i&gt; &amp; Gas" in index
        assert "Bank of England" in index  # the second brief's title
        assert 'type="application/atom+xml"' in index
        issue = http.get(f"/archive/{odd}").text
        assert "<b>prices</b>" not in issue and "Gas &lt;b&gt;prices" in issue


def test_a_brief_renamed_after_sending_keeps_its_title_in_the_index_and_feed(
    db: Database, site: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 1)
    campaign_id = _sent(db, site)
    with db.transaction() as session:
        session.execute(
            update(BriefRow).where(BriefRow.slug == SLUGS[0]).values(title="Renamed later")
        )
        sent_titles = session.scalars(
            select(Campaign.brief_titles).where(Campaign.id == campaign_id)
        ).one()
    assert sent_titles and "Renamed later" not in sent_titles
    with client(site) as http:
        index = http.get("/archive").text
        feed = http.get("/archive/feed.xml").text
    assert "Renamed later" not in index and "Renamed later" not in feed
    assert sent_titles[0] in index


def test_the_feed_is_valid_atom_newest_first(db: Database, site: LiveServer) -> None:
    import_examples(db)
    add_subscribers(db, 1)
    older = _sent(db, site, subject="Older & <older>")
    newer = _sent(db, site, subject="Newer")
    _campaign(db, "Draft")
    with db.transaction() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == older)
            .values(finished_at=utcnow().replace(year=2020))
        )
    home = site.settings.public_url.rstrip("/")
    with client(site) as http:
        answer = http.get("/archive/feed.xml")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{{{ATOM}}}feed"
    for required in ("id", "title", "updated", "author/a:name"):
        assert feed.find(f"a:{required}", NS) is not None, required
    assert feed.findtext("a:title", namespaces=NS) == "The Briefing"
    self_link = feed.find("a:link[@rel='self']", NS)
    assert self_link is not None and self_link.get("href") == f"{home}/archive/feed.xml"
    entries = feed.findall("a:entry", NS)
    assert [e.findtext("a:title", namespaces=NS) for e in entries] == ["Newer", "Older & <older>"]
    assert [e.findtext("a:id", namespaces=NS) for e in entries] == [
        f"{home}/archive/{newer}",
        f"{home}/archive/{older}",
    ]
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert feed.findtext("a:updated", namespaces=NS) == entries[0].findtext(
        "a:updated", namespaces=NS
    )
    for entry in entries:
        assert stamp.fullmatch(entry.findtext("a:updated", namespaces=NS) or "")
        link = entry.find("a:link", NS)
        assert link is not None and link.get("href") == entry.findtext("a:id", namespaces=NS)
        summary = entry.findtext("a:summary", namespaces=NS) or ""
        assert "EU Gas Prices Climb as Early Cold Snap Drains Storage" in summary
    assert entries[1].findtext("a:updated", namespaces=NS).startswith("2020-")  # type: ignore[union-attr]


def test_the_feed_of_an_empty_archive_is_still_a_feed(db: Database, site: LiveServer) -> None:
    with client(site) as http:
        feed = ET.fromstring(http.get("/archive/feed.xml").content)
    assert feed.findall("a:entry", NS) == [] and feed.find("a:updated", NS) is not None


def test_the_front_page_leads_to_the_signup_form_and_the_archive(
    db: Database, site: LiveServer
) -> None:
    with client(site) as http:
        empty = http.get("/")
        assert empty.status_code == 200
        assert 'href="/subscribe"' in empty.text and "No issue has been sent yet" in empty.text
        import_examples(db)
        add_subscribers(db, 1)
        campaign_id = _sent(db, site)
        page = http.get("/")
        assert f'href="/archive/{campaign_id}"' in page.text and 'href="/archive"' in page.text
        assert "EU Gas Prices Climb" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert http.head("/").status_code in (200, 405)


def test_odd_archive_addresses_are_refused_without_a_500(db: Database, site: LiveServer) -> None:
    html = {"Accept": "text/html"}
    with client(site) as http:
        for path in (
            "/archive/abc",
            "/archive/-1",
            "/archive/1.5",
            "/archive/99999999999999999999",
            "/archive/%00",
            "/archive?page=abc",
            "/archive?page=0",
            "/archive/feed.xml/x",
            "/archive/1?variant=" + "x" * 500,
        ):
            answer = http.get(path, headers=html)
            assert 400 <= answer.status_code < 500, (path, answer.status_code)
            assert "text/html" in answer.headers["content-type"], path
        assert http.get("/archive/123456").status_code == 404

"""First-party tracking over real HTTP: the pixel and click redirects in an outbox send.

The links come from real messages in the outbox, so these tests follow exactly what a
reader's mail client would. A click goes only to a link of that mail; everything else is a
friendly 404 and never a redirect; machines are recorded but flagged; a hit is recorded at
most once per delivery, link, minute and kind of visitor (the site's clock is set where a
test depends on it).
"""

from __future__ import annotations

import base64
import email
import mailbox
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from campaigns.events import Event
from campaigns.model import Delivery, Variant
from campaigns.sending import send_campaign
from campaigns.tracking import PIXEL
from newsletter.db import Database, utcnow
from newsletter.tokens import Purpose, TokenSigner
from tests.campaigns.helpers import (
    add_subscribers,
    import_cited_brief,
    import_examples,
    new_campaign,
    payload_of,
)
from tests.campaigns.webhooks import SiteClock
from tests.subscribers.conftest import LiveServer

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari"
Serve = Callable[..., LiveServer]


def html_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no HTML part")


def outbox_send(db: Database, server: LiveServer, count: int = 2) -> dict[str, str]:
    """Send a campaign to the outbox with the server's settings; each address → its HTML."""
    import_examples(db)
    cited = import_cited_brief(db)
    add_subscribers(db, count)
    report = send_campaign(db, server.settings, new_campaign(db, more_briefs=[cited]))
    assert report.counts == {"sent": count}
    box = mailbox.Maildir(server.outbox, create=False)
    messages = [email.message_from_bytes(box.get_bytes(key)) for key in box.iterkeys()]
    return {m["To"].split("<")[-1].rstrip(">"): html_of(m) for m in messages}


def pixel_of(html: str, server: LiveServer) -> str:
    match = re.search(re.escape(server.url) + r'(/t/o/[^"]+\.gif)', html)
    assert match, "no open pixel"
    return match.group(1)


def clicks_of(html: str, server: LiveServer) -> list[str]:
    return sorted(set(re.findall(re.escape(server.url) + r'(/t/c/[^"]+)"', html)))


def events(db: Database) -> list[Event]:
    with db.transaction() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


@pytest.fixture
def server(serve: Serve, tmp_path: Path) -> LiveServer:
    return serve(outbox=tmp_path / "box", utm_enabled=True, tracking_scanner_seconds=0)


def test_the_pixel_is_a_gif_and_records_a_human_open(db: Database, server: LiveServer) -> None:
    mails = outbox_send(db, server)
    path = pixel_of(mails["reader0@example.org"], server)
    with httpx.Client(base_url=server.url, headers={"User-Agent": BROWSER}) as client:
        answer = client.get(path)
        head = client.head(path)
    assert answer.status_code == 200 and answer.content == PIXEL
    assert answer.headers["content-type"] == "image/gif"
    assert "no-store" in answer.headers["cache-control"]
    assert head.status_code == 200
    opened, probed = events(db)
    with db.transaction() as session:
        delivery = session.scalars(select(Delivery).where(Delivery.id == opened.delivery_id)).one()
    payload = payload_of(db, opened.id)
    assert (opened.type, opened.source, opened.machine) == ("opened", "first-party", False)
    assert payload is not None and payload.user_agent == BROWSER
    assert (opened.campaign_id, opened.variant_id, opened.subscriber_id) == (
        delivery.campaign_id,
        delivery.variant_id,
        delivery.subscriber_id,
    )
    assert (probed.type, probed.machine, probed.machine_reason) == ("opened", True, "head")


def test_machine_user_agents_are_flagged(db: Database, server: LiveServer) -> None:
    mails = outbox_send(db, server, 1)
    path = pixel_of(mails["reader0@example.org"], server)
    clock = SiteClock(server, utcnow())
    for agent in ("python-requests/2.32", "Barracuda Sentinel (EE)", "", "Mozilla/5.0"):
        clock.now += timedelta(minutes=1)
        httpx.get(server.url + path, headers={"User-Agent": agent})
    httpx.get(
        server.url + path, headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}
    )
    flags = [(e.machine, e.machine_reason) for e in events(db)]
    # Apple's prefetching proxy says only "Mozilla/5.0"; Gmail's proxy fetches for a reader
    assert flags == [(True, "user-agent")] * 3 + [(True, "machine-open"), (False, None)]


def test_a_loop_of_hits_is_recorded_once_per_minute_and_always_answered(
    db: Database, server: LiveServer
) -> None:
    """100 pixel hits and 100 clicks of one link, 1.5 s apart: 150 s, three minutes, so
    three rows each; every pixel is a GIF and every click a redirect."""
    mails = outbox_send(db, server, 1)
    pixel = pixel_of(mails["reader0@example.org"], server)
    click = clicks_of(mails["reader0@example.org"], server)[0]
    clock = SiteClock(server, datetime(2030, 1, 7, 12, 0, tzinfo=UTC))
    with httpx.Client(base_url=server.url, headers={"User-Agent": BROWSER}) as client:
        for _ in range(100):
            assert client.get(pixel).content == PIXEL
            answer = client.get(click)
            assert answer.status_code == 302 and answer.headers["location"].startswith("http")
            clock.now += timedelta(seconds=1.5)
    rows = events(db)
    minutes = [(e.type, e.occurred_at.minute) for e in rows]
    assert sorted(minutes) == [("clicked", m) for m in (0, 1, 2)] + [
        ("opened", m) for m in (0, 1, 2)
    ]
    assert not any(e.machine for e in rows)


def test_a_loop_at_full_speed_adds_a_row_per_minute_it_spans(
    db: Database, server: LiveServer
) -> None:
    """The same on the real clock: however fast the loop, one row per minute bucket."""
    mails = outbox_send(db, server, 1)
    pixel = pixel_of(mails["reader0@example.org"], server)
    started = utcnow()
    with httpx.Client(base_url=server.url, headers={"User-Agent": BROWSER}) as client:
        for _ in range(100):
            assert client.get(pixel).content == PIXEL
    ended = utcnow()
    buckets = int(ended.timestamp() // 60) - int(started.timestamp() // 60) + 1
    assert 1 <= len(events(db)) <= buckets


def test_a_machines_hit_never_hides_a_readers_in_the_same_minute(
    db: Database, server: LiveServer
) -> None:
    """Each kind of visitor has its own row per minute: a HEAD probe and a scanner's GET
    first, then the reader's GET, still count the reader's open and click."""
    from campaigns.reports import campaign_report

    mails = outbox_send(db, server, 1)
    pixel = pixel_of(mails["reader0@example.org"], server)
    click = clicks_of(mails["reader0@example.org"], server)[0]
    SiteClock(server, utcnow())
    for _ in range(3):
        for path in (pixel, click):
            httpx.head(server.url + path, headers={"User-Agent": BROWSER})
            httpx.get(server.url + path, headers={"User-Agent": "Barracuda Sentinel (EE)"})
            httpx.get(server.url + path, headers={"User-Agent": BROWSER})
    kinds = sorted((e.type, e.machine_reason or "reader") for e in events(db))
    assert kinds == [
        (kind, visitor)
        for kind in ("clicked", "opened")
        for visitor in ("head", "reader", "user-agent")
    ]
    with db.transaction() as session:
        (campaign_id,) = {e.campaign_id for e in events(db)}
        totals = campaign_report(session, campaign_id).totals
    assert (totals.opened, totals.opens, totals.clicked) == (1, 1, 1)


def test_a_click_redirects_to_its_link_and_knows_brief_section_and_narrative(
    db: Database, server: LiveServer
) -> None:
    mails = outbox_send(db, server, 1)
    paths = clicks_of(mails["reader0@example.org"], server)
    assert len(paths) > 5
    with db.transaction() as session:
        links = {
            link["link_id"]: link for v in session.scalars(select(Variant)) for link in v.links
        }
    narrative_paths = [p for p in paths if links[p.rsplit("/", 1)[1]]["section"] == "narrative"]
    assert narrative_paths, "the example briefs cite sources in narratives"
    with httpx.Client(base_url=server.url, headers={"User-Agent": BROWSER}) as client:
        for path in paths:
            answer = client.get(path)
            link = links[path.rsplit("/", 1)[1]]
            assert answer.status_code == 302, answer.text
            assert answer.headers["location"] == link["url"]
            assert "utm_source=newsletter" in answer.headers["location"]
            assert answer.headers["referrer-policy"] == "no-referrer"
    clicked = events(db)
    assert len(clicked) == len(paths)
    for row, path in zip(clicked, paths, strict=True):
        link = links[path.rsplit("/", 1)[1]]
        assert (row.type, row.machine, row.link_id, row.url) == (
            "clicked",
            False,
            link["link_id"],
            link["url"],
        )
        assert (row.brief_slug, row.section, row.narrative) == (
            link["brief_slug"],
            link["section"],
            link["narrative"],
        )
    assert any(row.narrative for row in clicked)


def test_clicks_right_after_sending_are_a_scanners(
    serve: Serve, db: Database, tmp_path: Path
) -> None:
    server = serve(outbox=tmp_path / "box", tracking_scanner_seconds=3600)
    mails = outbox_send(db, server, 1)
    path = clicks_of(mails["reader0@example.org"], server)[0]
    answer = httpx.get(server.url + path, headers={"User-Agent": BROWSER})
    assert answer.status_code == 302  # the scanner still gets where it asked to go
    head = httpx.head(server.url + path, headers={"User-Agent": BROWSER})
    assert head.status_code == 302
    assert [(e.machine, e.machine_reason) for e in events(db)] == [
        (True, "too-fast"),
        (True, "head"),
    ]


def test_nothing_but_the_mails_own_links_is_ever_a_redirect(
    db: Database, server: LiveServer
) -> None:
    mails = outbox_send(db, server, 2)
    path = clicks_of(mails["reader0@example.org"], server)[0]
    token, link_id = path.removeprefix("/t/c/").split("/")
    signer = TokenSigner(server.settings.signing_key())
    with db.transaction() as session:
        footer = next(
            link["link_id"]
            for v in session.scalars(select(Variant))
            for link in v.links
            if link["section"] == "footer"
        )
        delivery_ids = list(session.scalars(select(Delivery.id)))
    attempts = [
        f"/t/c/{token}/https:%2F%2Fevil.example",
        f"/t/c/{token}/{quote('//evil.example', safe='')}",
        f"/t/c/{token}/0000000000",
        f"/t/c/{token}/{footer}",  # a real link of the mail, but not a tracked destination
        f"/t/c/{token}/{link_id}/extra",
        f"/t/c/{token[:-2]}xx/{link_id}",  # altered signature
        f"/t/c/{token.split('.')[0]}/{link_id}",  # no signature at all
        f"/t/c/{signer.sign(Purpose.UNSUBSCRIBE, str(delivery_ids[0]))}/{link_id}",  # wrong purpose
        f"/t/c/{signer.sign(Purpose.TRACKING, '99999999')}/{link_id}",  # no such delivery
        f"/t/c/{signer.sign(Purpose.TRACKING, 'abc')}/{link_id}",
        f"/t/c/{TokenSigner('another-secret-0123456789abcdefghij').sign(Purpose.TRACKING, '1')}/{link_id}",
        f"/t/c/{token}/{link_id}?url=https://evil.example",  # query is ignored, not obeyed
    ]
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        for attempt in attempts[:-1]:
            page = client.get(attempt, headers={"Accept": "text/html"})
            assert page.status_code == 404, (attempt, page.status_code)
            assert "location" not in page.headers
            assert "not valid" in page.text or "Not Found" in page.text, attempt
            as_json = client.get(attempt)
            assert as_json.status_code == 404 and as_json.json()["detail"], attempt
        last = client.get(attempts[-1])
        assert last.status_code == 302 and "evil" not in last.headers["location"]
    assert [e.type for e in events(db)] == ["clicked"]  # only the real link was recorded


def test_a_pixel_with_a_bad_token_is_still_a_gif_and_records_nothing(
    db: Database, server: LiveServer
) -> None:
    signer = TokenSigner(server.settings.signing_key())
    for token in ("nonsense", signer.sign(Purpose.TRACKING, "424242"), "a" * 300):
        answer = httpx.get(f"{server.url}/t/o/{token}.gif")
        assert answer.status_code == 200 and answer.content == PIXEL
    assert httpx.get(f"{server.url}/t/o/{'a' * 301}.gif").status_code == 422
    assert events(db) == []


@pytest.mark.browser
def test_the_pixel_is_an_image_a_browser_can_show(page: object) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    data = base64.b64encode(PIXEL).decode()
    page.set_content(f'<img id="p" src="data:image/gif;base64,{data}">')
    page.wait_for_function("document.getElementById('p').complete")
    size = page.evaluate(
        "[document.getElementById('p').naturalWidth, document.getElementById('p').naturalHeight]"
    )
    assert size == [1, 1]


def test_an_unsubscribe_through_the_mail_counts_in_that_issues_report(
    db: Database, server: LiveServer
) -> None:
    """One-click (RFC 8058) on a real message's List-Unsubscribe URL: the reader leaves and
    the campaign's report counts it once, however often the mail client posts."""
    from campaigns.reports import campaign_report
    from subscribers.model import Subscriber

    import_examples(db)
    add_subscribers(db, 2)
    campaign_id = new_campaign(db)
    send_campaign(db, server.settings, campaign_id)
    box = mailbox.Maildir(server.outbox, create=False)
    message = email.message_from_bytes(box.get_bytes(next(iter(box.iterkeys()))))
    url = re.findall(r"<(https?://[^>]+)>", message["List-Unsubscribe"])[-1]
    assert "?d=" in url and url.startswith(server.url + "/unsubscribe/")
    assert url in html_of(message).replace("&amp;", "&")  # the footer link is the same URL
    for _ in range(2):
        answer = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert answer.status_code == 200
    with db.transaction() as session:
        report = campaign_report(session, campaign_id)
        address = message["To"].split("<")[-1].rstrip(">")
        status = session.scalar(select(Subscriber.status).where(Subscriber.email == address))
    assert status == "unsubscribed"
    assert report.totals.unsubscribed == 1
    [unsubscribe] = [e for e in events(db) if e.type == "unsubscribed"]
    assert unsubscribe.campaign_id == campaign_id and unsubscribe.source == "first-party"


def test_a_tampered_issue_reference_still_unsubscribes_and_counts_nowhere(
    db: Database, server: LiveServer
) -> None:
    import_examples(db)
    add_subscribers(db, 1)
    send_campaign(db, server.settings, new_campaign(db))
    box = mailbox.Maildir(server.outbox, create=False)
    message = email.message_from_bytes(box.get_bytes(next(iter(box.iterkeys()))))
    url = re.findall(r"<(https?://[^>]+)>", message["List-Unsubscribe"])[-1]
    answer = httpx.post(url[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert answer.status_code == 200
    assert [e for e in events(db) if e.type == "unsubscribed"] == []
    answer = httpx.get(url, timeout=10)  # the page now says there is nothing to do
    assert answer.status_code == 200 and "not subscribed" in answer.text


def test_another_readers_issue_reference_unsubscribes_only_the_tokens_reader(
    db: Database, server: LiveServer
) -> None:
    """A reader who puts someone else's ``d`` (it leaks in every shared tracked link) on
    their own unsubscribe link leaves alone: the other reader stays subscribed, and the
    unsubscribe counts in no report, since the reference is not the token's own."""
    from subscribers.model import Subscriber

    import_examples(db)
    add_subscribers(db, 2)
    send_campaign(db, server.settings, new_campaign(db))
    box = mailbox.Maildir(server.outbox, create=False)
    urls: dict[str, str] = {}
    for key in box.iterkeys():
        message = email.message_from_bytes(box.get_bytes(key))
        address = message["To"].split("<")[-1].rstrip(">")
        urls[address] = re.findall(r"<(https?://[^>]+)>", message["List-Unsubscribe"])[-1]
    mine, theirs = sorted(urls)
    token_url = urls[mine].split("?d=")[0]
    their_ref = urls[theirs].split("?d=")[1]
    answer = httpx.post(f"{token_url}?d={their_ref}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    with db.transaction() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.status)).all()
    status = {email_: state for email_, state in rows}
    assert status == {mine: "unsubscribed", theirs: "active"}
    assert [e for e in events(db) if e.type == "unsubscribed"] == []

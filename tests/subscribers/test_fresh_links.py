"""A broken preferences or unsubscribe link offers a fresh one by email: a subscribed address
gets a mail (through the transactional queue and the configured provider) with a working
preferences link; the answer is the same for any address; clients and addresses are
limited; posts from other sites and JSON are refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from newsletter.db import Database, utcnow
from newsletter.tokens import Purpose, TokenSigner
from subscribers.addresses import parse_address
from subscribers.fresh_links import request_fresh_link
from subscribers.model import QueuedMail, Subscriber
from subscribers.suppression import suppress
from tests.editor.conftest import client
from tests.subscribers.conftest import LiveServer, add_subscriber

HTML = {"Accept": "text/html"}
SENT = "If this address is subscribed, a mail with a fresh link to its preferences is on its way."


def _fresh_links(db: Database) -> list[tuple[str, str]]:
    """(address, status) of every queued fresh-link mail, oldest first."""
    with db.transaction() as session:
        rows = session.execute(
            select(QueuedMail.subscriber_id, QueuedMail.status)
            .where(QueuedMail.kind == "fresh-link")
            .order_by(QueuedMail.id)
        ).all()
        emails = dict(session.execute(select(Subscriber.id, Subscriber.email)).all())
    return [(emails[sid] or "", status) for sid, status in rows]


def _readers(db: Database) -> None:
    with db.transaction() as session:
        add_subscriber(session, "ana@example.org", name="Ana")
        add_subscriber(session, "pending@example.org", status="pending")
        add_subscriber(session, "gone@example.org", status="unsubscribed")
        add_subscriber(session, "bounced@example.org")


def test_only_a_subscribed_address_gets_one_link_per_window(db: Database) -> None:
    _readers(db)
    with db.transaction() as session:
        suppress(session, parse_address("bounced@example.org"), "bounced")
    now = utcnow()
    window = timedelta(minutes=15)

    def ask(address: str, at: timedelta = timedelta(0)) -> bool:
        with db.transaction() as session:
            return request_fresh_link(
                session, parse_address(address), resend_after=window, now=now + at
            )

    assert ask("Ana@Example.org")  # the lookup key, as for signups
    assert not ask("ana@example.org", timedelta(minutes=5))  # once per window
    for other in ("pending@example.org", "gone@example.org", "bounced@example.org", "x@y.org"):
        assert not ask(other)
    assert ask("ana@example.org", timedelta(minutes=16))
    assert _fresh_links(db) == [("ana@example.org", "queued"), ("ana@example.org", "queued")]


def _fresh_link_in(message: EmailMessage) -> str:
    body = cast(EmailMessage, message.get_body(("plain",))).get_content()
    found = re.search(r"Manage my subscription: (\S+/preferences/[\w.-]+)", body)
    assert found, body
    return found.group(1)


def test_the_broken_link_page_mails_a_working_link_and_says_the_same_for_anyone(
    db: Database, live_server: LiveServer
) -> None:
    _readers(db)
    signer = TokenSigner(live_server.settings.signing_key())
    with client(live_server) as http:
        for broken in ("/preferences/cut-short", "/unsubscribe/cut-short"):
            page = http.get(broken, headers=HTML).text
            assert "Or get a fresh link by email" in page and 'action="/fresh-link"' in page
        answers = {
            address: http.post("/fresh-link", data={"email": address}, headers=HTML)
            for address in ("ana@example.org", "nobody@example.org", "pending@example.org")
        }
        again = http.post("/fresh-link", data={"email": "ana@example.org"}, headers=HTML)
    bodies = {answer.text for answer in [*answers.values(), again]}
    assert len(bodies) == 1 and SENT in bodies.pop()  # nothing tells them apart
    assert {a.status_code for a in answers.values()} == {200}
    assert answers["ana@example.org"].headers["cache-control"] == "no-store"
    assert _fresh_links(db) == [("ana@example.org", "queued")]  # one, though asked twice

    assert live_server.drain().sent == 1
    (mail,) = [m for m in live_server.mails() if "ana@example.org" in str(m["To"])]
    assert mail["Subject"] == "Your link to manage The Briefing"
    link = _fresh_link_in(mail)
    token = link.rsplit("/", 1)[1]
    assert signer.verify(Purpose.PREFERENCES, token)
    html = cast(EmailMessage, mail.get_body(("html",))).get_content()
    assert "/unsubscribe/" in html and "Hello Ana," in html
    with client(live_server) as http:
        preferences = http.get(link.removeprefix(live_server.url))
    assert preferences.status_code == 200 and "ana@example.org" in preferences.text


def test_a_bad_address_is_explained_and_a_bot_is_answered_like_anyone(
    db: Database, live_server: LiveServer
) -> None:
    _readers(db)
    with client(live_server) as http:
        bad = http.post("/fresh-link", data={"email": "ana@"}, headers=HTML)
        assert bad.status_code == 422
        assert "is not a valid email address" in bad.text
        assert 'value="ana@"' in bad.text and 'aria-invalid="true"' in bad.text
        hostile = http.post("/fresh-link", data={"email": '"><script>x</script>'})
        assert hostile.status_code == 422 and "<script>x" not in hostile.text
        bot = http.post("/fresh-link", data={"email": "ana@example.org", "website": "spam"})
        assert bot.status_code == 200 and SENT in bot.text
        json = http.post("/fresh-link", json={"email": "ana@example.org"})
        assert json.status_code == 422 and "JSON is not accepted here" in json.text
        empty = http.get("/fresh-link")
        assert empty.status_code == 200 and "Email me a fresh link" in empty.text
    assert _fresh_links(db) == []


def test_posts_from_another_site_are_refused(db: Database, live_server: LiveServer) -> None:
    _readers(db)
    with client(live_server) as http:
        for headers in (
            {"Origin": "https://evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
        ):
            answer = http.post("/fresh-link", data={"email": "ana@example.org"}, headers=headers)
            assert answer.status_code == 403, headers
            assert "only works on our own site" in answer.text
        ours = http.post(
            "/fresh-link",
            data={"email": "ana@example.org"},
            headers={"Origin": live_server.url, "Sec-Fetch-Site": "same-origin"},
        )
        assert ours.status_code == 200
    assert _fresh_links(db) == [("ana@example.org", "queued")]


def test_a_client_asking_too_often_is_told_when_to_come_back(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    server = serve(fresh_link_rate_limit=3, fresh_link_rate_period=600)
    with client(server) as http:
        answers = [
            http.post("/fresh-link", data={"email": f"r{n}@example.org"}, headers=HTML)
            for n in range(4)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert "Too many requests for a fresh link" in answers[-1].text


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_a_reader_gets_a_fresh_link_from_the_broken_links_page(
    browser: Browser, db: Database, live_server: LiveServer, artifacts_dir: Path, width: int
) -> None:
    _readers(db)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on(  # the broken link's 400 and the bad address's 422 are expected; nothing else
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.goto(f"{live_server.url}/unsubscribe/cut-short")
    expect(page.get_by_role("heading", name="Or get a fresh link by email")).to_be_visible()
    page.get_by_label("Your email address").fill("ana@")
    page.get_by_role("button", name="Email me a fresh link").click()
    expect(page.get_by_role("alert").last).to_contain_text("is not a valid email address")
    page.get_by_label("Your email address").fill("ana@example.org")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(artifacts_dir / f"fresh-link-form-{width}.png"), full_page=True)
    page.get_by_role("button", name="Email me a fresh link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    expect(page.get_by_role("status")).to_contain_text(SENT)
    page.screenshot(path=str(artifacts_dir / f"fresh-link-sent-{width}.png"), full_page=True)
    assert live_server.drain().sent == 1
    (mail,) = live_server.mails()
    page.goto(_fresh_link_in(mail))
    expect(page.get_by_role("heading", level=1)).to_contain_text("preferences")
    assert errors == []  # nothing blocked by the Content-Security-Policy
    context.close()

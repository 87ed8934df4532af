"""A preferences or unsubscribe link that does not work (cut short by a mail program,
altered, or its subscriber erased) says how to get one that does, instead of offering a
confirmation form that would send an active reader nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from newsletter.db import Database
from newsletter.tokens import Purpose, TokenSigner
from tests.editor.conftest import client
from tests.subscribers.conftest import LiveServer, add_subscriber

HOW = "How to get a link that works"


def _token(db: Database, server: LiveServer, purpose: Purpose) -> str:
    with db.transaction() as session:
        uid = add_subscriber(session, "ana@example.org").uid
    return TokenSigner(server.settings.signing_key()).sign(purpose, uid)


def test_a_cut_preferences_link_explains_how_to_get_a_fresh_one(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    server = serve(reply_to="desk@news.example.org")
    token = _token(db, server, Purpose.PREFERENCES)
    html = {"Accept": "text/html"}
    with client(server) as http:
        for answer in (
            http.get(f"/preferences/{token[:-6]}", headers=html),  # cut short
            http.post(f"/preferences/{token[:-6]}", data={"name": "x"}, headers=html),
            http.get(
                f"/preferences/{TokenSigner('another-key-' * 3).sign(Purpose.PREFERENCES, 'u')}"
            ),
        ):
            assert answer.status_code == 400
            page = answer.text
            assert "This link does not work" in page and HOW in page
            assert "Manage your preferences" in page and "latest issue" in page
            assert 'href="mailto:desk@news.example.org"' in page
            assert 'href="/subscribe"' in page
            assert "Get a new confirmation link" not in page  # would send an active reader nothing
            assert answer.headers["x-frame-options"] == "DENY"
        unsubscribe = http.get(f"/unsubscribe/{token[:-6]}", headers=html).text
        assert HOW in unsubscribe and "ask to be taken off the list" in unsubscribe
        confirm = http.get(f"/confirm/{token[:-6]}", headers=html).text
        assert HOW not in confirm and "Get a new confirmation link" in confirm


def test_the_contact_address_is_the_sender_without_a_reply_to(
    db: Database, serve: Callable[..., LiveServer]
) -> None:
    server = serve(from_email="news@example.org")
    with client(server) as http:
        page = http.get("/preferences/nonsense").text
    assert 'href="mailto:news@example.org"' in page


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_the_broken_link_page_reads_well(
    browser: Browser, db: Database, live_server: LiveServer, artifacts_dir: Path, width: int
) -> None:
    token = _token(db, live_server, Purpose.PREFERENCES)
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server.url}/preferences/{token[:-6]}")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    expect(page.get_by_role("heading", level=2).first).to_have_text(HOW)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(artifacts_dir / f"preferences-link-{width}.png"), full_page=True)
    page.get_by_role("link", name="Subscribe again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe to The Briefing")
    context.close()

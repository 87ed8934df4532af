"""A lapsed reader in Chromium, at desktop width and at 375 px: the keep-me-subscribed page
shows one button, opening it changes nothing, pressing it brings them back."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from newsletter.db import utcnow
from newsletter.tokens import TokenSigner
from subscribers.links import keep_url
from subscribers.model import Subscriber
from tests.subscribers.conftest import LiveServer, add_subscriber

pytestmark = pytest.mark.browser


def _lapsed(server: LiveServer, email: str) -> bool:
    with server.database.transaction() as session:
        found = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        return found.lapsed_at is not None


@pytest.mark.parametrize("width", [1280, 375])
def test_the_keep_page_has_one_button_and_only_a_post_acts(
    browser: Browser, live_server: LiveServer, artifacts_dir: Path, width: int
) -> None:
    email = f"ana{width}@example.org"
    with live_server.database.transaction() as session:
        now = utcnow()
        uid = add_subscriber(session, email, reengage_sent_at=now, lapsed_at=now).uid
    url = keep_url(live_server.url, TokenSigner(live_server.settings.signing_key()), uid)
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Keep getting The Briefing?")
        button = page.get_by_role("button", name="Keep me subscribed")
        expect(button).to_have_count(1)
        expect(page.get_by_role("link", name="Or unsubscribe")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
        page.screenshot(path=str(artifacts_dir / f"keep-{width}.png"), full_page=True)
        assert _lapsed(live_server, email)  # opening the page changed nothing
        button.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: you stay subscribed")
        assert not _lapsed(live_server, email)
        page.screenshot(path=str(artifacts_dir / f"kept-{width}.png"), full_page=True)
    finally:
        context.close()

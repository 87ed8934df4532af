"""A reader in Chromium: sign up, open the confirmation mail, confirm, choose, unsubscribe."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from newsletter.tokens import Purpose, TokenSigner
from subscribers.model import Subscriber
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


def _reader(server: LiveServer) -> Subscriber:
    with server.database.transaction() as session:
        return session.scalars(select(Subscriber)).one()


def test_a_reader_signs_up_confirms_chooses_and_leaves(
    page: Page, live_server: LiveServer, artifacts_dir: Path
) -> None:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{live_server.url}/subscribe")
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe to The Briefing")
    # the layout comes from /static/public.css under the page's policy (no inline style)
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "17px"

    page.get_by_label("Email address").fill("zoe@example")  # a typo first
    page.get_by_label("Your name").fill("Zoë")
    page.get_by_label("Europe").check()
    page.get_by_role("button", name="Subscribe").click()
    email_field = page.get_by_label("Email address")
    expect(email_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_contain_text("not a valid email address")
    expect(page.get_by_label("Your name")).to_have_value("Zoë")
    expect(page.get_by_label("Europe")).to_be_checked()
    page.screenshot(path=str(artifacts_dir / "signup-error.png"), full_page=True)

    email_field.fill("zoe@example.org")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert _reader(live_server).status == "pending"

    assert live_server.drain().sent == 1  # what `newsletter serve` does in the background
    (mail,) = live_server.mails()
    assert str(mail["To"]) == "Zoë <zoe@example.org>"
    page.goto(live_server.confirm_link("zoe@example.org"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    assert _reader(live_server).status == "pending"  # opening the link confirms nothing
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are subscribed")
    assert _reader(live_server).status == "active"
    page.screenshot(path=str(artifacts_dir / "confirmed.png"), full_page=True)

    page.get_by_role("link", name="Choose topics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
    expect(page.get_by_label("Europe")).to_be_checked()
    page.get_by_label("Europe").uncheck()
    page.get_by_label("Climate").check()
    page.get_by_label("Facts only").check()
    page.get_by_label("Your name").fill("Zoë B.")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.get_by_label("Climate")).to_be_checked()
    page.screenshot(path=str(artifacts_dir / "preferences.png"), full_page=True)
    reader = _reader(live_server)
    assert (reader.name, reader.topics, reader.narratives) == ("Zoë B.", ["climate"], "facts-only")

    # The List-Unsubscribe link of any issue: opening it changes nothing ...
    signer = TokenSigner(live_server.settings.signing_key())
    page.goto(f"{live_server.url}/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, reader.uid)}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from The Briefing?")
    assert _reader(live_server).status == "active"
    # ... until the reader presses the one button.
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    assert _reader(live_server).status == "unsubscribed"
    page.screenshot(path=str(artifacts_dir / "unsubscribed.png"), full_page=True)
    assert blocked == [], "the pages' own Content-Security-Policy blocked something"


def test_an_expired_or_broken_link_offers_a_new_one(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/subscribe")
    page.get_by_label("Email address").fill("ann@example.org")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    live_server.drain()
    link = live_server.confirm_link("ann@example.org")
    page.goto(link[:-3] + "abc")  # cut or altered by a mail program
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    page.get_by_label("Get a new confirmation link").fill("ann@example.org")
    page.get_by_role("button", name="Send a new link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

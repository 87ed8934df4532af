"""A refused test send in Chromium, at desktop width and at 375 px: the preview comes back
with the addresses as typed and the reason beside the field, naming the bad address; fixing
it sends the test. Screenshots under ``artifacts/test_browser_test_send/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from newsletter.db import Database
from tests.campaigns.helpers import import_examples, new_campaign
from tests.editor.conftest import PASSWORD, add_editor
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 375])
def test_a_refused_test_keeps_what_was_typed_and_says_why_beside_it(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    import_examples(db)
    campaign_id = new_campaign(db)
    add_editor(db, "ann@example.org")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{site.url}/editor/login")
    page.get_by_label("Email address").fill("ann@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{site.url}/editor/campaigns/{campaign_id}/preview")

    field = page.get_by_label("To (up to 5 addresses")
    field.fill("ed@example.org, bob@example")
    page.get_by_role("button", name="Send a test").click()
    expect(field).to_have_value("ed@example.org, bob@example")
    expect(field).to_have_attribute("aria-invalid", "true")
    error = page.locator("#addresses-error")
    expect(error).to_contain_text("“bob@example” is not a valid email address")
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert field_box and error_box
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40  # right under it
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(artifacts_dir / f"refused-{width}.png"), full_page=True)

    field.fill("ed@example.org, bob@example.org")
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator(".flash").first).to_contain_text("sent through outbox to ed@example.org")
    expect(page.locator("#addresses-error")).to_have_count(0)
    assert len(site.mails()) == 2
    context.close()

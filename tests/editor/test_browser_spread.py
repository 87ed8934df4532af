"""An editor spreads a send over a delivery window from the confirmation page in Chromium, at
desktop width and at 375 px: a bad value is refused with a message, a good one is kept and
shown on the campaign page. Screenshots are kept under ``artifacts/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from campaigns.model import Campaign
from newsletter.db import Database
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign
from tests.editor.conftest import add_editor
from tests.editor.test_browser_editor import _error, _log_in, _overflow
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 375])
def test_an_editor_spreads_a_send_over_a_window(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    add_editor(db, "ann@example.org")
    import_examples(db)
    add_subscribers(db, 3)
    campaign_id = new_campaign(db, name="Window issue")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: _error(errors, m))
    _log_in(page, site)

    page.goto(f"{site.url}/editor/campaigns/{campaign_id}")
    page.get_by_role("link", name="Send now…").click()
    field = page.get_by_label("Spread the send over")
    expect(field).to_be_visible()
    expect(field).to_have_value("")
    assert _overflow(page) <= 0
    field.fill("0")  # the browser lets 0 through (min="0"); the server says why not
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("p.flash.error")).to_contain_text(
        "spread_minutes: must be a number of minutes, more than 0 and at most 10,080"
    )
    page.get_by_role("link", name="Send now…").click()
    page.get_by_label("Spread the send over").fill("45")
    page.screenshot(path=str(artifacts_dir / f"spread-confirm-{width}.png"), full_page=True)
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("p.flash")).to_contain_text("spread over 45 minutes")
    expect(page.locator("dd", has_text="spread over 45 minutes")).to_be_visible()
    assert _overflow(page) <= 0
    with db.transaction() as session:
        assert session.get_one(Campaign, campaign_id).spread_minutes == 45
    assert errors == []
    context.close()

"""The public front page, archive index and an archived issue in Chromium, at desktop width
and at 375 px: readable, no sideways scrolling, nothing blocked by the pages' policies, and
a reader can go from ``/`` to an issue and to the signup form by clicking.

Screenshots are kept under ``artifacts/test_browser_archive/``. Requests that leave the
site (the briefs' images) are answered with a local SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from newsletter.db import Database
from tests.campaigns.helpers import add_subscribers, import_examples
from tests.editor.test_archive import _sent
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser

PHOTO = b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675"></svg>'
WIDTHS = {"desktop": 1280, "375": 375}


def _overflow(page: Page) -> int:
    return cast(int, page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reader_finds_an_issue_from_the_front_page(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: str
) -> None:
    import_examples(db)
    add_subscribers(db, 1)
    _sent(db, site, subject="Issue <one> & more")
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" and "favicon" not in message.text:
            problems.append(message.text)

    def outside(route: Route) -> None:
        route.fulfill(status=200, body=PHOTO, content_type="image/svg+xml")

    page.on("console", note)
    page.route("https://**/*", outside)
    page.goto(f"{site.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("The Briefing")
    expect(page.get_by_role("link", name="Subscribe by email")).to_be_visible()
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"home-{width}.png"), full_page=True)

    page.get_by_role("link", name="All past issues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The Briefing: past issues")
    expect(page.get_by_role("link", name="Issue <one> & more")).to_be_visible()
    expect(page.get_by_text("Bank of England Cuts Rates", exact=False)).to_be_visible()
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"archive-{width}.png"), full_page=True)

    page.get_by_role("link", name="Issue <one> & more").click()
    expect(page).to_have_title("Issue <one> & more")
    expect(page.get_by_role("heading", level=2).first).to_be_visible()
    for chrome in ("View in your browser", "Unsubscribe", "You are receiving"):
        expect(page.get_by_text(chrome)).to_have_count(0)
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"issue-{width}.png"), full_page=True)

    page.get_by_role("link", name="Subscribe").last.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe to The Briefing")
    assert problems == []
    context.close()

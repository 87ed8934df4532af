"""The weekly digest in Chromium: the editor picks this week or last week (with their
brief counts), a brief marked ready afterwards shows up as new with one click to add it, at
desktop width and on a 375 px phone. Screenshots are kept under ``artifacts/``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from campaigns.weeks import IsoWeek
from newsletter.db import Database
from tests.campaigns.helpers import ready_brief
from tests.editor.conftest import add_editor
from tests.editor.test_browser_editor import _overflow, open_editor
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 375])
def test_an_editor_makes_last_weeks_digest_and_adds_a_late_brief(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    add_editor(db, "ann@example.org")
    today = datetime.now(ZoneInfo(site.settings.editor_timezone)).date()
    last_week = IsoWeek.of(today).previous
    ready_brief(db, "last-weeks", today - timedelta(days=7))
    context, page, errors = open_editor(browser, site, width=width)

    page.goto(f"{site.url}/editor/campaigns/new")
    offer = page.locator(f'li[data-week="{last_week}"]')
    expect(offer).to_contain_text("1 ready brief")
    expect(page.locator("#digest-weeks li")).to_have_count(2)
    assert _overflow(page) <= 0  # the brief table scrolls in its own box
    page.screenshot(path=str(artifacts_dir / f"digest-weeks-{width}.png"), full_page=True)
    offer.get_by_role("button", name=f"Make the digest of last week ({last_week})").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Weekly digest {last_week}")
    expect(page.locator("#new-briefs")).to_have_count(0)

    ready_brief(db, "late-story", today - timedelta(days=6))  # marked ready afterwards
    page.goto(f"{site.url}/editor/campaigns/new")
    expect(page.locator(f'li[data-week="{last_week}"]')).to_contain_text(
        "1 new since you created it"
    )
    page.locator(f'li[data-week="{last_week}"]').get_by_role("link").click()
    news = page.locator("#new-briefs")
    expect(news).to_contain_text("New since you created this: 1 brief marked ready")
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"digest-new-{width}.png"), full_page=True)
    news.get_by_role("button", name="Add Story late-story").click()
    expect(page.get_by_role("status").first).to_contain_text("Included late-story.")
    expect(page.locator("#new-briefs")).to_have_count(0)
    expect(page.locator("main ol").last.locator("li")).to_have_text(
        ["Story late-story", "Story last-weeks"]
    )
    assert errors == []
    context.close()

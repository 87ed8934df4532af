"""An editor reads the list's health in Chromium: from the reports page to the history, its
charts with Gmail's lines, a weekly view and its CSV, at desktop width and at 375 px.
Screenshots are kept under ``artifacts/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from newsletter.db import Database
from tests.campaigns.health_data import sent_three_issues
from tests.editor.conftest import add_editor
from tests.editor.test_browser_editor import _error, _log_in, _overflow
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_an_editor_reads_the_lists_health_on_a_desktop_and_a_phone(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, tmp_path: Path
) -> None:
    add_editor(db, "ann@example.org")
    sent_three_issues(db, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []  # e.g. what the Content-Security-Policy blocked
    page.on("console", lambda m: _error(errors, m))
    _log_in(page, site)

    page.get_by_role("navigation", name="Editor").get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="List health over time").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("List health")
    rows = page.locator("table#health tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(2).locator('td[data-figure="complaint_rate"]')).to_have_text("0.40 % over")
    expect(rows.nth(0).locator('td[data-figure="bounce_rate"] .verdict')).to_have_class(
        "verdict fail"
    )
    complaints = page.get_by_role("img", name="Complaint rate by campaign")
    expect(complaints).to_be_visible()
    expect(complaints.locator("text.scale")).to_have_text("scale: 0–0.5 %")
    expect(complaints.locator("line.limit")).to_have_count(2)
    expect(page.get_by_role("img", name="Bounce rate by campaign")).to_be_visible()
    expect(page.locator("#flagged li")).to_have_count(3)
    page.screenshot(path=str(artifacts_dir / "health.png"), full_page=True)

    page.get_by_label("One row per").select_option("week")
    page.get_by_label("for the last").fill("4")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("img", name="Complaint rate by week")).to_be_visible()
    assert page.url.endswith("/editor/reports/health?by=week&last=4")
    expect(rows).to_have_count(4)
    expect(rows.nth(2).locator('td[data-figure="sent"]')).to_have_text("0")
    with page.expect_download() as download:
        page.get_by_role("link", name="This history (CSV)").click()
    assert download.value.suggested_filename == "list-health-by-week.csv"
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("label,campaign_id,start,campaigns,sent,") and len(lines) == 5

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(page.locator("figure.chart svg").first).to_be_visible()
    assert _overflow(page) <= 0  # charts shrink, the table scrolls in its own box
    page.screenshot(path=str(artifacts_dir / "health-375.png"), full_page=True)
    assert errors == []
    context.close()

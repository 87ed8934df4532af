"""The welcome series page in Chromium, at desktop width and on a 375 px phone: an editor
reaches it from the navigation, writes a step (the hostile subject stays text), sees it
listed, disables it, and the page needs no sideways scrolling nor breaks its policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from campaigns.welcome_steps import StepText, add_step
from newsletter.db import Database
from tests.editor.conftest import add_editor
from tests.editor.test_browser_editor import _overflow, open_editor
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser
HOSTILE = "<b>Welcome</b> & hello"


@pytest.mark.parametrize("width", [1280, 375])
def test_an_editor_writes_and_disables_a_step(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    add_editor(db, "ann@example.org")
    context, page, errors = open_editor(browser, site, width=width)
    page.get_by_role("navigation", name="Editor").get_by_role("link", name="Welcome").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome series")
    page.get_by_role("link", name="New step").click()
    page.get_by_label("Days after confirmation").fill("3")
    page.get_by_label("Subject").fill(HOSTILE)
    page.get_by_label("Text").fill("First paragraph.\n\nSecond one.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome series")
    row = page.locator("tbody tr").first
    expect(row.get_by_role("rowheader")).to_contain_text(HOSTILE)  # shown as text, not bold
    expect(row.locator("b")).to_have_count(0)
    expect(row).to_contain_text("not sent yet")
    row.get_by_role("button", name="Disable").click()
    expect(page.locator("tbody tr").first).to_contain_text("disabled")
    page.screenshot(path=str(artifacts_dir / f"welcome-{width}.png"), full_page=True)
    assert _overflow(page) <= 0
    assert errors == []
    context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_an_editor_previews_a_step_and_sends_a_test_to_themself(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    add_editor(db, "ann@example.org")
    with db.transaction() as session:
        add_step(session, StepText(0, HOSTILE, "First paragraph.\n\nSecond <i>one</i>."))
    context, page, errors = open_editor(browser, site, width=width)
    page.goto(site.url + "/editor/welcome")
    page.get_by_role("link", name=f"Preview {HOSTILE}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Preview: {HOSTILE}")
    for title in ("The email at 600 pixels wide", "The email at 375 pixels wide"):
        frame = page.frame_locator(f'iframe[title="{title}"]')
        expect(frame.get_by_text("Second <i>one</i>.")).to_be_visible()  # text, not italics
    page.get_by_text("Plain-text part").click()
    expect(page.locator("#text-part")).to_contain_text("First paragraph.")
    page.screenshot(path=str(artifacts_dir / f"welcome-preview-{width}.png"), full_page=True)
    assert _overflow(page) <= 0
    page.get_by_role("button", name="Send a test to me").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Test sent through outbox to ann@example.org"
    )
    assert [str(m["To"]) for m in site.mails()] == ["ann@example.org"]
    assert errors == []
    context.close()

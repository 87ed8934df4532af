"""Subscribers and segments in Chromium, at desktop width and at 375 px: an admin finds a
reader, unsubscribes them with a reason, imports a CSV whose bad rows are shown, builds a
segment with the form (who is in it, and what they read) and previews it, and reaches the erase confirmation; nothing is
blocked by the editor's policy and no page scrolls sideways. Screenshots under
``artifacts/test_browser_people/``."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select

from newsletter.db import Database
from subscribers.model import Segment
from tests.campaigns.helpers import add_subscribers
from tests.editor.conftest import PASSWORD, add_editor
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


def _overflow(page: Page) -> int:
    return cast(int, page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def _shot(page: Page, folder: Path, name: str, width: int) -> None:
    assert _overflow(page) <= 0, f"{name} scrolls sideways at {width} px"
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 375])
def test_an_admin_works_with_subscribers_and_segments(
    browser: Browser,
    db: Database,
    site: LiveServer,
    artifacts_dir: Path,
    tmp_path: Path,
    width: int,
) -> None:
    add_editor(db, "root@example.org", role="admin")
    add_subscribers(db, 12, topics=["climate"])
    add_subscribers(db, 3, start=50, topics=["europe"])
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:  # refused forms answer 422 on purpose
        refused = "status of 422" in message.text
        favicon = message.location["url"].endswith("/favicon.ico")
        if message.type == "error" and not refused and not favicon:
            errors.append(message.text)

    page.on("console", console)
    page.goto(f"{site.url}/editor/login")
    page.get_by_label("Email address").fill("root@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Find a reader and unsubscribe them, with the reason the form insists on.
    page.get_by_role("link", name="Subscribers", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscribers")
    page.get_by_label("Address or name contains").fill("READER1")
    page.get_by_label("Status").select_option("active")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#subscribers tbody tr")).to_have_count(3)  # reader11, 10 and 1
    _shot(page, artifacts_dir, "subscribers", width)
    page.goto(f"{site.url}/editor/subscribers?q=reader5%40")
    page.get_by_role("link", name="reader5@example.org").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("reader5@example.org")
    page.get_by_label("Unsubscribe now").check()
    page.get_by_role("button", name="Change the status").click()
    assert page.evaluate("document.querySelector('#reason').validity.valueMissing")
    page.get_by_label("Why").fill("asked by phone")
    page.get_by_role("button", name="Change the status").click()
    expect(page.get_by_role("status").first).to_contain_text("reader5@example.org is unsubscribed")
    expect(page.locator("#status")).to_have_text("unsubscribed")
    expect(page.locator("#consent")).to_contain_text("asked by phone")
    _shot(page, artifacts_dir, "subscriber", width)

    # The erase confirmation asks for the address itself.
    page.get_by_role("link", name="Erase this subscriber…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase reader5@example.org?")
    page.get_by_label("Type the address to confirm").fill("reader6@example.org")
    page.get_by_label("Why").fill("ticket 7")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.locator("#erase-error")).to_contain_text("Type the subscriber's address")
    _shot(page, artifacts_dir, "erase", width)

    # A CSV with a bad row imports nothing and says where.
    page.goto(f"{site.url}/editor/subscribers/import")
    bad = tmp_path / "list.csv"
    bad.write_text("email,name\nann@example.net,Ann\nnot-an-address,Bob\n")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    problems = page.locator("#import-problems")
    expect(problems).to_contain_text("Nothing was imported")
    expect(problems.locator("tbody tr")).to_have_count(1)
    expect(problems.locator("tbody td").nth(1)).to_have_text("3")
    _shot(page, artifacts_dir, "import-errors", width)

    # A segment built with the form, previewed, saved, and listed with its count.
    page.get_by_role("link", name="Segments", exact=True).click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Name", exact=True).fill("climate readers")
    page.get_by_label("Topics (separated by commas)").fill("climate")
    page.locator("input[name=status_in][value=active]").check()
    # what they read: fields, not JSON
    page.get_by_label("Narratives", exact=True).select_option("facts-only")
    page.get_by_label("At most … briefs").fill("4")
    page.get_by_label("Greeting (").fill("Hi {name},")
    page.get_by_role("button", name="Preview: count and sample").click()
    expect(page.locator("#preview-count")).to_have_text("11")  # reader5 left
    expect(page.locator("#preview tbody tr")).to_have_count(10)
    _shot(page, artifacts_dir, "segment-preview", width)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_contain_text("Segment climate readers is saved")
    row = page.locator("tr", has_text="climate readers")
    expect(row.locator("td.num").first).to_have_text("11")
    _shot(page, artifacts_dir, "segments", width)
    with db.transaction() as session:
        options = session.scalars(select(Segment.options).where(Segment.name == "climate readers"))
        saved = dict(options.one())
    assert (saved["narratives"], saved["max_briefs"], saved["greeting"]) == (
        "facts-only",
        4,
        "Hi {name},",
    )
    assert errors == []
    context.close()

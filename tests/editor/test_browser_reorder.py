"""Reordering a campaign's briefs and segments by dragging, in Chromium at desktop width and
on a 375 px phone: the ticked rows are renumbered in the order shown and the campaign keeps
that order; the number boxes still work (and are all there is without script)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from campaigns.model import Campaign
from campaigns.service import brief_labels, segment_names
from newsletter.db import Database
from tests.campaigns.helpers import SLUGS, add_tech_and_economy, import_examples
from tests.editor.conftest import add_editor
from tests.editor.test_browser_editor import _log_in, _overflow, open_editor
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser


def _drag(page: Page, handle: Locator, target: Locator) -> None:
    """Press on ``handle``, move over the upper part of ``target``'s row, release."""
    start = handle.bounding_box()
    end = target.bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + 10, end["y"] + end["height"] / 4, steps=8)
    page.mouse.up()


def _order(db: Database) -> tuple[list[str], list[str]]:
    with db.transaction() as session:
        campaign = session.scalars(select(Campaign)).one()
        briefs = [slug for slug, _ in brief_labels(session, campaign)]
        return briefs, segment_names(session, campaign)


@pytest.mark.parametrize("width", [1280, 375])
def test_an_editor_drags_briefs_and_segments_into_order(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    add_editor(db, "ann@example.org")
    import_examples(db)
    add_tech_and_economy(db)
    # tall enough that the whole brief table is in view while dragging (the mouse moves in
    # the window's coordinates)
    context, page, errors = open_editor(browser, site, width=width, height=4000)
    page.goto(f"{site.url}/editor/campaigns/new")
    page.get_by_label("Name").fill("Dragged")
    briefs = page.locator("#brief-choices tbody tr")
    rows = {slug: briefs.filter(has=page.locator(f'input[value="{slug}"]')) for slug in SLUGS}
    for slug in SLUGS:
        rows[slug].get_by_role("checkbox").check()
    # the last example brief goes to the top of the table, above the first
    first = briefs.first
    _drag(page, rows[SLUGS[2]].locator("button.drag"), first)
    expect(page.locator("tr.dragging")).to_have_count(0)  # dropped
    expect(briefs.first.get_by_role("checkbox")).to_have_attribute("value", SLUGS[2])
    numbers = {slug: rows[slug].locator('input[type="number"]') for slug in SLUGS}
    expect(numbers[SLUGS[2]]).to_have_value("1")
    shown = [
        slug
        for slug in page.locator("#brief-choices tbody input[type=checkbox]:checked").evaluate_all(
            "boxes => boxes.map(b => b.value)"
        )
    ]
    assert shown[0] == SLUGS[2]
    for number, slug in enumerate(shown, 1):
        expect(numbers[slug]).to_have_value(str(number))

    segments = page.locator("#segment-choices tbody tr")
    for name in ("tech", "economy"):
        segments.filter(has_text=name).get_by_role("checkbox").check()
    _drag(page, segments.filter(has_text="economy").locator("button.drag"), segments.first)
    expect(segments.filter(has_text="economy").locator('input[type="number"]')).to_have_value("1")
    expect(segments.filter(has_text="tech").locator('input[type="number"]')).to_have_value("2")
    # the drop is announced to screen readers (the handle itself is hidden from them)
    said = page.locator("#segment-choices + p[role=status]")
    expect(said).to_have_text(re.compile(r"^economy: now number 1, row 1 of \d+\.$"))
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"reorder-{width}.png"), full_page=True)
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dragged")
    assert _order(db) == (shown, ["economy", "tech"])

    # editing shows the chosen briefs first, in their order
    page.get_by_role("link", name="Edit").click()
    ticked = page.locator("#brief-choices tbody tr").first.get_by_role("checkbox")
    expect(ticked).to_have_attribute("value", SLUGS[2])
    assert errors == []
    context.close()


def test_without_script_the_number_boxes_decide(
    browser: Browser, db: Database, site: LiveServer
) -> None:
    add_editor(db, "ann@example.org")
    import_examples(db)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _log_in(page, site)
    page.goto(f"{site.url}/editor/campaigns/new")
    expect(page.locator("button.drag")).to_have_count(0)
    page.get_by_label("Name").fill("Typed")
    for number, slug in ((2, SLUGS[0]), (1, SLUGS[1])):
        row = page.locator("#brief-choices tbody tr").filter(
            has=page.locator(f'input[value="{slug}"]')
        )
        row.get_by_role("checkbox").check()
        row.locator('input[type="number"]').fill(str(number))
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Typed")
    assert _order(db)[0] == [SLUGS[1], SLUGS[0]]
    context.close()

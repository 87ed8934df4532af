"""Editing a brief in Chromium, at desktop width and on a 375 px phone: the preview follows a
changed fact as one types, a row is added in place, a problem shows in the preview and beside
its field, the save is a new version, and the history shows who changed what (and restores).
Without script the same form works by posting back."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from newsletter.briefs.importer import store_briefs
from newsletter.briefs.store import load_brief
from newsletter.briefs.structured import load_structured
from newsletter.db import Database
from tests.briefs.test_structured import YAML_BRIEF
from tests.editor.conftest import add_editor
from tests.editor.test_browser_editor import _log_in, _overflow, open_editor
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser
SLUG = "ecb-holds-rates"


def _store(db: Database) -> None:
    add_editor(db, "ann@example.org")
    brief = load_structured(YAML_BRIEF, source="ecb.yaml", fmt="yaml")
    store_briefs(db, [(Path("ecb.yaml"), brief)])


def _preview(page: Page):  # type: ignore[no-untyped-def]
    return page.frame_locator('iframe[name="brief-preview"]')


@pytest.mark.parametrize("width", [1280, 375])
def test_an_editor_edits_a_fact_sees_the_preview_saves_and_reads_the_history(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    _store(db)
    context, page, errors = open_editor(browser, site, width=width, height=1000)
    page.goto(f"{site.url}/editor/briefs/{SLUG}")
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit brief")
    expect(_preview(page).get_by_text("The ECB kept its deposit rate unchanged.")).to_be_visible()

    fact = page.locator("#facts-0-text")
    fact.fill("The ECB kept its deposit rate at 2% for a fourth meeting.")
    expect(_preview(page).get_by_text("for a fourth meeting")).to_be_visible()

    page.get_by_role("button", name="Add a fact").click()  # in place, no round trip
    expect(page.locator("#facts-2-text")).to_be_focused()
    page.locator("#facts-2-text").fill("Lagarde said nothing about March.")
    page.locator("#facts-2-citations").fill("1")
    expect(_preview(page).get_by_text("Lagarde said nothing about March.")).to_be_visible()

    # a problem shows in the preview while typing (a forecast's probability above 1)
    probability = page.locator("#narratives-1-probability")
    probability.fill("1.5")
    expect(
        _preview(page).get_by_text(
            "narrative 2 probability input should be less than or equal to 1"
        )
    ).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#narratives-1-probability-error-1")).to_contain_text(
        "less than or equal to 1"
    )
    expect(probability).to_have_attribute("aria-invalid", "true")
    # the page shows what was typed; with script the frame previews that at once, problems too
    expect(_preview(page).get_by_text("narrative 2 probability input should be")).to_be_visible()
    expect(page.locator("#facts-0-text")).to_have_value(
        "The ECB kept its deposit rate at 2% for a fourth meeting."
    )
    probability.fill("0.4")
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"brief-edit-{width}.png"), full_page=True)
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved ecb-holds-rates as version 2.")
    with db.transaction() as session:
        brief = load_brief(session, SLUG)
    assert brief.facts[0].text.endswith("for a fourth meeting.")
    assert brief.facts[2].citations == [1] and brief.narratives[1].probability == 0.4

    page.get_by_role("link", name="History").click()
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("ann@example.org")
    expect(rows.first).to_contain_text("fact 1 text, fact 3 added, narrative 2 probability")
    diff = page.locator("table.diff")
    expect(diff.locator("tr", has_text="fact 1 text").locator("del")).to_have_text(
        "The ECB kept its deposit rate unchanged."
    )
    expect(diff.locator("tr", has_text="fact 1 text").locator("ins")).to_contain_text(
        "for a fourth meeting"
    )
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"brief-history-{width}.png"), full_page=True)

    page.get_by_role("link", name="1", exact=True).click()
    page.get_by_role("button", name="Restore version 1").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Restored version 1 of ecb-holds-rates as version 3."
    )
    expect(rows).to_have_count(3)
    with db.transaction() as session:
        assert load_brief(session, SLUG).facts[0].text == "The ECB kept its deposit rate unchanged."
    # nothing blocked by the pages' policies; the answers with problems are 422 on purpose
    assert [e for e in errors if "status of 422" not in e] == []
    context.close()


def test_without_script_rows_are_added_by_posting_back_and_preview_is_server_side(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path
) -> None:
    _store(db)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 900})
    page = context.new_page()
    _log_in(page, site)
    page.goto(f"{site.url}/editor/briefs/new")
    page.get_by_label("Title").fill("Grid strikes <b>winter</b>")
    page.locator("#facts-0-text").fill("Strikes hit the grid.")
    page.get_by_role("button", name="Add a fact").click()  # posts back, keeps what was typed
    expect(page.locator("#facts-0-text")).to_have_value("Strikes hit the grid.")
    page.locator("#facts-1-text").fill("Repairs take weeks.")
    page.get_by_role("button", name="Preview").click()  # into the frame, rendered on the server
    expect(_preview(page).get_by_text("Repairs take weeks.")).to_be_visible()
    heading = _preview(page).get_by_role("heading", name="Grid strikes <b>winter</b>")
    expect(heading).to_be_visible()  # shown as text, not markup
    page.get_by_label("Last updated").fill("")
    page.get_by_role("button", name="Add brief").click()
    expect(page.locator("#updated-error-1")).to_contain_text("updated input should be a valid date")
    page.get_by_label("Last updated").fill("2026-12-01")
    page.get_by_role("button", name="Add brief").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grid strikes <b>winter</b>")
    with db.transaction() as session:
        assert [f.text for f in load_brief(session, "grid-strikes-b-winter-b").facts] == [
            "Strikes hit the grid.",
            "Repairs take weeks.",
        ]
    page.screenshot(path=str(artifacts_dir / "brief-new-noscript-375.png"), full_page=True)
    context.close()

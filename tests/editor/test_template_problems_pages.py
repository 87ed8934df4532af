"""The campaign form and the campaign page explain a subject or preheader template's mistake
in words and show the template with the spot marked, escaped; in Chromium at desktop width
and on a 375 px phone (screenshots under ``artifacts/``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from campaigns.service import CampaignDraft, create_campaign
from newsletter.db import Database
from tests.campaigns.helpers import SLUGS, add_segment, add_subscribers, import_examples
from tests.editor.conftest import Editor, add_editor
from tests.editor.test_browser_editor import _overflow, open_editor
from tests.subscribers.conftest import LiveServer

HOSTILE = '<b onmouseover="x">{{ first_title } }}'


def test_the_form_marks_the_mistake_and_escapes_the_template(db: Database, editor: Editor) -> None:
    import_examples(db)
    answer = editor.post(
        "/editor/campaigns/new", {"name": "X", "briefs": [SLUGS[0]], "subject": HOSTILE}
    )
    assert answer.status_code == 422
    page = answer.text
    assert (
        "The subject template has a mistake at line 1, column 35: “}” does not belong here" in page
    )
    assert "&lt;b onmouseover=&#34;x&#34;&gt;{{ first_title <mark>}</mark> }}" in page
    assert '<b onmouseover="x">' not in page
    assert 'aria-describedby="words-hint template-problem" aria-invalid="true"' in page

    preheader = editor.post(
        "/editor/campaigns/new",
        {"name": "X", "briefs": [SLUGS[0]], "preheader": "{{ brief_count }} · {{ titels|join }}"},
    )
    assert preheader.status_code == 422
    assert "The preheader template has a mistake at line 1, column 24: “titels” is not a value" in (
        preheader.text
    )
    assert "(did you mean &#39;titles&#39;" in preheader.text
    assert "<mark>titels</mark>" in preheader.text


def test_the_campaign_page_marks_a_segments_broken_subject(db: Database, editor: Editor) -> None:
    import_examples(db)
    add_segment(
        db, "odd", {"type": "everyone"}, {"subject": "{{ newsletter_name|upper }} {{ 1 // 0 }}"}
    )
    with db.transaction() as session:
        campaign_id = create_campaign(
            session, CampaignDraft(name="Issue", brief_slugs=[SLUGS[0]], segment_names=["odd"])
        ).id
    page = editor.get(f"/editor/campaigns/{campaign_id}").text
    row = page.split('data-variant="odd"')[1].split("</tr>")[0]
    assert "The subject template has a mistake at line 1, column 1: it divides by zero." in row
    assert "<mark>{{ newsletter_name|upper }} {{ 1 // 0 }}</mark>" in row  # two tags: the line


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 375])
def test_a_template_mistake_reads_well_in_the_browser(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: int
) -> None:
    add_editor(db, "ann@example.org")
    import_examples(db)
    add_subscribers(db, 2)
    context, page, errors = open_editor(browser, site, width=width)
    page.goto(f"{site.url}/editor/campaigns/new")
    page.get_by_label("Name").fill("Special")
    page.get_by_role("textbox", name="Subject (optional template)").fill(
        "{{ first_title }} · {{ issue_date|long_dat }}"
    )
    page.get_by_role(
        "checkbox", name="EU Gas Prices Climb as Early Cold Snap Drains Storage"
    ).check()
    page.get_by_role("button", name="Create campaign").click()
    problem = page.locator("#template-problem")
    expect(problem).to_contain_text(
        "The subject template has a mistake at line 1, column 34: there is no filter called "
        "“long_dat” (did you mean 'long_date'"
    )
    expect(problem.locator("mark")).to_have_text("|long_dat")
    expect(page.get_by_role("textbox", name="Subject (optional template)")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert _overflow(page) <= 0  # a long template scrolls in its own box
    page.screenshot(path=str(artifacts_dir / f"template-problem-{width}.png"), full_page=True)
    problem.screenshot(path=str(artifacts_dir / f"template-problem-box-{width}.png"))
    page.get_by_role("textbox", name="Subject (optional template)").fill(
        "{{ first_title }} · {{ issue_date|long_date }}"
    )
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Special")
    assert [e for e in errors if "status of 422" not in e] == []  # the form sent back
    context.close()

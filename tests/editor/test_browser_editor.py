"""An editor in Chromium against the real server: log in, upload briefs, build a campaign,
preview it at 600 and 375 px, send a test that lands in the outbox, schedule it, log out;
read a sent campaign's report and download a table of it; and nobody gets in without
logging in. Screenshots are kept under ``artifacts/``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route, expect
from sqlalchemy import select

from campaigns.model import Campaign
from newsletter.db import Database
from tests.briefs.test_structured import YAML_BRIEF
from tests.campaigns.helpers import add_subscribers
from tests.conftest import SEED_BRIEF
from tests.editor.conftest import PASSWORD, add_editor, sent_and_read
from tests.subscribers.conftest import LiveServer

pytestmark = pytest.mark.browser

SEED_TITLE = "Ukrainian Commander: Russia 'Losing Steam' in Bakhmut"
PHOTO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675">'
    b'<rect width="1200" height="675" fill="#6f8aa5"/></svg>'
)


def _offline(page: Page, server: LiveServer) -> None:
    """Requests to the server go through; anything else (brief images) gets a local SVG."""

    def answer(route: Route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            route.fulfill(status=200, body=PHOTO, content_type="image/svg+xml")

    page.route("**/*", answer)


def _campaign(db: Database) -> Campaign:
    with db.transaction() as session:
        return session.scalars(select(Campaign)).one()


def test_an_editor_builds_previews_tests_and_schedules_an_issue(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, tmp_path: Path
) -> None:
    add_editor(db, "ann@example.org")
    add_subscribers(db, 3)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _offline(page, site)

    # Logged out, the editor's pages lead to the login, which leads back.
    page.goto(f"{site.url}/editor/briefs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to the editor")
    page.get_by_label("Email address").fill("ann@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an active account")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Briefs")
    assert page.url == f"{site.url}/editor/briefs"

    # A broken file stops the whole upload, with FILE:LINE: why next to the form.
    broken = tmp_path / "ecb.yaml"
    broken.write_text(YAML_BRIEF.replace("updated: 2026-11-20", "updated: 2026-13-01"))
    seed = tmp_path / "bakhmut.txt"
    seed.write_bytes(SEED_BRIEF.read_bytes())
    page.locator("#files").set_input_files([str(seed), str(broken)])
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-problems")).to_contain_text("ecb.yaml:3:")
    expect(page.locator("#upload-problems")).to_contain_text("Nothing was stored")
    page.screenshot(path=str(artifacts_dir / "upload-error.png"), full_page=True)

    broken.write_text(YAML_BRIEF)
    page.locator("#files").set_input_files([str(seed), str(broken)])
    page.get_by_label("Mark them ready for the weekly digest").check()
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status").first).to_contain_text("Added")
    expect(page.get_by_role("link", name=SEED_TITLE)).to_be_visible()
    expect(page.get_by_text("sources without a URL: [2]")).to_be_visible()

    # A campaign from both briefs, the ECB brief first.
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Friday issue")
    page.get_by_role("textbox", name="Subject (optional template)").fill(
        "{{ first_name }}, {{ first_title }}"
    )
    page.get_by_role("checkbox", name=SEED_TITLE).check()
    page.get_by_role("checkbox", name="ECB holds rates at 2%").check()
    page.get_by_label(f"Order of {SEED_TITLE}").fill("2")
    page.get_by_label("Order of ECB holds rates at 2%").fill("1")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Friday issue")
    expect(page.get_by_role("status").first).to_contain_text("Campaign created.")
    page.screenshot(path=str(artifacts_dir / "campaign.png"), full_page=True)

    # The preview: the email at both widths, the inbox line, the size, the links.
    page.get_by_role("link", name="Preview and test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: Friday issue")
    expect(page.locator("#preview-subject")).to_have_text("there, ECB holds rates at 2%")
    expect(page.get_by_text("where Gmail clips")).to_be_visible()
    for width in (600, 375):
        frame = page.frame_locator(f"iframe.w{width}")
        expect(frame.get_by_text("The ECB kept its deposit rate unchanged.")).to_be_visible()
        box = page.locator(f"iframe.w{width}").bounding_box()
        assert box is not None and round(box["width"]) == width + 2  # plus its 1 px border
        page.locator(f"iframe.w{width}").screenshot(path=str(artifacts_dir / f"email-{width}.png"))
    page.screenshot(path=str(artifacts_dir / "preview.png"), full_page=True)

    # A test through the configured provider (the outbox) arrives marked as a test.
    page.get_by_label("To (up to").fill("desk@example.org")
    page.get_by_role("button", name="Send a test").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "sent through outbox to desk@example.org"
    )
    (mail,) = site.mails()
    assert str(mail["To"]) == "desk@example.org"
    assert str(mail["Subject"]) == "[TEST] there, ECB holds rates at 2%"
    html = cast(EmailMessage, mail.get_body(("html",))).get_content()
    assert "Test send." in html and "/t/o/" not in html

    # Schedule it, after a confirmation that says how many readers it reaches.
    page.get_by_role("link", name="Friday issue").click()
    when = datetime.now(UTC) + timedelta(days=2)
    page.get_by_label("Send at").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Schedule: Friday issue?")
    expect(page.locator("#reach-total")).to_have_text("3")
    page.screenshot(path=str(artifacts_dir / "confirm-schedule.png"), full_page=True)
    # The seed brief's [1]–[6] have no source: it goes only with a ticked box and a reason.
    expect(page.locator("#blocked")).to_contain_text("cites [1], [2], [3], [4], [5], [6]")
    page.get_by_role("checkbox", name="Send anyway: I checked these briefs").check()
    page.get_by_label("Why (recorded on the campaign, with your name)").fill("reference input")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_role("status").first).to_contain_text("Scheduled.")
    expect(page.locator("#unsourced")).to_contain_text("“reference input” (ann@example.org")
    campaign = _campaign(db)
    assert campaign.status == "scheduled" and campaign.send_at is not None
    assert [entry["check"] for entry in campaign.overrides] == ["unsourced-citations"]
    assert campaign.send_at.strftime("%Y-%m-%dT%H:%M") == when.strftime("%Y-%m-%dT%H:%M")

    # Logging out closes the door for pages and for the API.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to the editor")
    assert page.request.get(f"{site.url}/editor/api/campaigns").status == 401
    page.goto(f"{site.url}/editor/campaigns/{campaign.id}/preview")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to the editor")
    context.close()


def test_logged_out_visitors_are_refused(browser: Browser, site: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    for path in ("/editor", "/editor/campaigns/new", "/editor/admin/editors"):
        page.goto(f"{site.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Log in to the editor")
    api = page.request.get(f"{site.url}/editor/api/briefs")
    assert api.status == 401 and api.json()["detail"].startswith("log in first")
    context.close()


def test_the_editor_reads_well_on_a_phone(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path
) -> None:
    add_editor(db, "ann@example.org")
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    _log_in(page, site)
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / "campaigns-375.png"), full_page=True)
    context.close()


def _log_in(page: Page, site: LiveServer, email: str = "ann@example.org") -> None:
    page.goto(f"{site.url}/editor/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")


def open_editor(
    browser: Browser, site: LiveServer, *, width: int, height: int = 900
) -> tuple[BrowserContext, Page, list[str]]:
    """ann@example.org (added already) logged in, in a window this size; the list collects
    the console's errors (what the Content-Security-Policy blocked, say)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: _error(errors, m))
    _log_in(page, site)
    return context, page, errors


def _error(errors: list[str], message: ConsoleMessage) -> None:
    if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
        errors.append(message.text)


def _overflow(page: Page) -> int:
    """How far the page is wider than the window (0 or less: no sideways scrolling)."""
    return cast(int, page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_an_editor_reads_a_report_and_downloads_a_table(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path
) -> None:
    add_editor(db, "ann@example.org")
    campaign_id = sent_and_read(db, site).campaign_id
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []  # e.g. what the Content-Security-Policy blocked (no favicon: fine)
    page.on("console", lambda m: _error(errors, m))
    _log_in(page, site)

    page.get_by_role("navigation", name="Editor").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    page.get_by_role("link", name="Issue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Report: Issue")
    assert page.url == f"{site.url}/editor/campaigns/{campaign_id}/report"
    expect(page.locator('dd[data-figure="opened"]')).to_have_text("4 44.4 %")
    expect(page.locator('tr[data-figure="clicked"] td')).to_have_text(["2", "1", "3"])
    charts = page.locator("figure.chart svg")
    expect(charts).to_have_count(3)
    for index in range(3):
        expect(charts.nth(index)).to_be_visible()
    expect(page.get_by_role("img", name="Opens and clicks by segment (of sent)")).to_be_visible()
    expect(charts.first.locator("text.scale")).to_have_text(re.compile(r"scale: 0–\d+(\.\d)? %"))
    page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="segments (CSV)").click()
    assert download.value.suggested_filename == f"campaign-{campaign_id}-segments.csv"
    rows = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("segment,variant_id,recipients,sent,")
    assert [row.split(",")[0] for row in rows[1:]] == ["tech", "economy", "all"]

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(page.locator("figure.chart svg").first).to_be_visible()
    assert _overflow(page) <= 0  # charts shrink, wide tables scroll in their own box
    page.screenshot(path=str(artifacts_dir / "report-375.png"), full_page=True)
    assert errors == []
    context.close()

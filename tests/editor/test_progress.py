"""A running send's progress on the campaign page: the bar, the rate and the time left, the
failures and unknowns linked to their reasons; over HTTP, in the API, and live in Chromium at
desktop width and 375 px (the page's script measures the current rate between its polls)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from campaigns.freeze import freeze_campaign
from campaigns.model import Campaign, Delivery
from campaigns.progress import send_progress, time_left_words
from newsletter.db import Database, utcnow
from tests.campaigns.helpers import add_subscribers, import_examples, new_campaign
from tests.editor.conftest import PASSWORD, Editor, add_editor
from tests.subscribers.conftest import LiveServer

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_the_rate_is_the_average_since_sending_started_and_the_time_left_follows() -> None:
    counts = {"queued": 6_000, "sending": 1_000, "sent": 2_900, "failed": 100}
    progress = send_progress(counts, "sending", NOW - timedelta(seconds=100), NOW)
    assert (progress.total, progress.settled, progress.waiting) == (10_000, 3_000, 7_000)
    assert progress.percent == 30.0
    assert progress.rate == 30.0
    assert progress.seconds_left == pytest.approx(7_000 / 30)
    assert progress.time_left == "about 4 minutes"
    assert progress.rate_text == "30"
    assert send_progress(counts, "sending", NOW - timedelta(seconds=600), NOW).rate_text == "5.0"


@pytest.mark.parametrize("status", ["paused", "sent", "scheduled", "cancelled"])
def test_only_a_campaign_that_is_sending_has_a_rate(status: str) -> None:
    progress = send_progress({"sent": 5, "queued": 5}, status, NOW - timedelta(hours=1), NOW)
    assert progress.rate is None and progress.seconds_left is None and progress.time_left == ""
    assert progress.percent == 50.0


def test_nothing_settled_yet_says_nothing_about_speed() -> None:
    progress = send_progress({"queued": 10}, "sending", NOW - timedelta(seconds=5), NOW)
    assert progress.rate is None and progress.time_left == ""
    assert send_progress({}, "sending", None, NOW).percent == 0.0


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, ""),
        (0, "under a minute"),
        (59, "under a minute"),
        (60, "about 1 minute"),
        (89, "about 1 minute"),
        (150, "about 2 minutes"),
        (3_600, "about 1 hour"),
        (3_660, "about 1 hour 1 minute"),
        (7_900, "about 2 hours 12 minutes"),
    ],
)
def test_time_left_in_words(seconds: float | None, words: str) -> None:
    assert time_left_words(seconds) == words


def _sending(db: Database, site: LiveServer, readers: int = 4) -> int:
    """A frozen campaign sending to ``readers``: one sent, one failed, started 20 s ago."""
    import_examples(db)
    add_subscribers(db, readers)
    campaign_id = new_campaign(db)
    freeze_campaign(db, campaign_id, site.settings)
    with db.transaction() as session:
        ids = session.scalars(
            select(Delivery.id).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)
        ).all()
        session.execute(update(Delivery).where(Delivery.id == ids[0]).values(status="sent"))
        session.execute(
            update(Delivery)
            .where(Delivery.id == ids[1])
            .values(status="failed", error="550 5.1.1 <reader1@example.org>: no such mailbox")
        )
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(status="sending", started_at=utcnow() - timedelta(seconds=20))
        )
    return campaign_id


def _settle_one_more(db: Database, campaign_id: int) -> None:
    with db.transaction() as session:
        queued = session.scalars(
            select(Delivery.id).where(
                Delivery.campaign_id == campaign_id, Delivery.status == "queued"
            )
        ).first()
        assert queued is not None
        session.execute(update(Delivery).where(Delivery.id == queued).values(status="sent"))


def test_the_campaign_page_and_the_api_show_how_far_a_send_has_got(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    campaign_id = _sending(db, site)
    page = editor.get(f"/editor/campaigns/{campaign_id}").text
    assert '<progress data-progress-bar max="4" value="2"' in page
    assert "2 of 4 settled (50 %)" in page
    assert re.search(
        r"· 0\.1 a second on average since sending started · under a minute left", page
    )
    # The failure count leads to its reason.
    assert '<a href="#delivery-errors" title="Why: the delivery errors below">1</a>' in page
    assert '<div id="delivery-errors" data-problems>' in page
    assert "no such mailbox" in page

    detail = editor.get(f"/editor/api/campaigns/{campaign_id}").json()
    progress = detail["progress"]
    assert (progress["total"], progress["settled"], progress["waiting"]) == (4, 2, 2)
    assert progress["percent"] == 50.0
    assert 0.05 < progress["rate_per_second"] <= 0.1  # 2 settled in about 20 s
    assert progress["time_left"] == "under a minute"

    with db.transaction() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="paused"))
    paused = editor.get(f"/editor/campaigns/{campaign_id}").text
    assert "2 of 4 settled (50 %) · paused with 2 to go" in paused
    assert (
        editor.get(f"/editor/api/campaigns/{campaign_id}").json()["progress"]["seconds_left"]
        is None
    )


WIDTHS = {"desktop": 1280, "375": 375}


def _overflow(page: Page) -> int:
    return cast(int, page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_the_progress_moves_while_the_page_is_open(
    browser: Browser, db: Database, site: LiveServer, artifacts_dir: Path, width: str
) -> None:
    campaign_id = _sending(db, site, readers=5)
    add_editor(db, "ann@example.org")
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    missing: list[str] = []
    page.on("response", lambda answer: answer.status >= 400 and missing.append(answer.url))
    page.goto(f"{site.url}/editor/campaigns/{campaign_id}")
    page.get_by_label("Email address").fill("ann@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    text = page.locator("[data-progress-text]")
    expect(text).to_contain_text("2 of 5 settled (40 %)")
    expect(text).to_contain_text("on average since sending started")
    bar = page.locator("[data-progress-bar]")
    assert bar.get_attribute("value") == "2"
    page.screenshot(path=str(artifacts_dir / f"progress-{width}.png"), full_page=True)

    # A reader's delivery settles: the next poll moves the bar and measures the rate now.
    _settle_one_more(db, campaign_id)
    expect(text).to_contain_text("3 of 5 settled (60 %)", timeout=10_000)
    expect(bar).to_have_attribute("value", "3")
    _settle_one_more(db, campaign_id)
    expect(text).to_contain_text("4 of 5 settled (80 %)", timeout=10_000)
    expect(text).to_contain_text("a second now")
    expect(text).to_contain_text("left")
    expect(page.locator('[data-count="sent"]')).to_have_text("3")

    page.get_by_role("link", name="1", exact=True).click()
    assert page.url.endswith("#delivery-errors")
    expect(page.locator("#delivery-errors")).to_contain_text("no such mailbox")
    assert _overflow(page) <= 0
    page.screenshot(path=str(artifacts_dir / f"progress-live-{width}.png"), full_page=True)
    assert [url for url in missing if not url.endswith("/favicon.ico")] == []
    context.close()

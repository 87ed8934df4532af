"""The editor says what a digest left out (with a way to include it) and refuses to send
citations that point to no source unless the editor overrides it with a recorded reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns.digest import create_weekly_digest
from campaigns.service import CampaignDraft, create_campaign, get_campaign
from campaigns.weeks import IsoWeek
from newsletter.config import Settings
from newsletter.db import Database
from tests.campaigns.helpers import add_subscribers, ready_brief
from tests.editor.conftest import Editor, flashes
from tests.subscribers.conftest import LiveServer


def test_the_digest_page_names_left_out_briefs_and_includes_one_on_request(
    db: Database, editor: Editor
) -> None:
    ready_brief(db, "fresh", date(2026, 11, 25))
    ready_brief(db, "seed-2023", date(2023, 3, 24))
    week = IsoWeek.parse("2026-W48")
    campaign_id = create_weekly_digest(db, week, settings=Settings()).campaign_id
    page = editor.get(f"/editor/campaigns/{campaign_id}")
    assert "Ready briefs this digest leaves out" in page.text
    assert "stale: updated on 24 March 2023" in page.text
    assert 'name="slug" value="seed-2023"' in page.text
    answer = editor.post(f"/editor/campaigns/{campaign_id}/include", {"slug": "seed-2023"})
    page = editor.follow(answer)
    assert "Included seed-2023." in flashes(page.text)
    assert "leaves out" not in page.text
    with db.transaction() as session:
        assert len(get_campaign(session, campaign_id).briefs) == 2


def test_sending_unsourced_citations_needs_a_ticked_override_and_a_reason(
    db: Database, editor: Editor
) -> None:
    ready_brief(db, "copied", date(2026, 11, 24), sourced=False)
    add_subscribers(db, 1)
    with db.transaction() as session:
        draft = CampaignDraft(name="Issue", brief_slugs=["copied"])
        campaign_id = create_campaign(session, draft).id
    assert (
        "Citations that point to no source" in editor.get(f"/editor/campaigns/{campaign_id}").text
    )
    confirm = editor.get(f"/editor/campaigns/{campaign_id}/confirm/send-now")
    assert "copied cites [1], [2], [3], [4], [5], [6]" in confirm.text
    assert 'name="override" value="unsourced-citations"' in confirm.text

    action = f"/editor/campaigns/{campaign_id}/actions/send-now"
    refused = editor.follow(editor.post(action))
    assert any("point to no source" in text for text in flashes(refused.text))
    no_reason = editor.follow(editor.post(action, {"override": "unsourced-citations"}))
    assert any("reason: is required" in text for text in flashes(no_reason.text))
    with db.transaction() as session:
        assert get_campaign(session, campaign_id).status == "draft"

    data = {"override": "unsourced-citations", "override_reason": "sources are on the web page"}
    page = editor.follow(editor.post(action, data))
    assert any("Sending starts" in text for text in flashes(page.text))
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
    assert campaign.status == "scheduled"
    (entry,) = campaign.overrides
    assert entry["by"] == "ann@example.org" and entry["reason"] == "sources are on the web page"
    assert "“sources are on the web page”" in page.text


def _local_today(site: LiveServer) -> date:
    return datetime.now(ZoneInfo(site.settings.editor_timezone)).date()


def test_the_editor_offers_this_week_and_last_and_shows_what_is_new_since(
    db: Database, editor: Editor, site: LiveServer
) -> None:
    today = _local_today(site)
    ready_brief(db, "this-weeks", today)
    ready_brief(db, "last-weeks", today - timedelta(days=7))
    this_week, last_week = IsoWeek.of(today), IsoWeek.of(today).previous
    page = editor.get("/editor/campaigns/new").text
    assert f"Make the digest of this week ({this_week})</button>" in page
    assert f"Make the digest of last week ({last_week})</button>" in page
    assert page.count(">2 ready briefs</span>") == 1 and page.count(">1 ready brief</span>") == 1

    made = editor.post("/editor/campaigns/digest", {"week": str(last_week)})
    assert made.status_code == 303
    campaign_page = editor.follow(made)
    assert f"Created the digest of {last_week} from 1 briefs." in flashes(campaign_page.text)
    location = made.headers["location"]
    campaign_id = int(location.rsplit("/", 1)[1])
    assert "New since you created this" not in campaign_page.text

    ready_brief(db, "late-one", today - timedelta(days=6))  # marked ready after the digest
    ready_brief(db, "late-two", today - timedelta(days=8))
    again = editor.post("/editor/campaigns/digest", {"week": str(last_week)})
    assert again.headers["location"] == location
    page = editor.follow(again).text
    assert (
        f"The digest of {last_week} exists already; 2 briefs are new since you created it: "
        "add them below." in flashes(page)
    )
    assert "New since you created this: 2 briefs marked ready" in page
    assert 'aria-label="Add Story late-one"' in page and "Add all 2" in page
    offers = editor.get("/editor/campaigns/new").text
    assert "<strong>2 new since you created it</strong>" in offers

    one = editor.follow(
        editor.post(f"/editor/campaigns/{campaign_id}/include", {"slug": "late-two"})
    )
    assert "Included late-two." in flashes(one.text)
    assert "New since you created this: 1 brief marked" in one.text
    rest = editor.follow(editor.post(f"/editor/campaigns/{campaign_id}/add-new"))
    assert "Added late-one." in flashes(rest.text) and "New since" not in rest.text
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        held = [b.brief_id for b in campaign.briefs]
        assert len(held) == 3


def test_a_week_that_is_not_one_is_explained(db: Database, editor: Editor) -> None:
    for week in ("2026-W60", "next week", "x" * 500, "9999-W52", "0001-W01"):
        answer = editor.post("/editor/campaigns/digest", {"week": week})
        assert answer.status_code == 303 and answer.headers["location"] == "/editor/campaigns/new"
        assert any(
            "ISO week" in t or "has no week" in t or "week is in 2000–2999" in t
            for t in flashes(editor.follow(answer).text)
        )
    missing = editor.post("/editor/campaigns/999/add-new")
    assert missing.status_code == 303
    gone = editor.follow(missing)
    assert gone.status_code == 404 and "no campaign" in gone.text.lower()

"""The editor says what a digest left out (with a way to include it) and refuses to send
citations that point to no source unless the editor overrides it with a recorded reason."""

from __future__ import annotations

from datetime import date

from campaigns.digest import create_weekly_digest
from campaigns.service import CampaignDraft, create_campaign, get_campaign
from campaigns.weeks import IsoWeek
from newsletter.config import Settings
from newsletter.db import Database
from tests.campaigns.helpers import add_subscribers, ready_brief
from tests.editor.conftest import Editor, flashes


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

"""The editor's pre-send checks: a page that runs them on demand, and a confirmation page
that holds a send through a real provider back while a check fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from campaigns.service import CampaignDraft, create_campaign, get_campaign
from newsletter.db import Database
from tests.campaigns.helpers import add_subscribers, import_cited_brief
from tests.editor.conftest import Editor, add_editor, flashes, log_in
from tests.fakes.dns_server import LoopbackDns
from tests.fakes.web_pages import pages  # noqa: F401  (the fixture)
from tests.subscribers.conftest import LiveServer


@pytest.fixture
def dns() -> Iterator[LoopbackDns]:
    server = LoopbackDns()  # answers nothing: every DNS check fails, quickly and offline
    server.start()
    yield server
    server.stop()


def _campaign(db: Database, pages: str, *paths: str) -> int:  # noqa: F811
    def point_at_pages(data: dict[str, Any]) -> None:
        for n, source in enumerate(data["sources"]):
            source["url"] = f"{pages}/{paths[n % len(paths)]}?n={n}"
        for narrative in data["narratives"]:
            narrative["url"] = None

    slug = import_cited_brief(db, slug="local-links", edit=point_at_pages)
    add_subscribers(db, 2)
    with db.transaction() as session:
        return create_campaign(session, CampaignDraft(name="Issue <b>", brief_slugs=[slug])).id


def test_the_checks_page_runs_every_check_on_demand(
    db: Database,
    editor: Editor,
    pages: str,  # noqa: F811
) -> None:
    campaign_id = _campaign(db, pages, "ok", "gone")
    assert (
        f"/editor/campaigns/{campaign_id}/checks"
        in editor.get(f"/editor/campaigns/{campaign_id}").text
    )
    page = editor.get(f"/editor/campaigns/{campaign_id}/checks")
    assert page.status_code == 200
    assert "Issue &lt;b&gt;" in page.text and "Issue <b>" not in page.text
    assert 'data-check="links" data-status="fail"' in page.text
    assert "3 of 6 broken" in page.text and "HTTP 404" in page.text
    assert 'data-check="compliance" data-status="pass"' in page.text
    assert "Shown for information: the outbox provider is not held back" in page.text
    assert editor.get("/editor/campaigns/999999/checks").status_code == 404


def test_a_failed_check_that_cannot_be_passed_holds_the_send_back(
    db: Database,
    serve: Any,
    pages: str,  # noqa: F811
    dns: LoopbackDns,
) -> None:
    site: LiveServer = serve(
        provider="smtp",
        smtp_url="smtp://127.0.0.1:9",
        compliance_checks=True,
        dns_resolver=dns.address,
        dns_timeout=0.5,
        link_check_timeout=1.0,
    )  # http public URL and no postal address: compliance fails, and cannot be passed
    add_editor(db, "ann@example.org")
    editor = log_in(site, "ann@example.org")
    campaign_id = _campaign(db, pages, "ok")
    confirm = editor.get(f"/editor/campaigns/{campaign_id}/confirm/send-now")
    assert 'data-check="compliance" data-status="fail"' in confirm.text
    assert "NEWSLETTER_POSTAL_ADDRESS" in confirm.text
    assert 'data-check="domain" data-status="fail"' in confirm.text
    assert "cannot be passed holds this campaign back" in confirm.text
    assert "disabled" in confirm.text.split("Go back")[0].rsplit("<button", 1)[1]
    data = {"override": ["domain-authentication", "made-up-check"], "override_reason": "why not"}
    answer = editor.follow(editor.post(f"/editor/campaigns/{campaign_id}/actions/send-now", data))
    assert any("did not pass its pre-send checks" in text for text in flashes(answer.text))
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        assert campaign.status == "draft"
        assert [e["check"] for e in campaign.overrides] == ["domain-authentication"]
    editor.http.close()

"""The scheduler runs the pre-send checks again when a scheduled campaign falls due: a link
that broke after scheduling pauses the campaign with the reason; with the check overridden
it goes; the outbox is never held back (and asks no page at all)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from campaigns.checks import Check
from campaigns.preflight import require_preflight
from campaigns.sending import start_due_campaigns
from campaigns.service import get_campaign, override_check, resume_campaign, schedule_campaign
from campaigns.states import CampaignStatus
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from tests.deliverability.test_domain_check import key_file, zone  # noqa: F401
from tests.deliverability.test_preflight import _campaign_linking, _enforced
from tests.fakes.dns_server import LoopbackDns


class _Site(BaseHTTPRequestHandler):
    """Every page answers 200 until its path is put in ``gone`` (then 404)."""

    gone: ClassVar[set[str]] = set()
    asked: ClassVar[list[str]] = []

    def do_HEAD(self) -> None:
        path = self.path.split("?")[0]
        self.asked.append(path)
        self.send_response(404 if path in self.gone else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    _Site.gone.clear()
    _Site.asked.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _schedule_now(db: Database, campaign_id: int, settings: Settings) -> None:
    with db.transaction() as session:
        schedule_campaign(session, campaign_id, utcnow(), settings)


def _state(db: Database, campaign_id: int) -> tuple[str, str | None]:
    with db.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        return campaign.status, campaign.status_reason


def test_a_link_broken_since_scheduling_pauses_the_campaign_until_overridden(
    db: Database,
    site: str,
    dns_server: LoopbackDns,
    key_file: Path,  # noqa: F811
) -> None:
    campaign_id = _campaign_linking(db, site, "article")
    dns_server.zone.load(zone(key_file))
    settings = _enforced(key_file, dns_server)
    require_preflight(db, campaign_id, settings)  # every check passes when it is scheduled
    _schedule_now(db, campaign_id, settings)

    _Site.gone.add("/article")  # the page moved before the campaign fell due
    assert start_due_campaigns(db, settings) == []
    status, reason = _state(db, campaign_id)
    assert status == CampaignStatus.PAUSED and reason is not None
    assert reason.startswith(f"not started when due: campaign {campaign_id} did not pass")
    assert "- links: 6 of 6 broken (override 'broken-links' with a reason)" in reason
    assert f"  {site}/article?n=0: HTTP 404" in reason and "… and 1 more" in reason
    assert start_due_campaigns(db, settings) == []  # paused: nothing due any more

    with db.transaction() as session:
        override_check(session, campaign_id, Check.BROKEN_LINKS, "it is back tonight", "ana")
        resume_campaign(session, campaign_id)
    (started,) = start_due_campaigns(db, settings)
    assert started.campaign_id == campaign_id and started.created
    assert _state(db, campaign_id) == (CampaignStatus.SENDING, None)


def test_the_outbox_is_not_held_back_and_asks_no_page(
    db: Database, site: str, tmp_path: Path
) -> None:
    campaign_id = _campaign_linking(db, site, "article")
    _Site.gone.add("/article")
    settings = Settings(outbox=tmp_path / "box", link_check_timeout=1.0)
    _schedule_now(db, campaign_id, settings)
    (started,) = start_due_campaigns(db, settings)
    assert started.campaign_id == campaign_id
    assert _state(db, campaign_id)[0] == CampaignStatus.SENDING
    assert _Site.asked == []  # not enforced: no network at all

"""Schemathesis over the editor API with a logged-in session: no request may produce a 500,
and every answer must be documented (status, content type, body shape).

The spec is the one editors fetch (``/editor/api/openapi.json``, itself behind the login).
Generated requests carry the session cookie and its CSRF token; path parameters are random
or, in the "known" runs, the ids and slugs of real rows, so that the handlers' deeper paths
(progress of a frozen campaign, changing a brief's status) are exercised too. Requests go
over real HTTP to the app under uvicorn. Derandomised and bounded: the same run every
time, in seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from schemathesis import GenerationMode

from campaigns.freeze import freeze_campaign
from campaigns.routes import TrackingSite
from campaigns.service import CampaignDraft, create_campaign
from campaigns.tracking import Hit
from newsletter.config import Settings
from newsletter.db import Database, utcnow
from tests.campaigns.helpers import (
    SLUGS,
    add_segment,
    add_subscribers,
    import_examples,
    links_by_section,
    new_campaign,
    send_issue,
)
from tests.editor.conftest import add_editor, client, log_in
from tests.fuzz_api import fuzz_operations
from tests.subscribers.conftest import LiveServer
from tests.subscribers.test_api_schema import CHECKS

OPERATIONS = {
    "GET /editor/api/me",
    "GET /editor/api/briefs",
    "GET /editor/api/briefs/{slug}",
    "PUT /editor/api/briefs/{slug}/status",
    "GET /editor/api/campaigns",
    "GET /editor/api/campaigns/{campaign_id}",
    "GET /editor/api/campaigns/{campaign_id}/audience",
    "GET /editor/api/campaigns/{campaign_id}/report",
}


def _content(db: Database, config: Settings) -> dict[str, list[object]]:
    import_examples(db)
    add_subscribers(db, 3, topics=["tech"])
    add_segment(db, "tech", {"type": "topics", "any": ["tech"]}, {})
    with db.transaction() as session:
        draft_id = create_campaign(
            session, CampaignDraft(name="Draft", brief_slugs=list(SLUGS), segment_names=["tech"])
        ).id
        frozen_id = create_campaign(
            session, CampaignDraft(name="Frozen", brief_slugs=list(SLUGS))
        ).id
    freeze_campaign(db, frozen_id, config)
    sent = send_issue(db, config, new_campaign(db))  # a report with clicks and machine opens
    tracker = TrackingSite.build(config, db).tracker
    (token, *_) = sent.tokens.values()
    link = links_by_section(db, next(iter(sent.variants.values())))["fact-citation"][0]
    tracker.click(token, link["link_id"], Hit(utcnow(), "Mozilla/5.0 (X11) Firefox/128.0"))
    tracker.record_open(token, Hit(utcnow(), "Mozilla/5.0"))
    ids = [draft_id, frozen_id, sent.campaign_id]
    return {"campaign_id": ids, "slug": list(SLUGS)}


@pytest.mark.parametrize("values", ["random", "known"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_breaks_the_editor_api(
    db: Database, serve: Callable[..., LiveServer], mode: GenerationMode, values: str
) -> None:
    server = serve()
    known = _content(db, server.settings)
    add_editor(db, "ann@example.org")
    editor = log_in(server, "ann@example.org")
    cookie, csrf = f"newsletter_editor={editor.http.cookies['newsletter_editor']}", editor.csrf
    schema = schemathesis.openapi.from_url(
        f"{server.url}/editor/api/openapi.json", headers={"Cookie": cookie}
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == OPERATIONS
    statuses = fuzz_operations(
        operations,
        mode,
        known if values == "known" else None,
        examples=15,
        checks=CHECKS,
        headers={"Cookie": cookie, "X-CSRF-Token": csrf},
    )
    assert 401 not in statuses  # the session held for every request
    if mode is GenerationMode.POSITIVE:
        assert 200 in statuses


def test_without_a_session_every_operation_answers_401(site: LiveServer) -> None:
    with client(site) as http:
        assert http.get("/editor/api/openapi.json").status_code == 401
        for label in sorted(OPERATIONS):
            method, path = label.split(" ")
            path = path.replace("{slug}", SLUGS[0]).replace("{campaign_id}", "1")
            answer = http.request(method, path, json={"status": "ready"})
            assert answer.status_code == 401, label
            assert answer.json()["detail"] == "log in first: this needs an editor session"
        public = http.get("/openapi.json").json()
        assert not [path for path in public["paths"] if path.startswith("/editor")]

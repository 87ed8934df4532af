"""Schemathesis over ``/api/v1`` with a key holding every scope: no request may produce a
500, and every answer must be documented (status, content type, body shape).

The spec is the published one (``/api/v1/openapi.json``). Path parameters are random or,
in the "known" runs, a real brief's slug and a sent campaign's id, so the deeper paths
(a brief's whole document, a report with figures) are exercised too. Derandomised and
bounded: the same run every time, in seconds. The key's rate limit is off; another test
(tests/api/test_api_v1.py) covers it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from schemathesis import GenerationMode

from newsletter.apikeys.keys import SCOPES, create_key
from newsletter.db import Database
from tests.campaigns.helpers import (
    SLUGS,
    add_subscribers,
    import_examples,
    new_campaign,
    send_issue,
)
from tests.fuzz_api import fuzz_operations
from tests.subscribers.conftest import LiveServer
from tests.subscribers.test_api_schema import CHECKS

OPERATIONS = {
    "GET /api/v1/briefs",
    "POST /api/v1/briefs",
    "GET /api/v1/briefs/{slug}",
    "PUT /api/v1/briefs/{slug}",
    "POST /api/v1/subscribers",
    "POST /api/v1/subscribers/bulk",
    "POST /api/v1/subscribers/erase",
    "GET /api/v1/campaigns",
    "GET /api/v1/campaigns/{campaign_id}/report",
}


@pytest.mark.parametrize("values", ["random", "known"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_breaks_the_v1_api(
    db: Database, serve: Callable[..., LiveServer], mode: GenerationMode, values: str
) -> None:
    server = serve()
    import_examples(db)
    add_subscribers(db, 2)
    sent = send_issue(db, server.settings, new_campaign(db))
    known: dict[str, list[object]] = {"slug": list(SLUGS), "campaign_id": [sent.campaign_id]}
    with db.transaction() as session:
        key = create_key(session, "fuzz", SCOPES, created_by="test", rate_limit=0).secret
    auth = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == OPERATIONS
    statuses = fuzz_operations(
        operations,
        mode,
        known if values == "known" else None,
        examples=20,
        checks=CHECKS,
        headers=auth,
    )
    assert 429 not in statuses
    if mode is GenerationMode.POSITIVE:  # negative runs also break the Authorization header
        assert 401 not in statuses  # the key held for every request
        assert 200 in statuses

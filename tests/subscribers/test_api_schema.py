"""Schemathesis against the app's OpenAPI spec: no generated request may produce a 500.

Every operation is exercised with schema-valid and schema-violating requests (random
tokens, odd strings, wrong types, both content types), and each answer must be a
documented status with a documented content type and body shape. Hypothesis is
derandomised and bounded, so a run is the same every time and takes seconds.

(The schemathesis pytest plugin's lazy fixture loader does not work with pytest 9, so the
schema's own Hypothesis strategy is used directly.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from newsletter.config import Settings
from newsletter.db import Database
from newsletter.tokens import Purpose, TokenSigner
from newsletter.web.app import create_app
from tests.fuzz_api import exercise_each
from tests.subscribers.conftest import add_subscriber

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


NO_INPUT = frozenset({"GET /", "GET /archive/feed.xml", "GET /archive/latest", "GET /fresh-link"})
PURPOSES = {
    "/confirm/{token}": Purpose.CONFIRM,
    "/preferences/{token}": Purpose.PREFERENCES,
    "/unsubscribe/{token}": Purpose.UNSUBSCRIBE,
    "/keep/{token}": Purpose.KEEP,
}


@pytest.mark.parametrize("tokens", ["random", "valid"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_breaks_the_api(
    db: Database, tmp_path: Path, mode: GenerationMode, tokens: str
) -> None:
    """Random tokens reach the refusal paths; valid ones (for a real pending subscriber)
    reach confirming, saving preferences and unsubscribing with fuzzed bodies."""
    config = Settings(
        topics=["europe", "climate"],
        signup_rate_limit=0,  # the fuzzer is one client sending hundreds of signups
        fresh_link_rate_limit=0,  # and of requests for a fresh link
        outbox=tmp_path / "outbox",
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(config, database=db))
    operations = [result.ok() for result in schema.get_all_operations()]
    # 8 of subscribing, 2 of a fresh preferences link by email, 2 of keeping a lapsing reader, 5 of tracking (pixel and click, with
    # HEAD), 6 of the archive (the front page, the index, the feed, the latest issue, an
    # issue, view online; the editor has its own schema, behind its login)
    assert len(operations) == 23
    path_parameters: dict[str, dict[str, str]] = {}
    if tokens == "valid":
        with db.transaction() as session:
            uid = add_subscriber(session, "fuzz@example.com", status="pending").uid
        signer = TokenSigner(config.signing_key())
        operations = [op for op in operations if op.path in PURPOSES]
        path_parameters = {
            op.label: {"token": signer.sign(PURPOSES[op.path], uid)} for op in operations
        }
    # With a fixed valid token an operation without a body (a GET, the confirm button's
    # POST) has nothing left to break: only bodies are negated. One that takes no input at
    # all (the front page, the feed) has no negative case either.
    tried = [
        op
        for op in operations
        if (tokens == "random" and op.label not in NO_INPUT)
        or mode is GenerationMode.POSITIVE
        or len(op.body) > 0
    ]
    expected = {op.label for op in tried}
    seen, _ = exercise_each(
        [op.as_strategy(mode, path_parameters=path_parameters.get(op.label)) for op in tried],
        examples=30,
        checks=CHECKS,
    )
    assert seen >= expected, f"not every operation was tried: {sorted(seen)}"

"""POST /webhooks/sendgrid over real HTTP: signatures, SendGrid's samples, replays, bad input.

Nothing but a correctly and recently signed array of events is written, and nothing at all
without a key (SendGrid events are off); a replayed batch changes no count; events for
deliveries we do not know are stored untied.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.events import Event
from campaigns.routes import sendgrid_events_notice
from campaigns.webhook_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, SendGridSignature
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.errors import ConfigurationError, WebhookVerificationError
from tests.campaigns.helpers import payload_of
from tests.campaigns.webhooks import DATA, event_count, post_batch, post_signed, sample_events
from tests.fakes.sendgrid_signing import SendGridKey
from tests.subscribers.conftest import LiveServer

Serve = Callable[..., LiveServer]
VECTOR = json.loads((DATA / "signed-vector.json").read_text())
VECTOR_BODY = (DATA / "signed-vector-body.bin").read_bytes()


@pytest.fixture
def key() -> SendGridKey:
    return SendGridKey()


@pytest.fixture
def signed(serve: Serve, key: SendGridKey) -> LiveServer:
    return serve(sendgrid_webhook_public_key=key.public_key)


def test_the_documented_sample_events_are_all_understood(
    db: Database, signed: LiveServer, key: SendGridKey
) -> None:
    body = json.dumps(sample_events("events-sample-per-type.json")).encode()
    answer = post_signed(signed, key, body)
    assert answer.status_code == 200, answer.text
    # 13 events, two of which share one sg_event_id in SendGrid's own example
    assert answer.json() == {"received": 13, "recorded": 12, "duplicates": 1, "unmatched": 12}
    with db.transaction() as session:
        rows = list(session.scalars(select(Event).order_by(Event.id)))
    assert [r.type for r in rows] == [
        "processed",
        "dropped",
        "delivered",
        "deferred",
        "bounced",
        "opened",
        "clicked",
        "complained",
        "unsubscribed",
        "unsubscribed",
        "resubscribed",
        "clicked",
    ]
    assert {r.type for r in rows} >= {"processed", "dropped", "complained", "resubscribed"}
    assert all(r.source == "sendgrid" and r.delivery_id is None for r in rows)
    bounce = rows[4]
    assert (bounce.bounce_type, bounce.reason, bounce.smtp_status) == (
        "hard",
        "500 unknown recipient",
        "5.0.0",
    )
    assert rows[1].reason == "Bounced Address"
    assert rows[6].url == "http://www.sendgrid.com/"
    assert rows[0].occurred_at.isoformat() == "2017-12-15T00:59:29+00:00"
    payload = payload_of(db, rows[0].id)
    assert payload is not None and payload.raw is not None
    assert payload.raw["pool"] == {"name": "new_MY_test", "id": 210}
    assert rows[0].email_hash is not None and len(rows[0].email_hash) == 64


def test_blocked_bounces_are_soft_and_machine_opens_are_flagged(
    db: Database, signed: LiveServer, key: SendGridKey
) -> None:
    base = sample_events("events-sample-per-type.json")
    blocked = {**base[5], "sg_event_id": "blocked-1"}
    mpp = {**base[6], "sg_event_id": "mpp-1", "sg_machine_open": True}
    human = {**base[6], "sg_event_id": "human-1", "sg_machine_open": False}
    assert post_signed(signed, key, json.dumps([blocked, mpp, human]).encode()).status_code == 200
    with db.transaction() as session:
        found = {e.event_id: e for e in session.scalars(select(Event))}
    assert found["blocked-1"].bounce_type == "soft"
    assert (found["mpp-1"].machine, found["mpp-1"].machine_reason) == (True, "machine-open")
    assert (found["human-1"].machine, found["human-1"].machine_reason) == (False, None)


def test_a_replayed_batch_changes_nothing(
    db: Database, signed: LiveServer, key: SendGridKey
) -> None:
    body = json.dumps(sample_events("events-sample-per-type.json")).encode()
    first = post_signed(signed, key, body)
    assert first.json()["recorded"] == 12
    again = post_signed(signed, key, body)
    assert again.status_code == 200
    assert again.json() == {"received": 13, "recorded": 0, "duplicates": 13, "unmatched": 0}
    assert event_count(db) == 12


def test_a_signed_batch_is_accepted_and_every_bad_signature_is_refused(
    db: Database, signed: LiveServer, key: SendGridKey
) -> None:
    body = json.dumps(sample_events()).encode()
    good = key.headers(body)
    refusals = {
        "unsigned": {"Content-Type": "application/json"},
        "no timestamp": {SIGNATURE_HEADER: good[SIGNATURE_HEADER]},
        "no signature": {TIMESTAMP_HEADER: good[TIMESTAMP_HEADER]},
        "another key": SendGridKey().headers(body),
        "other body": key.headers(body + b" "),
        "other timestamp": {**good, TIMESTAMP_HEADER: str(int(good[TIMESTAMP_HEADER]) - 1)},
        "stale": key.headers(body, timestamp=int(good[TIMESTAMP_HEADER]) - 3600),
        "from the future": key.headers(body, timestamp=int(good[TIMESTAMP_HEADER]) + 3600),
        "not base64": {**good, SIGNATURE_HEADER: "%%%not-base64%%%"},
        "not a signature": {**good, SIGNATURE_HEADER: base64.b64encode(b"junk").decode()},
        "timestamp not a number": {**good, TIMESTAMP_HEADER: "yesterday"},
    }
    for name, headers in refusals.items():
        answer = post_batch(signed, body, headers)
        assert answer.status_code == 403, (name, answer.text)
        assert answer.json()["detail"], name
    assert event_count(db) == 0
    accepted = post_batch(signed, body, good)
    assert accepted.status_code == 200
    # SendGrid's first sample gives all eleven events the same sg_event_id: one event
    assert accepted.json() == {"received": 11, "recorded": 1, "duplicates": 10, "unmatched": 1}
    assert event_count(db) == 1


def test_without_a_key_sendgrid_events_are_off(db: Database, serve: Serve) -> None:
    """The default: every batch is a 403 naming the setting, signed or not, well-formed or
    not (nothing is even parsed), and nothing is written."""
    server = serve()
    body = json.dumps(sample_events("events-sample-per-type.json")).encode()
    for batch, headers in ((body, None), (body, SendGridKey().headers(body)), (b"{", None)):
        answer = post_batch(server, batch, headers)
        assert answer.status_code == 403, answer.text
        assert "NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY" in answer.json()["detail"]
    assert event_count(db) == 0


def test_serve_says_when_sendgrid_events_are_off(key: SendGridKey) -> None:
    off = sendgrid_events_notice(Settings())
    assert off is not None and "off" in off and "NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY" in off
    assert sendgrid_events_notice(Settings(sendgrid_webhook_public_key=key.public_key)) is None


def test_a_bad_signature_is_refused_before_the_body_is_read(
    db: Database, signed: LiveServer, key: SendGridKey
) -> None:
    """Malformed JSON that is not signed is a 403, not a 400: nothing unsigned is parsed."""
    assert post_batch(signed, b"{not json").status_code == 403
    signed_garbage = post_batch(signed, b"{not json", key.headers(b"{not json"))
    assert signed_garbage.status_code == 400
    # what is not UTF-8 is no text SendGrid signed (its helper checks the decoded body)
    assert post_signed(signed, key, b"\xff\xfe").status_code == 403
    assert event_count(db) == 0


def test_the_real_sendgrid_test_vector(db: Database, serve: Serve) -> None:
    """SendGrid's own signed request (sendgrid-python's unit test): valid at its time, stale
    now; the body's final CRLF is part of what was signed."""
    at_signing = SendGridSignature(
        VECTOR["public_key"], max_age=300, clock=lambda: float(VECTOR["timestamp"]) + 5
    )
    headers = {SIGNATURE_HEADER: VECTOR["signature"], TIMESTAMP_HEADER: VECTOR["timestamp"]}
    at_signing.verify(VECTOR_BODY, headers)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        at_signing.verify(VECTOR_BODY.rstrip(b"\r\n"), headers)
    server = serve(sendgrid_webhook_public_key=VECTOR["public_key"])
    stale = post_batch(server, VECTOR_BODY, headers)
    assert stale.status_code == 403 and "old" in stale.json()["detail"]
    assert event_count(db) == 0
    # the same server, its clock set back to the moment SendGrid signed it
    app = server.app
    app.state.tracking_site = dataclasses.replace(app.state.tracking_site, signature=at_signing)
    answer = post_batch(server, VECTOR_BODY, headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] == 1
    assert event_count(db) == 1


def test_a_pem_key_works_and_a_bad_key_stops_the_app(key: SendGridKey, tmp_path: Path) -> None:
    pem = f"-----BEGIN PUBLIC KEY-----\n{key.public_key}\n-----END PUBLIC KEY-----\n"
    body = b"[]"
    SendGridSignature(pem, max_age=60).verify(body, key.headers(body))
    with pytest.raises(ConfigurationError, match="WEBHOOK_PUBLIC_KEY"):
        SendGridSignature("not-a-key", max_age=60)
    rsa_key = (
        "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"
        "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ=="
    )
    with pytest.raises(ConfigurationError, match="P-256"):
        SendGridSignature(rsa_key, max_age=60)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "is not JSON"),
        (b"{", "is not JSON"),
        (b'{"event": "open"}', "must be a JSON array"),
        (b'"text"', "must be a JSON array"),
        (b"[1, 2]", "event 0 is not a JSON object"),
        (b'[{"event": "open", "timestamp": NaN}]', "is not JSON"),
        (b'[{"event": "open", "timestamp": 1e999}]', "is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "is not JSON"),
        # parsed by json.loads, then too deep for what walks it (a RecursionError, a 500)
        (b'[{"x": ' + b"[" * 950 + b"]" * 950 + b"}]", "nests deeper than 512 levels"),
    ],
)
def test_malformed_batches_are_400_and_write_nothing(
    db: Database, signed: LiveServer, key: SendGridKey, body: bytes, why: str
) -> None:
    answer = post_signed(signed, key, body)
    assert answer.status_code == 400, answer.text
    assert why in answer.json()["detail"]
    assert event_count(db) == 0


def test_odd_but_valid_events_are_stored_not_refused(
    db: Database, signed: LiveServer, key: SendGridKey
) -> None:
    """SendGrid retries a refused batch for a day: odd values are kept, never a 400 or 500."""
    odd = [
        {},  # nothing at all
        {"event": "brand_new_type", "sg_event_id": "new-1", "timestamp": "soon"},
        {"event": "open", "sg_event_id": "x" * 600, "nl_delivery": "12a", "timestamp": -1e300},
        {
            "event": "click",
            "sg_event_id": "nul-1",
            "url": "http://a.example/\u0000x",
            "useragent": "\ud800",
        },
        {"event": "bounce", "sg_event_id": "odd-2", "type": ["x"], "reason": {"a": 1}, "email": 5},
        {"event": "delivered", "sg_event_id": "odd-3", "nl_delivery": 10**30, "nl_campaign": True},
        {"event": "open", "sg_event_id": "odd-4", "email": "Ünïcode@bücher.example"},
        {"event": "open", "sg_event_id": "deep", "x": json.loads("[" * 300 + "]" * 300)},
    ]
    answer = post_signed(signed, key, json.dumps(odd).encode())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 8, "recorded": 8, "duplicates": 0, "unmatched": 8}
    with db.transaction() as session:
        rows = {e.event_id: e for e in session.scalars(select(Event))}
    assert rows["new-1"].type == "other"
    assert rows["nul-1"].url == "http://a.example/x"
    assert rows["odd-2"].bounce_type == "hard" and rows["odd-2"].reason is None
    assert rows["odd-4"].email_hash is not None
    hashed = [key for key in rows if key.startswith("sha256:")]
    assert len(hashed) == 2  # no usable sg_event_id: an id from the content, stable on replay
    raw = {name: payload_of(db, rows[name].id) for name in ("odd-3", "deep", "nul-1")}
    assert raw["odd-3"] is not None and raw["odd-3"].raw == odd[5]  # 10**30: orjson's refusal
    assert raw["deep"] is not None and raw["deep"].raw == odd[7]  # 300 levels: beyond orjson's
    assert raw["nul-1"] is not None and raw["nul-1"].raw is not None
    assert raw["nul-1"].raw["url"] == "http://a.example/x" and raw["nul-1"].user_agent == "?"
    again = post_signed(signed, key, json.dumps(odd).encode())
    assert again.json()["recorded"] == 0


def test_an_oversized_batch_is_413_but_sendgrid_sized_ones_pass(
    db: Database, serve: Serve, key: SendGridKey
) -> None:
    server = serve(webhook_max_body_bytes=100_000, sendgrid_webhook_public_key=key.public_key)
    events = sample_events() * 400  # about 150 KB
    assert post_signed(server, key, json.dumps(events).encode()).status_code == 413
    assert event_count(db) == 0
    # the default limit of every other route
    small_form_limit = serve(max_body_bytes=16_384, sendgrid_webhook_public_key=key.public_key)
    big = [{**e, "sg_event_id": f"e{n}"} for n, e in enumerate(sample_events() * 100)]
    answer = post_signed(small_form_limit, key, json.dumps(big).encode())  # ~40 KB > 16 KB
    assert answer.status_code == 200 and answer.json()["recorded"] == 1100

"""Test helpers for tracking: the events SendGrid would post for what the fake server
accepted, and ways to record them (signing is :mod:`tests.fakes.sendgrid_signing`'s)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from campaigns.events import Event
from campaigns.ingest import IngestResult
from campaigns.routes import WEBHOOK_PATH, TrackingSite
from newsletter.config import Settings
from newsletter.db import Database
from tests.conftest import ROOT
from tests.fakes.sendgrid_signing import SendGridKey
from tests.subscribers.conftest import LiveServer

DATA = ROOT / "tests" / "data" / "sendgrid"


def sample_events(name: str = "events-sample.json") -> list[dict[str, Any]]:
    """SendGrid's documented sample events (tests/data/sendgrid)."""
    events: list[dict[str, Any]] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return events


_ids = itertools.count(1)


def event_id() -> str:
    """A fresh, unique ``sg_event_id``."""
    return f"test-event-{next(_ids):08d}-{time.monotonic_ns()}"


@dataclass(frozen=True)
class Recipient:
    """One accepted personalization: who, with which ids, in which request, and its
    ``substitutions`` (the values SendGrid puts into the variant for this reader)."""

    email: str
    message_id: str
    custom_args: dict[str, str]
    substitutions: dict[str, str] = field(default_factory=dict)
    html: str = ""

    def filled_html(self) -> str:
        """The HTML this reader received."""
        html = self.html
        for placeholder, value in self.substitutions.items():
            html = html.replace(placeholder, value)
        return html


def accepted_recipients(accepted: Iterable[Any]) -> Iterator[Recipient]:
    """Every recipient the fake SendGrid accepted, with the custom args SendGrid would put on
    their events (the request's merged with the personalization's)."""
    for request in accepted:
        shared = dict(request.body.get("custom_args", {}))
        html = next(c["value"] for c in request.body["content"] if c["type"] == "text/html")
        for personalization in request.personalizations:
            args = {**shared, **personalization.get("custom_args", {})}
            values = dict(personalization.get("substitutions", {}))
            for to in personalization["to"]:
                yield Recipient(to["email"], request.message_id, args, values, html)


def event(recipient: Recipient, kind: str, **fields: Any) -> dict[str, Any]:
    """A SendGrid event of ``kind`` for ``recipient``, shaped like the documented samples."""
    return {
        "email": recipient.email,
        "timestamp": int(time.time()),
        "smtp-id": f"<{recipient.message_id}@ismtpd-test>",
        "event": kind,
        "category": ["newsletter"],
        "sg_event_id": event_id(),
        "sg_message_id": f"{recipient.message_id}.filter0001.16648.5515E0B88.0",
        **recipient.custom_args,
        **fields,
    }


def recipients_of(server: Any, campaign_id: int) -> dict[str, Recipient]:
    """The fake SendGrid's accepted recipients of one campaign, by address."""
    return {
        r.email: r
        for r in accepted_recipients(server.accepted)
        if r.custom_args.get("nl_campaign") == str(campaign_id)
    }


def ingest(database: Any, events: list[dict[str, Any]], **settings: Any) -> IngestResult:
    """Record events exactly as POST /webhooks/sendgrid does, without the HTTP round trip."""
    site = TrackingSite.build(Settings(**settings), database)
    return site.ingest_sendgrid(json.dumps(events).encode())


class SiteClock:
    """The tracking routes' clock, set by the test: ``server``'s hits happen at ``now``."""

    def __init__(self, server: LiveServer, now: datetime) -> None:
        self.now = now
        app = server.app
        app.state.tracking_site = dataclasses.replace(app.state.tracking_site, clock=self)

    def __call__(self) -> datetime:
        return self.now


def post_batch(
    server: LiveServer, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST ``body`` to the server's webhook as it is (unsigned unless ``headers`` sign it)."""
    return httpx.post(
        f"{server.url}{WEBHOOK_PATH}",
        content=body,
        headers=headers or {"Content-Type": "application/json"},
        timeout=30,
    )


def post_signed(server: LiveServer, key: SendGridKey, body: bytes) -> httpx.Response:
    """POST ``body`` to the server's webhook signed with ``key``, as SendGrid would."""
    return post_batch(server, body, key.headers(body))


def event_count(db: Database) -> int:
    """How many events are stored."""
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0

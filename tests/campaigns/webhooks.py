"""Test helpers for tracking: sign webhook batches as SendGrid does, and make the events
SendGrid would post for what the fake server accepted."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from campaigns.ingest import IngestResult
from campaigns.routes import TrackingSite
from campaigns.webhook_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER
from newsletter.config import Settings
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "sendgrid"


def sample_events(name: str = "events-sample.json") -> list[dict[str, Any]]:
    """SendGrid's documented sample events (tests/data/sendgrid)."""
    events: list[dict[str, Any]] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return events


@dataclass
class SendGridKey:
    """A P-256 key pair; signs ``timestamp + body`` with ECDSA/SHA-256 like SendGrid."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    @property
    def public_key(self) -> str:
        """The base64 DER public key, as SendGrid's settings page shows it."""
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private.sign(stamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        }


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

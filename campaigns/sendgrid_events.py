"""Read a SendGrid Event Webhook batch into normalised :class:`EventRecord`\\ s.

A batch is a JSON array of event objects. Each event's ``event`` names its type (mapped
through :data:`SENDGRID_TYPES`, like django-anymail does); the ``custom_args`` our sends
carry (``nl_campaign``, ``nl_variant``, ``nl_delivery``) arrive as top-level keys. Values
are typed loosely by SendGrid (``"attempt": "5"``, ids as strings), so every field is read
defensively: an odd value is left out, never a reason to refuse the batch, because
SendGrid retries a refused batch for a day. Only a body that is not a JSON array of
objects, or nests deeper than :data:`MAX_DEPTH`, is refused (:class:`InvalidInput`,
answered ``400``).

An event without ``sg_event_id`` gets an id derived from its content, so a replay of it is
still recognised.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from campaigns.events import (
    EVENT_ID_LENGTH,
    REASON_LENGTH,
    URL_LENGTH,
    USER_AGENT_LENGTH,
    BounceType,
    EventRecord,
    EventType,
)
from campaigns.machines import open_flag
from campaigns.messages import CAMPAIGN_ARG, DELIVERY_ARG
from newsletter.errors import InvalidInput
from newsletter.untrusted import MalformedInput, load_json

SENDGRID_TYPES: dict[str, EventType] = {
    "processed": "processed",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "dropped",
    "open": "opened",
    "click": "clicked",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "group_resubscribe": "resubscribed",
}

# A bounce's ``type``: ``blocked`` (and ``expired``, deferred too long) are temporary.
SOFT_BOUNCE_TYPES = frozenset({"blocked", "expired"})

_MAX_ID = 2**63 - 1
# SendGrid never nests deeply, but an odd event is stored rather than refused: this bound
# only keeps every later walk of it (content hash, clean-up, the JSON column) within the stack.
MAX_DEPTH = 512
# What PostgreSQL's JSON types refuse although JSON allows it: NUL and lone surrogates.
_UNSTORABLE = re.compile(rb"\\u0000|\\u[dD][89abAB]|\\u[dD][c-fC-F]")


def parse_batch(body: bytes) -> list[dict[str, Any]]:
    """The events of a webhook body; :class:`InvalidInput` unless it is an array of objects."""
    try:
        events = load_json(body, max_depth=MAX_DEPTH, finite=True)
    except MalformedInput as exc:
        raise InvalidInput("body", f"is not JSON: {exc.reason}") from None
    if not isinstance(events, list):
        raise InvalidInput("body", "must be a JSON array of events")
    for position, event in enumerate(events):
        if not isinstance(event, dict):
            raise InvalidInput("body", f"event {position} is not a JSON object")
    if _UNSTORABLE.search(body):
        events = [_storable(event) for event in events]
    return events


def _storable(value: Any) -> Any:
    """``value`` without NUL characters and lone surrogates (replaced), at any depth."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def sendgrid_record(event: dict[str, Any], received_at: datetime) -> EventRecord:
    """One SendGrid event, normalised (ids unchecked: :mod:`campaigns.ingest` resolves them)."""
    name = event.get("event")
    kind: EventType = SENDGRID_TYPES.get(name, "other") if isinstance(name, str) else "other"
    occurred_at = _timestamp(event.get("timestamp"))
    record = EventRecord(
        source="sendgrid",
        event_id=_event_id(event),
        type=kind,
        occurred_at=occurred_at or received_at,
        received_at=received_at,
        replay_keeps_time=occurred_at is not None,
        email=_text(event.get("email"), 320),
        delivery_ref=_id(event.get(DELIVERY_ARG)),
        campaign_ref=_id(event.get(CAMPAIGN_ARG)),
        user_agent=_text(event.get("useragent"), USER_AGENT_LENGTH),
        raw=event,
    )
    if kind == "opened":
        record.machine_reason = open_flag(
            user_agent=record.user_agent, provider_machine=_flag(event.get("sg_machine_open"))
        )
    elif kind == "clicked":
        record.url = _text(event.get("url"), URL_LENGTH)
    elif kind == "bounced":
        record.bounce_type = _bounce_type(event.get("type"))
        record.reason = _text(event.get("reason"), REASON_LENGTH)
        record.smtp_status = _text(event.get("status"), 20)
    elif kind == "dropped":
        record.reason = _text(event.get("reason"), REASON_LENGTH) or _text(
            event.get("type"), REASON_LENGTH
        )
        record.smtp_status = _text(event.get("status"), 20)
    elif kind in ("deferred", "delivered"):
        record.reason = _text(event.get("response"), REASON_LENGTH)
    return record


def _event_id(event: dict[str, Any]) -> str:
    given = event.get("sg_event_id")
    if isinstance(given, str) and 0 < len(given) <= EVENT_ID_LENGTH:
        return given
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


def _bounce_type(value: Any) -> BounceType:
    """SendGrid's bounce ``type``: ``bounce`` (or none given) is hard, ``blocked`` soft."""
    if isinstance(value, str) and value.strip().lower() in SOFT_BOUNCE_TYPES:
        return "soft"
    return "hard"


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return _second(value)  # the usual case: whole seconds, many events share one
    if not isinstance(value, float | str):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


@lru_cache(maxsize=4096)
def _second(value: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _id(value: Any) -> int | None:
    """A positive integer id from a custom arg (a string, or a number if someone sent one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        return None
    return number if 0 < number <= _MAX_ID else None


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value is True or value == 1

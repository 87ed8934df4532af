"""Deliver due webhook messages: claim, sign, post, record; retry with backoff for a day.

A claim moves a message's ``next_attempt_at`` a lease ahead and commits *before* the
request (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so concurrent senders take
different rows), so a sender that dies mid-request leaves the message to be tried again
when the lease ends: delivery is at least once, and every attempt carries the same
``webhook-id`` for the receiver to de-duplicate. A 2xx answer delivers it; anything else
(another status, a timeout, a refused connection, an address the SSRF guard refuses) is
retried after 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, with a last attempt 24 h after
the message was queued; after that it is ``failed``. Redirects are not followed. An
attempt has ``NEWSLETTER_WEBHOOK_TIMEOUT_SECONDS`` in all, not per read
(:mod:`newsletter.webhooks.deadline`): a receiver that answers slowly byte by byte times out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from standardwebhooks import Webhook

from newsletter.config import Settings
from newsletter.db import Database, utcnow
from newsletter.webhooks.addresses import AddressRefused, resolve_target
from newsletter.webhooks.deadline import DeadlineTransport, deadline
from newsletter.webhooks.model import (
    ERROR_LIMIT,
    RESPONSE_LIMIT,
    MessageStatus,
    WebhookEndpoint,
    WebhookMessage,
)

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
RETRY_WINDOW = timedelta(hours=24)
CLAIM_BATCH = 16
PARALLEL_REQUESTS = 8
USER_AGENT = "newsletter-webhooks"
Clock = Callable[[], datetime]


def next_attempt(created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts, or None: give up (a day passed)."""
    deadline = created_at + RETRY_WINDOW
    if now >= deadline:
        return None
    delay = RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]
    return min(now + delay, deadline)


@dataclass(frozen=True, slots=True)
class Claimed:
    """What one attempt needs, read when the message was claimed."""

    id: int
    msg_id: str
    payload: dict[str, Any]
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went: a status code and the start of the answer, or an error."""

    status_code: int | None = None
    response: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class SendReport:
    """What one :func:`send_due` run did, by message."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


def body_of(payload: dict[str, Any]) -> str:
    """The exact text that is signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` signed at ``at``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


class WebhookSender:
    """Sends due messages through one HTTP client; :meth:`close` when done."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.timeout = settings.webhook_timeout_seconds
        self.lease = timedelta(seconds=self.timeout + 60)
        self.client = httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,  # never through a proxy from the environment
            transport=transport or DeadlineTransport(),
            headers={"user-agent": USER_AGENT},
        )

    def close(self) -> None:
        self.client.close()

    def send_due(self, *, batches: int | None = None, only: Iterable[int] = ()) -> SendReport:
        """Deliver due messages (``only``: just these, if due) until none is left, or
        ``batches`` claims were made."""
        report = SendReport()
        wanted = list(only)
        made = 0
        with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            while batches is None or made < batches:
                claimed = self.claim(wanted)
                made += 1
                if not claimed:
                    break
                outcomes = pool.map(self.attempt, claimed)
                self.record([(m.id, o) for m, o in zip(claimed, outcomes, strict=True)], report)
                if wanted:
                    break
        return report

    def claim(self, only: list[int]) -> list[Claimed]:
        """Take up to a batch of due messages of enabled endpoints; committed on return."""
        now = self.clock()
        with self.database.transaction() as session:
            query = (
                select(WebhookMessage.id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
                .where(WebhookMessage.status == MessageStatus.PENDING, WebhookEndpoint.enabled)
                .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
                .limit(CLAIM_BATCH)
            )
            query = query.where(WebhookMessage.next_attempt_at <= now)
            if only:  # a worker may have claimed it meanwhile: its lease is respected
                query = query.where(WebhookMessage.id.in_(only))
            if self.database.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=WebhookMessage)
            ids = list(session.scalars(query))
            if not ids:
                return []
            taken = session.scalars(
                update(WebhookMessage)
                .where(  # still due: another sender may have claimed it since the SELECT
                    WebhookMessage.id.in_(ids),
                    WebhookMessage.status == MessageStatus.PENDING,
                    WebhookMessage.next_attempt_at <= now,
                )
                .values(
                    attempts=WebhookMessage.attempts + 1,
                    next_attempt_at=now + self.lease,
                    last_attempt_at=now,
                )
                .returning(WebhookMessage.id)
                .execution_options(synchronize_session=False)
            ).all()
            rows = session.execute(
                select(
                    WebhookMessage.id,
                    WebhookMessage.msg_id,
                    WebhookMessage.payload,
                    WebhookEndpoint.url,
                    WebhookEndpoint.secret,
                )
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
                .where(WebhookMessage.id.in_(list(taken)))
                .order_by(WebhookMessage.id)
            ).all()
        return [Claimed(*row) for row in rows]

    def attempt(self, message: Claimed) -> Outcome:
        """One signed POST, over within the timeout in all (connect, send, answer, the start
        of its body: a receiver that drips its bytes cannot hold it longer); never raises
        for what the receiver or the network does."""
        with deadline(self.timeout):
            return self._attempt(message)

    def _attempt(self, message: Claimed) -> Outcome:
        allow_private = self.settings.webhooks_allow_private_addresses
        try:
            target = resolve_target(message.url, allow_private=allow_private)
        except AddressRefused as exc:
            return Outcome(error=f"refused: {exc}")
        body = body_of(message.payload)
        headers = signed_headers(message.secret, message.msg_id, body, utcnow())
        headers |= {"content-type": "application/json", "host": target.host_header}
        request = self.client.build_request(
            "POST",
            target.url,
            content=body.encode(),
            headers=headers,
            extensions={"sni_hostname": target.server_name},
        )
        try:
            response = self.client.send(request, stream=True)
            try:
                return Outcome(response.status_code, _start_of(response))
            finally:
                response.close()
        except httpx.TimeoutException:
            return Outcome(error=f"no answer within {self.timeout:g} s (timed out)")
        except httpx.HTTPError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT])

    def record(self, outcomes: Sequence[tuple[int, Outcome]], report: SendReport) -> None:
        """Store a claim's outcomes in one transaction (a commit per message held the sender
        to ~65 deliveries/s: ``bench/outbound_webhooks.py``), rows locked in id order."""
        now = self.clock()
        with self.database.transaction() as session:
            messages = session.scalars(
                select(WebhookMessage)
                .where(WebhookMessage.id.in_([message_id for message_id, _ in outcomes]))
                .order_by(WebhookMessage.id)
                .with_for_update()
            )
            found = {message.id: message for message in messages}
            for message_id, outcome in outcomes:
                message = found.get(message_id)
                if message is not None and message.status == MessageStatus.PENDING:
                    self._settle(message, outcome, now, report)  # else: endpoint deleted

    @staticmethod
    def _settle(
        message: WebhookMessage, outcome: Outcome, now: datetime, report: SendReport
    ) -> None:
        """Decide one attempted message: delivered, again later, or failed."""
        message.last_status_code = outcome.status_code
        message.last_response = outcome.response
        message.last_error = outcome.error
        if outcome.delivered:
            message.status = MessageStatus.DELIVERED
            message.delivered_at = now
            report.delivered += 1
            return
        report.errors.append(outcome.error or f"HTTP {outcome.status_code}")
        later = next_attempt(message.created_at, message.attempts, now)
        if later is None:
            message.status = MessageStatus.FAILED
            report.failed += 1
        else:
            message.next_attempt_at = later
            report.retrying += 1


def _start_of(response: httpx.Response) -> str:
    """The first :data:`RESPONSE_LIMIT` characters of the answer, reading no more than that."""
    kept = b""
    for chunk in response.iter_bytes():
        kept += chunk
        if len(kept) >= RESPONSE_LIMIT * 4:
            break
    return kept.decode("utf-8", "replace")[:RESPONSE_LIMIT]


def send_due(
    database: Database, settings: Settings, *, clock: Clock = utcnow, batches: int | None = None
) -> SendReport:
    """Deliver what is due now (``newsletter webhooks send-due``, the worker's rounds)."""
    sender = WebhookSender(database, settings, clock=clock)
    try:
        return sender.send_due(batches=batches)
    finally:
        sender.close()

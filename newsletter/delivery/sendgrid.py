"""The SendGrid provider: one v3 mail-send request per batch, through the official client.

The variant's subject, HTML and text travel once per request, with their placeholders
verbatim; each recipient is one personalization carrying ``to``, their placeholder values as
``substitutions``, ``custom_args`` (so webhook events map back) and their own headers
(List-Unsubscribe). The body is built as a dict (the official ``Mail`` helper objects cost
more per recipient than the request itself, ``bench/providers.py`` measures both, and reverse
the order of the personalizations) and handed to the official client's
``sg.client.mail.send.post`` as it is, which serialises it.

What SendGrid answers becomes:

========================================  =================================================
202 with ``X-Message-Id``                 every recipient ``sent`` with that id (events'
                                          ``sg_message_id`` starts with it)
200 (sandbox mode)                        every recipient ``sent``, no message id: SendGrid
                                          validated the request and delivered nothing
429                                       ``ProviderRetryable``, ``retry_after`` from
                                          ``X-RateLimit-Reset`` (epoch) or ``Retry-After``
5xx, connection refused or reset before   ``ProviderRetryable``
the request was sent
400, 413 and other 4xx                    ``ProviderRejected`` with SendGrid's messages
401, 403, untrusted certificate           ``ProviderAuthError``
timeout or connection lost after the      ``ProviderAmbiguous``: SendGrid may have accepted
request was sent                          it, never resend automatically
========================================  =================================================

A recipient SendGrid would refuse on their own account (a missing placeholder value, values
over SendGrid's 10,000-byte limits, a reserved header, a malformed address) is left out of
the request and comes back ``failed``, so one bad row does not sink 999 good ones.

Threads: the client keeps per-request state (headers dict, URL path), so each thread gets
its own ``SendGridAPIClient``; it opens a new connection per request (a pooled connection the
server closed meanwhile could fail after the request went out: an ambiguous outcome for a
thousand recipients) and honours ``https_proxy``/``NO_PROXY``.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import urllib.error
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from newsletter.delivery.base import (
    RESERVED_HEADERS,
    BaseProvider,
    Batch,
    Feature,
    Message,
    Recipient,
    RecipientResult,
    RecipientStatus,
    missing_value,
)
from newsletter.errors import (
    DeliveryError,
    ProviderAmbiguous,
    ProviderAuthError,
    ProviderRejected,
    ProviderRetryable,
)

MAX_ARGS_BYTES = 10_000
"""SendGrid's limit for a personalization's ``custom_args``, and for its ``substitutions``."""


class SendGridProvider(BaseProvider[dict[str, Any], Any]):
    """Sends each batch as one SendGrid v3 mail-send request (at most 1,000 recipients)."""

    name = "sendgrid"
    max_batch_size = 1000
    features = frozenset(Feature)

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "https://api.sendgrid.com",
        timeout: float = 30.0,
        sandbox: bool = False,
    ) -> None:
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.sandbox = sandbox
        self._api_key = api_key
        self._local = threading.local()

    def recipient_problem(self, recipient: Recipient, needed: frozenset[str]) -> str | None:
        return recipient_problem(recipient, needed)

    def build_payload(self, batch: Batch, recipients: Sequence[Recipient]) -> dict[str, Any]:
        return request_body(batch.message, recipients, sandbox=self.sandbox)

    def post(self, payload: dict[str, Any]) -> Any:
        try:
            return self._client().client.mail.send.post(request_body=payload)
        except http_errors.HTTPError as exc:
            raise _from_status(exc.status_code, exc.body, exc.headers) from exc
        except urllib.error.URLError as exc:  # raised while connecting or sending
            raise self._unsent(exc.reason) from exc
        except (OSError, http.client.HTTPException) as exc:  # after the request went out
            raise ProviderAmbiguous(
                f"SendGrid did not answer a sent request ({type(exc).__name__}: {exc}); "
                "it may have been accepted"
            ) from exc

    def parse_result(self, answer: Any, recipients: Sequence[Recipient]) -> list[RecipientResult]:
        message_id = answer.headers.get("X-Message-Id") if answer.status_code == 202 else None
        return [
            RecipientResult(r.key, RecipientStatus.SENT, message_id=message_id) for r in recipients
        ]

    def close(self) -> None:
        """Nothing to release: the client opens a connection per request."""

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = SendGridAPIClient(self._api_key, host=self.host)
            client.client.timeout = self.timeout  # the constructor takes no timeout
            self._local.client = client
        return client

    def _unsent(self, reason: object) -> DeliveryError:
        if isinstance(reason, ssl.SSLCertVerificationError):
            return ProviderAuthError(f"SendGrid's TLS certificate at {self.host}: {reason}")
        return ProviderRetryable(f"cannot reach SendGrid at {self.host}: {reason}")


def build_payload(
    batch: Batch, *, sandbox: bool = False
) -> tuple[dict[str, Any], dict[str, RecipientResult]]:
    """The mail-send request body, and the recipients left out of it (``failed`` results):
    the provider's validate and build steps in one call (benchmarks and tests use it)."""
    needed = batch.message.placeholders
    accepted: list[Recipient] = []
    refused: dict[str, RecipientResult] = {}
    for recipient in batch.recipients:
        problem = recipient_problem(recipient, needed)
        if problem:
            refused[recipient.key] = RecipientResult(
                recipient.key, RecipientStatus.FAILED, error=problem
            )
        else:
            accepted.append(recipient)
    return request_body(batch.message, accepted, sandbox=sandbox), refused


def request_body(
    message: Message, recipients: Sequence[Recipient], *, sandbox: bool = False
) -> dict[str, Any]:
    """The mail-send request body for recipients already validated."""
    body = message_fields(message)
    body["personalizations"] = [personalization(recipient) for recipient in recipients]
    if sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


def message_fields(message: Message) -> dict[str, Any]:
    """What every recipient of the batch shares, once."""
    body: dict[str, Any] = {"from": _address(message.from_email, message.from_name)}
    if message.reply_to:
        body["reply_to"] = {"email": message.reply_to}
    body["subject"] = message.subject
    content = [{"type": "text/plain", "value": message.text}] if message.text else []
    if message.html:
        content.append({"type": "text/html", "value": message.html})
    body["content"] = content
    if message.headers:
        body["headers"] = dict(message.headers)
    if message.categories:
        body["categories"] = list(message.categories)
    if message.custom_args:
        body["custom_args"] = dict(message.custom_args)
    body["tracking_settings"] = {
        "click_tracking": {"enable": message.track_clicks, "enable_text": False},
        "open_tracking": {"enable": message.track_opens},
    }
    return body


def personalization(recipient: Recipient) -> dict[str, Any]:
    """One recipient's part of the request; its mappings go in as plain dicts (what the
    client's ``json.dumps`` writes; nothing changes them before the request is sent)."""
    item: dict[str, Any] = {"to": [_address(recipient.email, recipient.name)]}
    if recipient.substitutions:
        item["substitutions"] = _as_dict(recipient.substitutions)
    if recipient.custom_args:
        item["custom_args"] = _as_dict(recipient.custom_args)
    if recipient.headers:
        item["headers"] = _as_dict(recipient.headers)
    return item


def _as_dict(values: Mapping[str, str]) -> dict[str, str]:
    return values if type(values) is dict else dict(values)


_NOT_IN_ADDRESS = frozenset(" \r\n<>,;")


def recipient_problem(recipient: Recipient, needed: frozenset[str]) -> str | None:
    """Why SendGrid would refuse this recipient's personalization, or None."""
    email = recipient.email
    if "@" not in email or not _NOT_IN_ADDRESS.isdisjoint(email):
        return f"invalid email address {email!r}"
    missing = missing_value(recipient, needed)
    if missing:
        return missing
    for field, values in (
        ("substitutions", recipient.substitutions),
        ("custom_args", recipient.custom_args),
    ):
        if not _fits(values):
            return f"{field} exceed SendGrid's limit of {MAX_ARGS_BYTES:,} bytes"
    if recipient.headers and not RESERVED_HEADERS.isdisjoint(map(str.lower, recipient.headers)):
        reserved = next(n for n in recipient.headers if n.lower() in RESERVED_HEADERS)
        return f"header {reserved!r} is reserved"
    return None


def _address(email: str, name: str | None) -> dict[str, str]:
    if not name:
        return {"email": email}
    if "," in name or ";" in name:
        # SendGrid does not quote display names holding , or ; (sendgrid-python issue 291,
        # worked around the same way by django-anymail): quote them ourselves.
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return {"email": email, "name": name}


def _fits(values: Mapping[str, str]) -> bool:
    """Whether ``values`` as compact JSON fit SendGrid's 10,000 bytes.

    A cheap bound first (escaped, a character takes at most six bytes): exact JSON sizes for
    every recipient took most of the time to build a request (``docs/benchmarks.md``).
    """
    chars = sum(map(len, values)) + sum(map(len, values.values()))
    bound = 6 * chars + 6 * len(values)
    if bound + 2 <= MAX_ARGS_BYTES:
        return True
    size = len(json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return size <= MAX_ARGS_BYTES


def _from_status(status: int, body: bytes | str | None, headers: Any) -> DeliveryError:
    """The error class for an HTTP error answer from SendGrid."""
    reasons = _reasons(body)
    said = "; ".join(reasons) or http.client.responses.get(status, str(status))
    if status == 429:
        return ProviderRetryable(
            f"SendGrid rate limit: {said}", status=status, retry_after=_retry_after(headers)
        )
    if status in (401, 403):
        return ProviderAuthError(f"SendGrid refused the API key ({status}): {said}", status=status)
    if status >= 500:
        return ProviderRetryable(
            f"SendGrid server error {status}: {said}",
            status=status,
            retry_after=_retry_after(headers),
        )
    return ProviderRejected(
        f"SendGrid rejected the request ({status}): {said}", status=status, reasons=reasons
    )


def _reasons(body: bytes | str | None) -> list[str]:
    """SendGrid's error messages, each with the field it names."""
    if not body:
        return []
    try:
        errors = json.loads(body)["errors"]
        return [
            f"{e['message']} (field: {e['field']})" if e.get("field") else str(e["message"])
            for e in errors
        ]
    except (ValueError, KeyError, TypeError):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        return [text[:500]]


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait: ``X-RateLimit-Reset`` (epoch seconds) or ``Retry-After``."""
    if headers is None:
        return None
    reset = headers.get("X-RateLimit-Reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    after = headers.get("Retry-After")
    if after is None:
        return None
    try:
        return max(0.0, float(after))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(after).timestamp() - time.time())
    except (TypeError, ValueError):
        return None

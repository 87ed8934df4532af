"""The provider protocol: given one rendered message and its recipients, report each outcome.

A provider knows nothing about campaigns or the database. The dispatcher hands it a
:class:`Batch` (one variant's subject/HTML/text with placeholders, plus up to
``max_batch_size`` recipients with their placeholder values) and receives one
:class:`RecipientResult` per recipient. A failure of the whole request is raised instead, as
``ProviderRetryable`` (try again), ``ProviderRejected`` (permanent, with the provider's
reasons), ``ProviderAuthError`` (credentials: stop sending) or ``ProviderAmbiguous`` (may have
been accepted: never resend automatically). When part of a batch was finished before the
failure (SMTP sends one message at a time), the error's ``settled`` carries those results and
the error applies to the rest.

Threads: every provider may be shared by several threads, each calling ``send`` with its own
batch (SendGrid keeps a client per thread, SMTP a connection per thread, the outbox writes
files atomically). ``close`` is for the end, when no ``send`` is running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from newsletter.config import Settings
from newsletter.placeholders import PLACEHOLDER


@dataclass(frozen=True, slots=True)
class Message:
    """What every recipient of a batch shares; subject, html and text may hold placeholders."""

    subject: str
    html: str
    text: str
    from_email: str
    from_name: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    categories: Sequence[str] = ()
    track_opens: bool = False
    track_clicks: bool = False
    custom_args: Mapping[str, str] = field(default_factory=dict)
    """Ids shared by every recipient (campaign, variant): sent once, not per recipient."""


class EmailParts(Protocol):
    """Anything with a subject, HTML and text part: a compiled or a frozen variant."""

    @property
    def subject(self) -> str: ...

    @property
    def html(self) -> str: ...

    @property
    def text(self) -> str: ...


def message_from_us(settings: Settings, parts: EmailParts, **options: Any) -> Message:
    """A :class:`Message` with these parts from the configured sender and reply-to address."""
    return Message(
        subject=parts.subject,
        html=parts.html,
        text=parts.text,
        from_email=settings.from_email,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        **options,
    )


_NONE: Mapping[str, str] = MappingProxyType({})


class Recipient(NamedTuple):
    """One addressee: their placeholder values, per-recipient headers and tracking ids.

    ``key`` is the caller's identifier (a delivery id) echoed in the result;
    ``substitutions`` maps full placeholder strings (``%%nl_first_name%%``) to values;
    ``custom_args`` travel with the message so provider events can be mapped back;
    ``headers`` are per-recipient (``List-Unsubscribe`` carries their own signed URL);
    ``return_path`` is the envelope sender for this message (a VERP address that names the
    delivery, :mod:`newsletter.deliverability.verp`): SMTP's ``MAIL FROM``, the outbox's
    ``Return-Path``; ``None`` is the From address. SendGrid sets its own.
    A named tuple, not a frozen dataclass: a send makes one per recipient, and a tuple is
    built four times faster.
    """

    key: str
    email: str
    name: str | None = None
    substitutions: Mapping[str, str] = _NONE
    custom_args: Mapping[str, str] = _NONE
    headers: Mapping[str, str] = _NONE
    return_path: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    message: Message
    recipients: Sequence[Recipient]
    on_accepted: Callable[[RecipientResult], None] | None = field(default=None, compare=False)
    """Called with each accepted recipient's result as soon as the provider accepted it
    (SMTP: the relay's 250 after the data), before ``send`` returns, so that a caller
    killed mid-batch has recorded what was accepted. A provider that answers for the whole
    request at once (SendGrid) need not call it."""


class RecipientStatus(StrEnum):
    """A provider's verdict on one recipient. The values are the delivery states the
    campaign store records them as (``campaigns.model.DeliveryStatus``)."""

    SENT = "sent"
    FAILED = "failed"


class RecipientResult(NamedTuple):
    """The provider's answer for one recipient: accepted (with its message id) or refused
    (a named tuple, like :class:`Recipient`: one per recipient of a send)."""

    key: str
    status: RecipientStatus
    message_id: str | None = None
    error: str | None = None


class Provider(Protocol):
    """A mail provider. Implementations: outbox (default), SMTP, SendGrid."""

    name: str
    max_batch_size: int

    def send(self, batch: Batch) -> list[RecipientResult]:
        """Send one batch; one result per recipient, or raise a ``DeliveryError`` subclass."""
        ...

    def close(self) -> None:
        """Release connections; the provider may not be used afterwards."""
        ...


ONE_CLICK = "List-Unsubscribe=One-Click"


def list_unsubscribe_headers(url: str, mailto: str | None = None) -> dict[str, str]:
    """``List-Unsubscribe`` (mailto and one-click URL) and ``List-Unsubscribe-Post`` headers.

    Gmail and Yahoo require one-click unsubscribe (RFC 8058) from bulk senders: the HTTPS URL
    must accept a POST whose body is ``List-Unsubscribe=One-Click``; the mailto form is the
    fallback older clients use. ``url`` may be a placeholder (``%%nl_unsubscribe_url%%``):
    headers kept as a template, filled for each recipient with their own URL.
    """
    if not url.startswith(("https://", "http://")) and not PLACEHOLDER.fullmatch(url):
        raise ValueError(f"one-click unsubscribe needs an http(s) URL, got {url!r}")
    targets = [f"<mailto:{mailto}>"] if mailto else []
    targets.append(f"<{url}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK}


RESERVED_HEADERS = frozenset(
    {
        # SendGrid refuses these in `headers` (its mail-send reference lists them) …
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
        # … and the MIME builder writes these itself.
        "date",
        "message-id",
        "mime-version",
    }
)
"""Lower-case header names a ``Message`` or ``Recipient`` may not set: providers write them."""

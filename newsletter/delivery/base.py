"""The provider protocol: given one rendered message and its recipients, report each outcome.

A provider knows nothing about campaigns or the database. The dispatcher hands it a
:class:`Batch` (one variant's subject/HTML/text with placeholders, plus up to
``max_batch_size`` recipients with their placeholder values) and receives one
:class:`RecipientResult` per recipient. A failure of the whole request is raised instead, as
``ProviderRetryable`` (try again), ``ProviderRejected`` (permanent, with the provider's
reasons), ``ProviderAuthError`` (credentials: stop sending) or ``ProviderAmbiguous`` (may have
been accepted: never resend automatically).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol


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


@dataclass(frozen=True, slots=True)
class Recipient:
    """One addressee: their placeholder values, per-recipient headers and tracking ids.

    ``key`` is the caller's identifier (a delivery id) echoed in the result;
    ``substitutions`` maps full placeholder strings (``%%nl_first_name%%``) to values;
    ``custom_args`` travel with the message so provider events can be mapped back;
    ``headers`` are per-recipient (``List-Unsubscribe`` carries their own signed URL).
    """

    key: str
    email: str
    name: str | None = None
    substitutions: Mapping[str, str] = field(default_factory=dict)
    custom_args: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Batch:
    message: Message
    recipients: Sequence[Recipient]


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """The provider's answer for one recipient: accepted (with its message id) or refused."""

    key: str
    status: Literal["sent", "failed"]
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

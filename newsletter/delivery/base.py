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

Every provider is a :class:`BaseProvider`, whose ``send`` runs one fixed sequence (the
django-anymail model; ``docs/providers.md``): validate the recipients (a recipient the
provider would refuse is ``failed`` on their own, the rest go on) → build the payload →
post it → parse the answer into results. A provider fills in those steps; the sequence,
the batch-size limit, the placeholder check and the ordering of results are here, once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from newsletter.config import Settings
from newsletter.errors import DeliveryError
from newsletter.placeholders import PLACEHOLDER, placeholders_in


class Feature(StrEnum):
    """An option of a message that not every provider can honour."""

    CATEGORIES = "categories"
    TRACKING = "tracking"  # the provider's own open or click tracking


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
    placeholders: frozenset[str] = field(init=False, compare=False)
    """Every placeholder of subject, HTML and text: found here, once per message, and read
    by every provider (each recipient needs a value for each)."""

    def __post_init__(self) -> None:
        placeholders = placeholders_in(self.subject, self.html, self.text)
        object.__setattr__(self, "placeholders", placeholders)

    @property
    def features(self) -> frozenset[Feature]:
        """The options this message asks of its provider."""
        asked = {Feature.CATEGORIES} if self.categories else set()
        if self.track_opens or self.track_clicks:
            asked.add(Feature.TRACKING)
        return frozenset(asked)


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
    built faster (``docs/benchmarks.md``, figures behind the code).
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
    """A mail provider, as the dispatcher sees it; every one is a :class:`BaseProvider`."""

    name: str
    max_batch_size: int
    features: frozenset[Feature]

    def send(self, batch: Batch) -> list[RecipientResult]:
        """Send one batch; one result per recipient, or raise a ``DeliveryError`` subclass."""
        ...

    def close(self) -> None:
        """Release connections; the provider may not be used afterwards."""
        ...


Payload = TypeVar("Payload")
Answer = TypeVar("Answer")


class BaseProvider(ABC, Generic[Payload, Answer]):
    """The fixed send sequence; a provider fills in its steps.

    ``validate`` (a recipient's own problem → their ``failed`` result) → ``build_payload``
    (what goes to the provider for the accepted recipients) → ``post`` (the provider call;
    a failure of the whole call raises a ``DeliveryError``) → ``parse_result`` (one result
    per accepted recipient). ``features`` are the :class:`Feature` s the provider honours:
    a campaign asking for others is refused when it is frozen, never silently sent without.
    """

    name: str
    max_batch_size: int = 1000
    features: frozenset[Feature] = frozenset()

    def send(self, batch: Batch) -> list[RecipientResult]:
        """One result per recipient, in the batch's order, or a ``DeliveryError`` whose
        ``settled`` holds every result known before it (the refused recipients included)."""
        if len(batch.recipients) > self.max_batch_size:
            raise ValueError(
                f"a {self.name} batch holds at most {self.max_batch_size} recipients, "
                f"got {len(batch.recipients)}"
            )
        accepted, refused = self.validate(batch)
        if not accepted:
            return refused
        try:
            answer = self.post(self.build_payload(batch, accepted))
        except DeliveryError as exc:
            exc.settled = (*refused, *exc.settled)
            raise
        results = self.parse_result(answer, accepted)
        if not refused:
            return results
        return _in_order(batch.recipients, [*refused, *results])

    def validate(self, batch: Batch) -> tuple[list[Recipient], list[RecipientResult]]:
        """The recipients the provider can take, and the ``failed`` results of the others."""
        needed = batch.message.placeholders
        accepted: list[Recipient] = []
        refused: list[RecipientResult] = []
        for recipient in batch.recipients:
            problem = self.recipient_problem(recipient, needed)
            if problem is None:
                accepted.append(recipient)
            else:
                refused.append(
                    RecipientResult(recipient.key, RecipientStatus.FAILED, error=problem)
                )
        return accepted, refused

    def recipient_problem(self, recipient: Recipient, needed: frozenset[str]) -> str | None:
        """Why this recipient cannot be sent to, or None; a provider adds its own limits."""
        return missing_value(recipient, needed)

    @abstractmethod
    def build_payload(self, batch: Batch, recipients: Sequence[Recipient]) -> Payload:
        """What the provider is sent for these (validated) recipients of ``batch`` (its
        message, and ``on_accepted`` for a provider that answers per message)."""

    @abstractmethod
    def post(self, payload: Payload) -> Answer:
        """Hand the payload to the provider; raise a ``DeliveryError`` subclass if it fails."""

    @abstractmethod
    def parse_result(
        self, answer: Answer, recipients: Sequence[Recipient]
    ) -> list[RecipientResult]:
        """One result per recipient posted, from what the provider answered."""

    def close(self) -> None:
        """Release connections; the provider may not be used afterwards."""


def labels(provider: Provider, *categories: str) -> tuple[str, ...]:
    """``categories`` for a message through ``provider``, if it keeps them (SendGrid); none
    otherwise: a label no provider stores would be an option silently dropped."""
    return categories if Feature.CATEGORIES in provider.features else ()


def missing_value(recipient: Recipient, needed: frozenset[str]) -> str | None:
    """The recipient's problem if a placeholder of the message has no value for them."""
    values = recipient.substitutions
    if needed.issubset(values):
        return None
    return f"no value for placeholder {sorted(needed.difference(values))[0]}"


def _in_order(
    recipients: Sequence[Recipient], results: Sequence[RecipientResult]
) -> list[RecipientResult]:
    by_key = {result.key: result for result in results}
    return [by_key[recipient.key] for recipient in recipients]


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

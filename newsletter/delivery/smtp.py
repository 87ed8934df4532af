"""The SMTP provider: one MIME message per recipient over a connection each thread reuses.

``NEWSLETTER_SMTP_URL`` says where and how: ``smtp://user:pass@host:587`` upgrades with
STARTTLS when the server offers it (``?starttls=require`` refuses to go on without it,
``?starttls=never`` stays plain, for a local relay), ``smtps://…:465`` is TLS from the first
byte; ``?cafile=PATH`` trusts a private CA. Certificates are always verified.

Outcomes, per recipient where SMTP gives them per recipient:

- RCPT or DATA refused with 5xx → that recipient ``failed`` with the server's words;
- RCPT or DATA refused with 4xx → deferred: the batch ends in ``ProviderRetryable`` whose
  ``settled`` holds everyone else;
- the connection found closed, or the server closing it (421), before a message was handed
  over → a new connection takes that message and the rest (servers close idle
  connections); connection refused, or two connections lost in a row with nothing
  accepted in between → ``ProviderRetryable``;
- the connection lost or timed out after the message was handed over but before the server
  said 250 → that recipient may have been accepted: the batch ends in ``ProviderAmbiguous``
  (everyone else settled, never resent);
- credentials refused, no AUTH, TLS missing or untrusted → ``ProviderAuthError``: a person
  must fix the configuration; sender refused with 5xx → ``ProviderRejected``.

The transactions themselves, pipelined when the server offers it, are
:mod:`newsletter.delivery.smtp_session`'s; ``docs/providers.md`` says how connections,
pipelining and the acceptance journal fit together.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from newsletter.delivery.base import Recipient, RecipientResult, RecipientStatus
from newsletter.delivery.mime import MimeBuilder, encode_address
from newsletter.delivery.per_message import MimeBatch, PerMessageProvider
from newsletter.delivery.smtp_session import CLOSING, Conversation, Envelope, Reply, Stage, Verdict
from newsletter.errors import (
    ConfigurationError,
    DeliveryError,
    ProviderAmbiguous,
    ProviderAuthError,
    ProviderRejected,
    ProviderRetryable,
)

if TYPE_CHECKING:
    from newsletter.deliverability.dkim import DkimSigner

StartTLS = Literal["auto", "require", "never"]
_AUTH_CODES = {530, 534, 535, 538}


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to connect, parsed from ``NEWSLETTER_SMTP_URL``."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: StartTLS = "auto"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 30.0) -> SmtpConfig:
        """Parse ``smtp[s]://[user[:password]@]host[:port][?starttls=…&cafile=…]``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                f"NEWSLETTER_SMTP_URL must look like smtp://user:pass@host:587 or smtps://…, "
                f"got scheme {parts.scheme!r}"
            )
        implicit = parts.scheme == "smtps"
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "cafile"}
        if unknown:
            raise ConfigurationError(f"NEWSLETTER_SMTP_URL: unknown option(s) {sorted(unknown)}")
        starttls = query.get("starttls", "auto")
        if starttls not in ("auto", "require", "never") or (implicit and "starttls" in query):
            raise ConfigurationError(
                "NEWSLETTER_SMTP_URL: starttls is auto, require or never (smtp:// only)"
            )
        try:
            port = parts.port or (465 if implicit else 25)
        except ValueError as exc:
            raise ConfigurationError(f"NEWSLETTER_SMTP_URL: {exc}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            implicit_tls=implicit,
            starttls=starttls,  # type: ignore[arg-type]
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            cafile=query.get("cafile"),
            timeout=timeout,
        )


@dataclass
class _Outcome:
    """What one batch came to so far: settled results, and who is still open and why."""

    settled: list[RecipientResult] = field(default_factory=list)
    deferred: list[tuple[int, str]] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    on_accepted: Callable[[RecipientResult], None] | None = None

    def error(self, fatal: DeliveryError | None = None) -> DeliveryError | None:
        """The exception that ends the batch, if any; ambiguity wins over everything."""
        if self.ambiguous:
            why = "; ".join(self.ambiguous + ([str(fatal)] if fatal else []))
            return ProviderAmbiguous(
                f"SMTP: the server may have accepted a message it did not confirm: {why}",
                settled=self.settled,
            )
        if fatal is not None:
            fatal.settled = tuple(self.settled)
            return fatal
        if self.deferred:
            code, text = self.deferred[0]
            return ProviderRetryable(
                f"SMTP deferred {len(self.deferred)} recipient(s), e.g. {text}",
                status=code,
                settled=self.settled,
            )
        return None


class _Queue:
    """The batch's envelopes, built as they are taken; those a lost connection did not
    hand over are put back in front, in order."""

    def __init__(self, source: Iterator[Envelope]) -> None:
        self._source = source
        self._again: deque[Envelope] = deque()

    def __iter__(self) -> Iterator[Envelope]:
        while True:
            if self._again:
                yield self._again.popleft()
            else:
                envelope = next(self._source, None)
                if envelope is None:
                    return
                yield envelope

    def put_back(self, envelopes: list[Envelope]) -> None:
        self._again.extendleft(reversed(envelopes))

    def more(self) -> bool:
        if not self._again:
            envelope = next(self._source, None)
            if envelope is None:
                return False
            self._again.append(envelope)
        return True


class SmtpProvider(PerMessageProvider):
    """Sends through one SMTP connection per thread, kept open across messages and batches,
    pipelined when the server offers it (:mod:`newsletter.delivery.smtp_session`)."""

    name = "smtp"
    max_batch_size = 1000
    dot_stuff = True  # built in DATA's form: the fixed pieces stuffed once per batch

    def __init__(self, config: SmtpConfig, *, signer: DkimSigner | None = None) -> None:
        self.config = config
        self.signer = signer
        self._local = threading.local()
        self._open: set[smtplib.SMTP] = set()
        self._lock = threading.Lock()
        self._tls = ssl.create_default_context(cafile=config.cafile)

    def post(self, payload: MimeBatch) -> list[RecipientResult]:
        """Hand each message over; the outcomes the module docstring lists."""
        builder, recipients, _ = payload
        outcome = _Outcome(on_accepted=payload.on_accepted)
        queue = _Queue(self._envelopes(builder, recipients, outcome))
        try:
            lost = 0  # connections in a row that ended with a message not handed over
            while queue.more():
                lost = self._converse(queue, outcome, lost)
        except DeliveryError as exc:
            error = outcome.error(exc)
            assert error is not None
            raise error from exc
        error = outcome.error()
        if error is not None:
            raise error
        return outcome.settled

    def close(self) -> None:
        """Say QUIT on every thread's connection."""
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    # the batch's messages

    def _envelopes(
        self, builder: MimeBuilder, recipients: Sequence[Recipient], outcome: _Outcome
    ) -> Iterator[Envelope]:
        """Each recipient's envelope, built when the conversation takes it; a recipient
        whose message or return path cannot be encoded fails alone."""
        sender = encode_address(builder.from_email)
        for recipient in recipients:
            built = builder.try_build(recipient)
            if isinstance(built, RecipientResult):
                outcome.settled.append(built)
                continue
            envelope_from = sender
            if recipient.return_path:  # VERP: the bounce names the delivery
                try:
                    envelope_from = encode_address(recipient.return_path)
                except ValueError as exc:
                    failed = RecipientResult(recipient.key, RecipientStatus.FAILED, error=str(exc))
                    outcome.settled.append(failed)
                    continue
            yield Envelope(
                recipient.key,
                envelope_from,
                built.envelope_to,
                built.data,
                built.message_id,
                built.stuffed,
            )

    def _converse(self, queue: _Queue, outcome: _Outcome, lost: int) -> int:
        """Hand messages over on this thread's connection until the queue is empty or the
        connection ends; returns the count of connections lost in a row."""
        connection = self._connection()
        conversation = Conversation(connection)
        again: list[Envelope] = []
        progressed = False
        why = ""
        with contextlib.closing(conversation.run(queue)) as verdicts:
            for verdict in verdicts:
                if self._judge(verdict, outcome):
                    progressed = True
                else:
                    again.append(verdict.envelope)
                    why = verdict.why or str(verdict.reply)
        if not conversation.alive:
            self._discard(connection)
        if not again:
            return lost
        lost = 1 if progressed else lost + 1
        if lost >= 2:
            raise ProviderRetryable(f"SMTP connection to {self._where} lost twice in a row: {why}")
        queue.put_back(again)
        return lost

    def _judge(self, verdict: Verdict, outcome: _Outcome) -> bool:
        """Settle one message by its verdict; False: not handed over, send it again."""
        reply, key = verdict.reply, verdict.envelope.key
        if reply is None:
            if not verdict.handed_over:
                return False
            to = verdict.envelope.recipient
            outcome.ambiguous.append(f"{to}: no answer after the data ({verdict.why})")
            return True
        if reply.code == CLOSING:  # the server closes: this one goes on another connection
            return False
        if verdict.stage is Stage.MAIL:
            raise self._sender_refused(reply)
        if verdict.stage is Stage.END and reply.code == 250:
            envelope = verdict.envelope
            result = RecipientResult(key, RecipientStatus.SENT, message_id=envelope.message_id)
            outcome.settled.append(result)
            if outcome.on_accepted is not None:
                outcome.on_accepted(result)
        elif 400 <= reply.code < 500:  # RCPT, DATA or the content deferred
            outcome.deferred.append((reply.code, str(reply)))
        else:
            outcome.settled.append(RecipientResult(key, RecipientStatus.FAILED, error=str(reply)))
        return True

    def _sender_refused(self, reply: Reply) -> DeliveryError:
        text = str(reply)
        if reply.code in _AUTH_CODES:
            return ProviderAuthError(f"SMTP server {self._where} wants authentication: {text}")
        if 400 <= reply.code < 500:
            return ProviderRetryable(
                f"SMTP server refused the sender for now: {text}", status=reply.code
            )
        return ProviderRejected(f"SMTP server refused the sender: {text}", reasons=[text])

    # connections

    @property
    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _connection(self) -> smtplib.SMTP:
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        if connection is None or connection.sock is None:
            connection = self._connect()
            self._local.connection = connection
            with self._lock:
                self._open.add(connection)
        return connection

    def _discard(self, connection: smtplib.SMTP) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            self._open.discard(connection)

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        connection: smtplib.SMTP | None = None
        try:
            if config.implicit_tls:
                connection = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=self._tls
                )
            else:
                connection = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            if connection.sock is not None:  # pipelined groups go out whole, at once
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.ehlo()
            self._secure(connection)
            if config.username:
                connection.login(config.username, config.password or "")
            return connection
        except DeliveryError:
            _close_quietly(connection)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(connection)
            raise ProviderAuthError(
                f"SMTP server {self._where} refused the credentials: "
                + _said(exc.smtp_code, exc.smtp_error),
                status=exc.smtp_code,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _close_quietly(connection)
            raise ProviderAuthError(
                f"SMTP server {self._where} offers no AUTH here (does it need STARTTLS?): {exc}"
            ) from exc
        except ssl.SSLError as exc:  # a certificate that fails verification, or no TLS there
            _close_quietly(connection)
            raise ProviderAuthError(f"TLS with SMTP server {self._where} failed: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(connection)
            raise ProviderRetryable(f"cannot connect to SMTP server {self._where}: {exc}") from exc

    def _secure(self, connection: smtplib.SMTP) -> None:
        mode = self.config.starttls
        if self.config.implicit_tls or mode == "never":
            return
        if connection.has_extn("starttls"):
            connection.starttls(context=self._tls)
            connection.ehlo()
        elif mode == "require":
            raise ProviderAuthError(
                f"SMTP server {self._where} does not offer STARTTLS, and the URL requires it"
            )


def _said(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return f"{code} {text}"


def _close_quietly(connection: smtplib.SMTP | None) -> None:
    if connection is not None:
        connection.close()

"""The SMTP provider: one MIME message per recipient over a connection each thread reuses.

``NEWSLETTER_SMTP_URL`` says where and how: ``smtp://user:pass@host:587`` upgrades with
STARTTLS when the server offers it (``?starttls=require`` refuses to go on without it,
``?starttls=never`` stays plain, for a local relay), ``smtps://…:465`` is TLS from the first
byte; ``?cafile=PATH`` trusts a private CA. Certificates are always verified.

Outcomes, per recipient where SMTP gives them per recipient:

- RCPT or DATA refused with 5xx → that recipient ``failed`` with the server's words;
- RCPT or DATA refused with 4xx → deferred: the batch ends in ``ProviderRetryable`` whose
  ``settled`` holds everyone else;
- the connection found closed before a message was handed over → reconnect once and go on
  (servers close idle connections); connection refused or lost again → ``ProviderRetryable``;
- the connection lost or timed out after the message was handed over but before the server
  said 250 → that recipient may have been accepted: the batch ends in ``ProviderAmbiguous``
  (everyone else settled, never resent);
- credentials refused, no AUTH, TLS missing or untrusted → ``ProviderAuthError``: a person
  must fix the configuration; sender refused with 5xx → ``ProviderRejected``.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from newsletter.delivery.base import RecipientResult, RecipientStatus
from newsletter.delivery.mime import BuiltMessage, encode_address
from newsletter.delivery.per_message import MimeBatch, PerMessageProvider
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


class _Lost(Exception):
    """The connection died before the message was handed over: nothing was accepted."""


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


class SmtpProvider(PerMessageProvider):
    """Sends through one SMTP connection per thread, kept open across messages and batches."""

    name = "smtp"
    max_batch_size = 1000

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
        sender = encode_address(builder.from_email)
        outcome = _Outcome(on_accepted=payload.on_accepted)
        for recipient in recipients:
            built = builder.try_build(recipient)
            if isinstance(built, RecipientResult):
                outcome.settled.append(built)
                continue
            try:
                envelope_from = sender
                if recipient.return_path:  # VERP: the bounce names the delivery
                    envelope_from = encode_address(recipient.return_path)
                self._deliver(envelope_from, built, recipient.key, outcome)
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

    # one recipient

    def _deliver(self, sender: str, built: BuiltMessage, key: str, outcome: _Outcome) -> None:
        """Hand one message over, reconnecting once if the connection turns out to be dead."""
        for attempt in (1, 2):
            connection = self._connection()
            try:
                self._transaction(connection, sender, built, key, outcome)
                return
            except _Lost as lost:
                self._discard(connection)
                if attempt == 2:
                    raise ProviderRetryable(
                        f"SMTP connection to {self._where} lost twice in a row: {lost}"
                    ) from lost

    def _transaction(
        self,
        connection: smtplib.SMTP,
        sender: str,
        built: BuiltMessage,
        key: str,
        outcome: _Outcome,
    ) -> None:
        try:
            code, reply = connection.mail(sender)
            if code == 421:
                raise _Lost(_said(code, reply))
            if code != 250:
                self._reset(connection, code)
                raise self._sender_refused(code, reply)
            code, reply = connection.rcpt(built.envelope_to)
            if code in (250, 251):
                code, reply = connection.docmd("DATA")
            if code != 354:
                self._reset(connection, code)
                self._refused(key, code, reply, outcome)
                return
            connection.send(dot_stuffed(built.data) + b".\r\n")
        except smtplib.SMTPServerDisconnected as exc:
            raise _Lost(str(exc)) from exc
        try:
            code, reply = connection.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            self._discard(connection)
            outcome.ambiguous.append(f"{built.envelope_to}: no answer after the data ({exc})")
            return
        if code == 250:
            result = RecipientResult(key, RecipientStatus.SENT, message_id=built.message_id)
            outcome.settled.append(result)
            if outcome.on_accepted is not None:
                outcome.on_accepted(result)
            return
        self._refused(key, code, reply, outcome)

    @staticmethod
    def _refused(key: str, code: int, reply: bytes, outcome: _Outcome) -> None:
        """RCPT or DATA refused: 421 closes (try again), 4xx defers, 5xx fails the recipient."""
        text = _said(code, reply)
        if code == 421:
            raise _Lost(text)
        if 400 <= code < 500:
            outcome.deferred.append((code, text))
        else:
            outcome.settled.append(RecipientResult(key, RecipientStatus.FAILED, error=text))

    def _sender_refused(self, code: int, reply: bytes) -> DeliveryError:
        text = _said(code, reply)
        if code in _AUTH_CODES:
            return ProviderAuthError(f"SMTP server {self._where} wants authentication: {text}")
        if 400 <= code < 500:
            return ProviderRetryable(f"SMTP server refused the sender for now: {text}", status=code)
        return ProviderRejected(f"SMTP server refused the sender: {text}", reasons=[text])

    @staticmethod
    def _reset(connection: smtplib.SMTP, code: int) -> None:
        """RSET after a refusal, so that the next MAIL starts clean; 421 means it closes."""
        if code != 421:
            with contextlib.suppress(smtplib.SMTPServerDisconnected):
                connection.rset()

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


def dot_stuffed(data: bytes) -> bytes:
    """``data`` as SMTP's DATA carries it (RFC 5321 4.5.2): a line starting with "." gets
    another. ``bytes.replace`` rather than a multi-line regular expression, which tested
    every position of a 200 KB message (``docs/benchmarks.md``, SMTP against smtp-sink)."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\n.", b"\n..")


def _said(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return f"{code} {text}"


def _close_quietly(connection: smtplib.SMTP | None) -> None:
    if connection is not None:
        connection.close()

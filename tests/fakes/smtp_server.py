"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and misbehaves on cue.

Tests start it through the fixtures in ``tests/delivery/conftest.py``; it listens on an
ephemeral port, can speak STARTTLS or implicit TLS with a certificate made for the test,
check AUTH, refuse chosen recipients, refuse or stall the data, and drop every open
connection (as a server restarting or closing idle connections does).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: tuple[str, int]
    tls: bool
    login: str | None


@dataclass
class SmtpBehaviour:
    """How the server answers; tests change it between sends."""

    refuse: dict[str, str] = field(default_factory=dict)  # address → "550 5.1.1 No such user"
    data_reply: str = "250 2.0.0 Queued"
    mail_reply: str | None = None  # e.g. "530 5.7.0 Authentication required"
    data_delay: float = 0.0  # seconds to wait, after recording, before answering the data
    hold_from: int | None = None  # from this many messages received on, answer only after 60 s
    close_after_data: bool = False  # record the message, then close without answering
    pipelining: bool = False  # advertise PIPELINING (RFC 2920) to connections from now on
    close_after_reply: int | None = None  # once this many messages are in, answer, then close


class RecordingHandler:
    """aiosmtpd handler: applies the behaviour, records accepted messages and connections."""

    def __init__(self, behaviour: SmtpBehaviour) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self.peers: list[tuple[str, int]] = []
        self.pipelined = 0  # MAIL commands whose RCPT had arrived with them (one write)
        self.resets = 0
        self._lock = threading.Lock()

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        session.host_name = hostname
        with self._lock:
            if session.peer not in self.peers:
                self.peers.append(session.peer)
        if self.behaviour.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.resets += 1
        return "250 OK"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        waiting = bytes(getattr(server._reader, "_buffer", b""))  # read, not yet handled
        if waiting.upper().startswith(b"RCPT TO:"):
            with self._lock:
                self.pipelined += 1
        if self.behaviour.mail_reply:
            return self.behaviour.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        refusal = self.behaviour.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.behaviour.data_reply
        if reply.startswith("250"):
            login = session.auth_data.login.decode() if session.authenticated else None
            content = envelope.original_content or b""
            with self._lock:
                self.received.append(
                    Received(
                        mail_from=envelope.mail_from or "",
                        rcpt_tos=tuple(envelope.rcpt_tos),
                        data=content,
                        peer=session.peer,
                        tls=server.transport.get_extra_info("ssl_object") is not None
                        if server.transport is not None
                        else False,
                        login=login,
                    )
                )
        if self.behaviour.data_delay:
            await asyncio.sleep(self.behaviour.data_delay)
        hold_from = self.behaviour.hold_from
        if hold_from is not None and len(self.received) >= hold_from:
            await asyncio.sleep(60)
        if self.behaviour.close_after_data:
            assert server.transport is not None
            server.transport.close()
        close_after = self.behaviour.close_after_reply
        if close_after is not None and len(self.received) == close_after:
            assert server.transport is not None  # the reply, then nothing more: even to
            server.transport.write(f"{reply}\r\n".encode())  # commands that came with it
            server.transport.close()
        return reply


class _TrackingSMTP(SMTP):
    """Keeps each open connection's transport, so the test can drop them all."""

    def __init__(self, transports: set[asyncio.BaseTransport], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transports = transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transports.discard(self.transport)  # type: ignore[arg-type]
        super().connection_lost(exc)


class FakeSmtpServer(Controller):  # type: ignore[misc]
    """aiosmtpd in a thread on 127.0.0.1 and an ephemeral port (``.port`` once started)."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        logins: dict[str, str] | None = None,
        auth_require_tls: bool = True,
    ) -> None:
        self.behaviour = SmtpBehaviour()
        self.handler = RecordingHandler(self.behaviour)
        self._transports: set[asyncio.BaseTransport] = set()
        self._logins = logins
        # aiosmtpd only counts STARTTLS as TLS for AUTH; implicit TLS is TLS all the same.
        kwargs: dict[str, Any] = {"auth_require_tls": auth_require_tls and not implicit_tls}
        if tls_context is not None and not implicit_tls:
            kwargs["tls_context"] = tls_context
        if logins is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = True
        super().__init__(
            self.handler,
            hostname="127.0.0.1",
            port=0,
            ssl_context=tls_context if implicit_tls else None,
            server_hostname="fake-smtp.test",
            **kwargs,
        )

    def factory(self) -> SMTP:
        with warnings.catch_warnings():  # "AUTH without TLS": implicit TLS is TLS, aiosmtpd
            warnings.simplefilter("ignore")  # just does not see it
            return _TrackingSMTP(self._transports, handler=self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Bound to port 0: learn the real port before the controller's own test connection.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self._logins is not None
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self._logins.get(user) == password:
                return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def pipelined(self) -> int:
        """MAIL commands that came in one write with their RCPT (the client pipelined)."""
        return self.handler.pipelined

    @property
    def connections(self) -> int:
        """Client connections that said EHLO (the controller's own probe never does)."""
        return len(self.handler.peers)

    def drop_connections(self) -> None:
        """Close every open client connection from the server side, and wait until it is."""
        done = threading.Event()

        def close_all() -> None:
            for transport in list(self._transports):
                transport.close()
            self.loop.call_soon(done.set)

        self.loop.call_soon_threadsafe(close_all)
        assert done.wait(5)


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 / localhost, and contexts that use it."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_certificate(folder: Path) -> Certificate:
    """Generate a key and a self-signed certificate valid for an hour (test use only)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-smtp.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / "smtp-cert.pem"
    key_path = folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)

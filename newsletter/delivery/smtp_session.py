"""SMTP mail transactions over one open connection, pipelined (RFC 2920) when it is offered.

smtplib waits for each reply before sending the next command: four round trips per message
(MAIL, RCPT, DATA, the content). When the server advertises ``PIPELINING`` a
:class:`Conversation` sends ``MAIL FROM``, ``RCPT TO`` and ``DATA`` together (after an
``RSET`` if the previous transaction was refused) and reads the replies in order; the
content goes out as soon as the server says 354, and its reply is read together with the
next message's envelope replies: one round trip per message. Without ``PIPELINING`` each
command waits for its reply, as smtplib does.

The conversation decides nothing about outcomes: for each message it yields a
:class:`Verdict`, the reply that settled it (``stage`` says which command it answered),
or none when the connection ended first. ``handed_over`` then says whether the content
had gone out (the server may have accepted it) or not (safe to send again on another
connection). After a connection is lost or the server said 421 (closing), the conversation
stops and :attr:`Conversation.alive` is false; messages it had not started stay in the
caller's iterator.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Generator, Iterable, Iterator
from enum import StrEnum
from typing import NamedTuple

from newsletter.delivery.mime import dot_stuffed

CLOSING = 421


class Stage(StrEnum):
    """The command a reply answers; ``END`` is the reply to the message's content."""

    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    END = "END"


class Envelope(NamedTuple):
    """One message to hand over: who it is for (the caller's key), sender, recipient, data."""

    key: str
    sender: str
    recipient: str
    data: bytes
    message_id: str
    stuffed: bool = False  # ``data`` is dot-stuffed already (``MimeBuilder(dot_stuff=True)``)


class Reply(NamedTuple):
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


class Verdict(NamedTuple):
    """How one message ended on this connection."""

    envelope: Envelope
    stage: Stage
    reply: Reply | None  # None: the connection ended before the reply
    handed_over: bool = False  # the content (and its final dot) went out
    why: str = ""  # what ended the connection, when ``reply`` is None


_STAGES = (Stage.MAIL, Stage.RCPT, Stage.DATA)
_WANTED = ((250,), (250, 251), (354,))  # the positive replies to MAIL, RCPT and DATA
_SKIPPED = Reply(503, "not sent: an earlier command was refused")


class _Gone(Exception):
    """The connection ended (closed, reset or timed out)."""


class Conversation:
    """Mail transactions on ``connection`` (EHLO, TLS and AUTH done) until it ends."""

    def __init__(self, connection: smtplib.SMTP) -> None:
        self.connection = connection
        self.pipelining = connection.has_extn("pipelining")
        self.alive = True
        self._dirty = False  # a refused transaction: RSET before the next MAIL

    def run(self, envelopes: Iterable[Envelope]) -> Generator[Verdict, None, None]:
        """A verdict for each envelope taken from ``envelopes``, in order, until they run
        out or the connection ends; a caller that stops early leaves the connection closed
        if a transaction was open."""
        clean = False
        try:
            if self.pipelining:
                yield from self._pipelined(envelopes)
            else:
                yield from self._one_by_one(envelopes)
            clean = True
        finally:
            if not clean and self.alive:  # a caller's exception mid-transaction
                self._end()

    # pipelined: one round trip per message

    def _pipelined(self, envelopes: Iterable[Envelope]) -> Iterator[Verdict]:
        in_flight: Envelope | None = None  # content sent, its reply not read yet
        for envelope in envelopes:
            commands = self._envelope_commands(envelope)
            try:
                self._write(b"".join(commands))
            except _Gone as gone:
                yield from self._lost(in_flight, envelope, str(gone))
                return
            verdicts, in_flight = self._pipelined_replies(in_flight, envelope, len(commands))
            yield from verdicts
            if not self.alive:
                return
        if in_flight is not None:
            yield self._end_of_data(in_flight)

    def _pipelined_replies(
        self, in_flight: Envelope | None, envelope: Envelope, commands: int
    ) -> tuple[list[Verdict], Envelope | None]:
        """Read the replies to the last content (if any) and to ``commands`` envelope
        commands; send ``envelope``'s content at once if the server wants it."""
        verdicts: list[Verdict] = []
        if in_flight is not None:
            verdicts.append(self._end_of_data(in_flight))
            if not self.alive:
                return [*verdicts, self._not_sent(envelope, "the connection closed")], None
        try:
            replies = [self._read() for _ in range(commands)]
        except _Gone as gone:
            return [*verdicts, self._not_sent(envelope, str(gone))], None
        mail, rcpt, data = replies[-3:]  # before them, RSET's answer: nothing rides on it
        self._dirty = False
        refusal = self._refusal(envelope, mail, rcpt, data)
        if refusal is not None:
            return [*verdicts, refusal], None
        try:
            self._write(_content(envelope))
        except _Gone as gone:
            return [*verdicts, self._not_sent(envelope, str(gone))], None
        return verdicts, envelope

    # without pipelining: one command, one reply

    def _one_by_one(self, envelopes: Iterable[Envelope]) -> Iterator[Verdict]:
        for envelope in envelopes:
            verdict = self._transaction(envelope)
            yield verdict
            if not self.alive:
                return

    def _transaction(self, envelope: Envelope) -> Verdict:
        try:
            if self._dirty:
                self._write(b"RSET\r\n")
                self._read()
                self._dirty = False
            replies: list[Reply] = []
            for command, wanted in zip(self._envelope_commands(envelope), _WANTED, strict=True):
                self._write(command)
                replies.append(self._read())
                if replies[-1].code not in wanted:
                    break
            replies += [_SKIPPED] * (3 - len(replies))
            refusal = self._refusal(envelope, *replies)
            if refusal is not None:
                return refusal
            self._write(_content(envelope))
        except _Gone as gone:
            return self._not_sent(envelope, str(gone))
        return self._end_of_data(envelope)

    # shared steps

    def _envelope_commands(self, envelope: Envelope) -> list[bytes]:
        commands = [b"RSET\r\n"] if self._dirty else []
        commands += [
            b"MAIL FROM:<%s>\r\n" % envelope.sender.encode("ascii"),
            b"RCPT TO:<%s>\r\n" % envelope.recipient.encode("ascii"),
            b"DATA\r\n",
        ]
        return commands if self.pipelining else commands[-3:]

    def _refusal(self, envelope: Envelope, mail: Reply, rcpt: Reply, data: Reply) -> Verdict | None:
        """The verdict of a transaction refused before its content, or None (354)."""
        for stage, reply, wanted in zip(_STAGES, (mail, rcpt, data), _WANTED, strict=True):
            if reply.code == CLOSING:
                self._end()
            if reply.code not in wanted:
                if data.code == 354:  # RFC 2920 3.1: DATA taken with no recipient
                    self._empty_data()
                self._dirty = True
                return Verdict(envelope, stage, reply)
        return None

    def _empty_data(self) -> None:
        """End a DATA the server opened although the transaction had failed: just the dot."""
        try:
            self._write(b".\r\n")
            self._read()
        except _Gone:
            pass

    def _end_of_data(self, envelope: Envelope) -> Verdict:
        try:
            reply = self._read()
        except _Gone as gone:
            return Verdict(envelope, Stage.END, None, handed_over=True, why=str(gone))
        if reply.code == CLOSING:
            self._end()
        return Verdict(envelope, Stage.END, reply, handed_over=True)  # the transaction is over

    def _lost(self, in_flight: Envelope | None, envelope: Envelope, why: str) -> Iterator[Verdict]:
        if in_flight is not None:
            yield Verdict(in_flight, Stage.END, None, handed_over=True, why=why)
        yield self._not_sent(envelope, why)

    def _not_sent(self, envelope: Envelope, why: str) -> Verdict:
        self._end()
        return Verdict(envelope, Stage.MAIL, None, why=why)

    def _write(self, data: bytes) -> None:
        try:
            self.connection.send(data)
        except smtplib.SMTPServerDisconnected as exc:
            self.alive = False
            raise _Gone(str(exc)) from exc

    def _read(self) -> Reply:
        try:
            _ack_at_once(self.connection)
            code, text = self.connection.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            self.alive = False
            raise _Gone(str(exc)) from exc
        if code == -1:  # smtplib: a reply line that was not a number
            self._end()
            raise _Gone(f"unreadable reply {text!r}")
        return Reply(code, text.decode(errors="replace"))

    def _end(self) -> None:
        """This connection is done with: close it (the caller opens another)."""
        self.alive = False
        self.connection.close()


def _ack_at_once(connection: smtplib.SMTP) -> None:
    """Acknowledge what arrives next at once (Linux ``TCP_QUICKACK``, which the kernel
    clears again by itself). A server that writes a pipelined group's replies in pieces
    with Nagle's algorithm on (``smtp-sink`` does) holds each piece until the previous one
    is acknowledged, and a client only reading delays its acknowledgement (up to 40 ms):
    without this, pipelining ran slower than one command at a time (``docs/benchmarks.md``)."""
    if _QUICKACK is not None and connection.sock is not None:
        connection.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def _content(envelope: Envelope) -> bytes:
    """The message as DATA carries it, with the final dot; stuffed here unless the builder
    did it already (scanning a 40 KB message for line-initial dots costs ~100 µs)."""
    return (envelope.data if envelope.stuffed else dot_stuffed(envelope.data)) + b".\r\n"

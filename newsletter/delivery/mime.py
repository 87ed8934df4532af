"""One MIME message per recipient, written by hand because it is the per-message cost.

SMTP and the outbox send each recipient a copy of their own. The stdlib ``EmailMessage``
costs many times what the headers and bodies written here take (``docs/benchmarks.md``,
Providers). What is written follows RFC 5322 / 2045 / 2047: CRLF line ends
(or LF for a Maildir file), quoted-printable bodies with lines of at most 76 characters (the
wire size stays close to the content, unlike base64's third more, and the source stays
readable), encoded-words for non-ASCII subjects and display names, header lines folded at
78 columns where they can be. The tests parse every shape of output back with the stdlib
parser.

A :class:`MimeBuilder` is made once per batch: it splits subject/HTML/text at their
placeholders, encodes the bodies' fixed pieces and renders the headers every recipient
shares; :meth:`MimeBuilder.build` then encodes one recipient's values and joins. For SMTP
(``dot_stuff``) the fixed pieces are also dot-stuffed once per batch (RFC 5321 4.5.2), as
every piece starts a line of its own: a recipient's message is then ready for ``DATA``
without a scan of its whole content, which cost as much as building it.
"""

from __future__ import annotations

import binascii
import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from operator import itemgetter
from typing import TYPE_CHECKING

from newsletter.delivery.base import (
    RESERVED_HEADERS,
    Message,
    Recipient,
    RecipientResult,
    RecipientStatus,
)
from newsletter.errors import ProviderRejected
from newsletter.placeholders import PLACEHOLDER, PlaceholderTemplate

if TYPE_CHECKING:
    from newsletter.deliverability.dkim import DkimSigner

CRLF = b"\r\n"
LF = b"\n"

CUSTOM_ARG_PREFIX = "X-Newsletter-"
_CUSTOM_ARG_KEY = re.compile(r"[a-z][a-z0-9_]*")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
# A display name made only of these needs no quoting (atext and spaces).
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_HARD_BREAKS = re.compile(r"\r?\n")  # a lone CR is content (=0D), not a line break
_TOKENS = re.compile(r"\s*\S+\s*|\s+")
_FOLD_AT = 78
_HARD_LIMIT = 998
_ENCODED_WORD_LINE = 76  # RFC 2047: a line holding an encoded-word has at most 76 characters
_WORD_OVERHEAD = len("=?utf-8?b??=")
_QP_LINE = 76


@dataclass(frozen=True, slots=True)
class BuiltMessage:
    """One recipient's message: its ``Message-ID``, envelope address and the bytes to send."""

    message_id: str
    envelope_to: str
    data: bytes
    stuffed: bool = False  # ``data`` is dot-stuffed already (SMTP's DATA form)


def dot_stuffed(data: bytes) -> bytes:
    """``data`` as SMTP's DATA carries it (RFC 5321 4.5.2): a line starting with "." gets
    another. ``bytes.replace`` rather than a multi-line regular expression, which tested
    every position of a 167 KB message (``docs/benchmarks.md``, SMTP against smtp-sink)."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\n.", b"\n..")


@functools.lru_cache(maxsize=256)  # a send asks for the same few names for every message
def custom_arg_header(key: str) -> str:
    """The header carrying custom arg ``key``: ``delivery_id`` → ``X-Newsletter-Delivery-Id``.

    First-party tracking (and bounce processing) reads these back with
    :func:`custom_args_from_headers`; the mapping is reversible for ``[a-z][a-z0-9_]*`` keys.
    """
    if not _CUSTOM_ARG_KEY.fullmatch(key):
        raise ValueError(f"custom arg key {key!r} must match [a-z][a-z0-9_]*")
    return CUSTOM_ARG_PREFIX + "-".join(part.capitalize() for part in key.split("_"))


def custom_args_from_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The custom args a message carried, from its (decoded) header items."""
    prefix = CUSTOM_ARG_PREFIX.lower()
    found: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered.startswith(prefix):
            found[lowered[len(prefix) :].replace("-", "_")] = str(value)
    return found


def encode_address(email: str) -> str:
    """The address as it may appear in headers and the envelope (IDNA domain, ASCII only).

    A non-ASCII local part would need SMTPUTF8, which this sender does not use: it raises
    ``ValueError`` so that one recipient fails instead of the message going out garbled.
    """
    if _LINE_BREAKS.search(email) or any(c in email for c in " <>\t"):
        raise ValueError(f"invalid email address {email!r}")
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"invalid email address {email!r}")
    if not local.isascii():
        raise ValueError(f"{email!r}: a non-ASCII local part needs SMTPUTF8 (not supported)")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"{email!r}: the domain is not a valid IDN: {exc}") from exc
    return f"{local}@{domain}"


def return_path_header(address: str, linesep: bytes = CRLF) -> bytes:
    """``Return-Path: <address>``, the line a delivering server puts on top of a message."""
    return f"Return-Path: <{encode_address(address)}>".encode("ascii") + linesep


def format_address(email: str, name: str | None, header: str = "To") -> tuple[str, list[str]]:
    """The encoded address and ``name <address>`` as header words (quoted or encoded-words)."""
    addr = encode_address(email)
    name = _one_line(name or "").strip()
    if not name:
        return addr, [addr]
    if not name.isascii() or "=?" in name:
        return addr, [*_encoded_words(name, _first_word_room(header)), f"<{addr}>"]
    if _PLAIN_PHRASE.fullmatch(name):
        return addr, [*name.split(), f"<{addr}>"]
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return addr, [f'"{quoted}"', f"<{addr}>"]


def address_header(header: str, email: str, name: str | None) -> tuple[str, list[str]]:
    """The encoded address and the folded ``From:``/``To:`` lines that carry it."""
    addr, words = format_address(email, name, header)
    return addr, fold_words(header, words, encoded=words[0].startswith("=?"))


def header_lines(name: str, value: str) -> list[str]:
    """One header as physical lines: folded at spaces, non-ASCII text as encoded-words."""
    value = _one_line(value)
    if value.isascii() and "=?" not in value:
        return fold_words(name, value.split(" "))
    return fold_words(name, _encoded_words(value, _first_word_room(name)), encoded=True)


def fold_words(name: str, words: list[str], *, encoded: bool = False) -> list[str]:
    """``name: w1 w2 …`` packed greedily into lines of 78 (76 with encoded-words) columns."""
    limit = _ENCODED_WORD_LINE if encoded else _FOLD_AT
    lines: list[str] = []
    current = f"{name}:"
    for word in words:
        fits = len(current) + 1 + len(word) <= limit
        if not fits and (current != f"{name}:" or encoded):
            lines.append(current)
            current = ""
        current = f"{current} {word}"
    lines.append(current)
    for line in lines:
        if len(line) > _HARD_LIMIT:
            raise ValueError(f"header {name}: a word longer than {_HARD_LIMIT} characters")
    return lines


def _one_line(value: str) -> str:
    """Header values never carry line breaks (header injection): they become spaces."""
    return _LINE_BREAKS.sub(" ", value)


def _first_word_room(name: str) -> int:
    """Bytes the first encoded-word may hold so that ``name: word`` stays within 76 columns."""
    return max(0, (_ENCODED_WORD_LINE - len(name) - 2 - _WORD_OVERHEAD) // 4 * 3)


def _encoded_words(text: str, first: int) -> list[str]:
    """RFC 2047 B encoded-words of whole characters, breaking after spaces where possible.

    Each holds at most 45 UTF-8 bytes (the first at most ``first``, so the header's first
    line stays within 76 columns). A space that separates two words is encoded at the end
    of the earlier word: decoders drop the folding whitespace *between* encoded-words.
    (CPython's address parser wrongly keeps it as an extra space, so tests decode display
    names with ``email.header.decode_header``, as mail clients do.)
    """
    budget = (75 - _WORD_OVERHEAD) // 4 * 3
    room = max(first, 4)  # a character needs up to 4 bytes; less room folds the line first
    words: list[str] = []
    chunk = b""
    for token in _TOKENS.findall(text):
        data = token.encode("utf-8")
        if chunk and len(chunk) + len(data) > room:
            words.append(_encoded_word(chunk))
            chunk, room = b"", budget
        for char in token if len(data) > room else (token,):
            piece = char.encode("utf-8")
            if chunk and len(chunk) + len(piece) > room:
                words.append(_encoded_word(chunk))
                chunk, room = b"", budget
            chunk += piece
    if chunk or not words:
        words.append(_encoded_word(chunk))
    return words


def _encoded_word(data: bytes) -> str:
    return "=?utf-8?b?" + binascii.b2a_base64(data, newline=False).decode("ascii") + "?="


def quoted_printable(text: str, linesep: bytes = CRLF, *, soft_end: bool = False) -> bytes:
    """``text`` quoted-printable (RFC 2045 6.7): line breaks stay hard breaks (``linesep``),
    longer lines get soft breaks at 76 characters, a lone CR is encoded.

    ``soft_end`` closes the last line with a soft break, so that whatever is encoded next
    starts a line of its own: pieces can then be encoded apart and joined.
    """
    lines = [
        binascii.b2a_qp(line.encode("utf-8"), quotetabs=False, istext=False, header=False)
        for line in _HARD_BREAKS.split(text)
    ]
    encoded = linesep.join(lines).replace(b"=\n", b"=" + linesep)
    if not soft_end or not lines[-1]:
        return encoded  # empty, or ends with a hard break: the next piece starts a line
    last = encoded.rsplit(linesep, 1)[-1]
    if len(last) >= _QP_LINE:  # no room for the "=": break before the last characters
        cut = _QP_LINE - 1
        cut -= 1 if last[cut - 1 : cut] == b"=" else 2 if last[cut - 2 : cut - 1] == b"=" else 0
        encoded = encoded[: len(encoded) - len(last)] + last[:cut] + b"=" + linesep + last[cut:]
    return encoded + b"=" + linesep


class QuotedPrintableTemplate:
    """A body split at its placeholders and quoted-printable encoded once per batch.

    Every fixed piece and every value ends with a soft line break, so each starts a line of
    its own: a recipient's values are encoded alone (a few short strings) and joined between
    the pieces, and no line's length depends on the recipient. Decoding gives the filled
    text exactly (line breaks as the wire's).
    """

    __slots__ = ("_getter", "_keys", "_linesep", "_slots", "_stuff", "placeholders")

    def __init__(self, text: str, linesep: bytes = CRLF, *, stuffed: bool = False) -> None:
        pieces = PLACEHOLDER.split(text)
        self._keys = tuple(PLACEHOLDER.findall(text))
        self._linesep = linesep
        self._stuff = stuffed  # each piece and value starts a line: each is stuffed alone
        slots = [quoted_printable(pieces[0], linesep, soft_end=True)]
        for piece in pieces[1:]:  # a slot for each value, then the piece after it
            slots += [b"", quoted_printable(piece, linesep, soft_end=True)]
        slots[-1] = quoted_printable(pieces[-1], linesep) + linesep
        self._slots = [dot_stuffed(slot) for slot in slots] if stuffed else slots
        self.placeholders = frozenset(self._keys)
        self._getter = itemgetter(*self._keys) if len(self._keys) > 1 else None

    def fill(self, values: Mapping[str, str]) -> bytes:
        """The encoded body with every value; a missing value raises ``KeyError``."""
        if not self._keys:
            return self._slots[0]
        encoded = {
            k: quoted_printable(values[k], self._linesep, soft_end=True) for k in self.placeholders
        }
        if self._stuff:
            encoded = {k: dot_stuffed(v) for k, v in encoded.items()}
        out = self._slots.copy()
        if self._getter is None:
            out[1] = encoded[self._keys[0]]
        else:
            out[1::2] = self._getter(encoded)
        return b"".join(out)


def check_header_name(name: str) -> str:
    """A header name we may set: printable ASCII without colon, and not one we write."""
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"header {name!r} is set by the sender itself and may not be given")
    return name


class MimeBuilder:
    """Builds each recipient's ``multipart/alternative`` message (text, then HTML) for a batch.

    Batch-wide headers and custom args are rendered once; a recipient's own header or custom
    arg of the same name replaces the batch-wide one, as in SendGrid's personalizations.
    Cheap to make, and not shared between threads: each ``send`` makes its own.

    With ``dot_stuff`` (SMTP) every message comes dot-stuffed (``BuiltMessage.stuffed``):
    byte for byte :func:`dot_stuffed` of what the builder makes without it. Unsigned, the
    fixed pieces are stuffed once here and only a recipient's own values per message; a
    signed message is signed as it will be read, then stuffed whole.
    """

    def __init__(
        self,
        message: Message,
        *,
        linesep: bytes = CRLF,
        now: datetime | None = None,
        signer: DkimSigner | None = None,
        dot_stuff: bool = False,
    ) -> None:
        if signer is not None:
            signer.check_from(message.from_email)
        self._signer = signer
        self._stuffed = dot_stuff
        pieces_stuffed = dot_stuff and signer is None  # signing needs the message as read
        self._stuff_pieces = pieces_stuffed
        self.from_email = message.from_email
        self._linesep = linesep
        self._sep = linesep.decode("ascii")
        self._subject = PlaceholderTemplate(message.subject)
        self._html = QuotedPrintableTemplate(message.html, linesep, stuffed=pieces_stuffed)
        self._text = QuotedPrintableTemplate(message.text, linesep, stuffed=pieces_stuffed)
        self._domain = encode_address(message.from_email).rpartition("@")[2]
        boundary = "=_nl_" + os.urandom(12).hex()
        head = [
            *address_header("From", message.from_email, message.from_name)[1],
            *header_lines("Date", format_datetime(now or datetime.now(UTC))),
            "MIME-Version: 1.0",
        ]
        if message.reply_to:
            head += header_lines("Reply-To", encode_address(message.reply_to))
        self._head = self._encode(head)
        self._common = _extra_headers(message.headers, message.custom_args)
        self._content_type = f'Content-Type: multipart/alternative; boundary="{boundary}"'
        self._tail = self._encode_tail({})
        sep = self._sep
        part = 'Content-Type: text/{}; charset="utf-8"' + sep
        part += "Content-Transfer-Encoding: quoted-printable" + sep + sep
        delimiter = f"--{boundary}{sep}"
        self._text_open = (delimiter + part.format("plain")).encode("ascii")
        self._html_open = (delimiter + part.format("html")).encode("ascii")
        self._close = f"--{boundary}--{sep}".encode("ascii")

    def build(self, recipient: Recipient) -> BuiltMessage:
        """The recipient's message; ``ValueError`` or ``KeyError`` (a missing value) if not."""
        values = recipient.substitutions
        address, to_lines = address_header("To", recipient.email, recipient.name)
        message_id = f"<{os.urandom(16).hex()}@{self._domain}>"
        own = _extra_headers(recipient.headers, recipient.custom_args)
        lines = [
            *to_lines,
            *header_lines("Subject", self._subject.fill(values)),
            f"Message-ID: {message_id}",
        ]
        for header in own.values():
            lines += header
        tail = self._encode_tail(own) if own.keys() & self._common.keys() else self._tail
        text = self._text.fill(values)
        html = self._html.fill(values)
        parts = (self._head, self._encode(lines), tail, self._text_open, text, self._html_open)
        data = b"".join((*parts, html, self._close))
        if self._signer is not None:  # the final bytes: signed here, once, for SMTP and outbox
            data = self._signer.sign(data, self._linesep)
            if self._stuffed:
                data = dot_stuffed(data)
        return BuiltMessage(message_id, address, data, self._stuffed)

    def try_build(self, recipient: Recipient) -> BuiltMessage | RecipientResult:
        """The recipient's message, or their ``failed`` result saying what is wrong."""
        try:
            return self.build(recipient)
        except KeyError as exc:
            error = f"no value for placeholder {exc.args[0]}"
        except ValueError as exc:
            error = str(exc)
        return RecipientResult(recipient.key, RecipientStatus.FAILED, error=error)

    def _encode(self, lines: list[str]) -> bytes:
        """Header lines as bytes (dot-stuffed when the pieces are: a header name may start
        with a dot)."""
        data = (self._sep.join(lines) + self._sep).encode("ascii")
        return dot_stuffed(data) if self._stuff_pieces else data

    def _encode_tail(self, overridden: Mapping[str, list[str]]) -> bytes:
        lines = [
            line
            for name, header in self._common.items()
            if name not in overridden
            for line in header
        ]
        lines.append(self._content_type)
        return self._encode(lines) + self._linesep


def batch_builder(
    message: Message,
    *,
    linesep: bytes = CRLF,
    signer: DkimSigner | None = None,
    dot_stuff: bool = False,
) -> MimeBuilder:
    """A builder for the batch (signing each message when ``signer`` is given, each in
    SMTP's dot-stuffed form with ``dot_stuff``), or ``ProviderRejected`` when the shared
    message is malformed or its From cannot be signed."""
    try:
        return MimeBuilder(message, linesep=linesep, signer=signer, dot_stuff=dot_stuff)
    except ValueError as exc:
        raise ProviderRejected(f"the message cannot be sent: {exc}", reasons=[str(exc)]) from exc


def _extra_headers(
    headers: Mapping[str, str], custom_args: Mapping[str, str]
) -> dict[str, list[str]]:
    """Caller-given headers and custom-arg headers as lines, keyed by lower-case name."""
    rendered: dict[str, list[str]] = {}
    for name, value in headers.items():
        rendered[name.lower()] = header_lines(check_header_name(name), value)
    for key, value in custom_args.items():
        name = custom_arg_header(key)
        rendered[name.lower()] = header_lines(name, value)
    return rendered

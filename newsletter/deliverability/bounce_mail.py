"""Read one message from a bounce mailbox: which recipients failed, how, and which delivery.

Three shapes are understood, tried in this order:

- RFC 3464 delivery status notifications (``multipart/report; report-type=delivery-status``,
  what Gmail, Outlook/Exchange, Postfix and current Exim send), read with the stdlib parser:
  per recipient its ``Action``, ``Status`` and ``Diagnostic-Code``. ``failed`` with a 5.x.x
  status is a hard bounce, with 4.x.x a soft one; ``delayed`` is a deferral; anything else
  (``delivered``, ``relayed``, ``expanded``) is no failure;
- RFC 5965 (ARF) complaint reports (``report-type=feedback-report``): ``abuse``, ``fraud``
  and ``virus`` are complaints about the recipient in ``Original-Rcpt-To`` (or the reported
  message's ``To``);
- anything else that is not an automatic reply (RFC 3834 ``Auto-Submitted``, vacation and
  out-of-office markers) goes through ``flufl.bounce``, Mailman's detectors for the
  non-standard bounces (classic Exim, qmail, old Exchange, Yahoo …): permanent failures are
  hard bounces, temporary ones soft.

What fits none of them is ``unknown``, to be kept for a person to look at. Alongside the
failures, a report gathers what may name our delivery: the addresses the bounce was sent to
(our VERP return path when it is one), the reported message's ``Return-Path`` /
``Original-Mail-From``, its ``Message-ID`` and the delivery id it carried. None of that is
trusted here: :mod:`campaigns.bounces` checks it.

The input is untrusted: callers bound its size first (:func:`read_report` refuses more than
``max_bytes``); every header value kept is clipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Literal

from flufl.bounce import all_failures

from newsletter.delivery.mime import custom_arg_header

FailureKind = Literal["hard", "soft", "delayed", "complaint"]
ReportFormat = Literal["dsn", "arf", "heuristic", "auto-reply", "unknown"]

DELIVERY_HEADER = custom_arg_header("nl_delivery")  # what campaigns.messages sets
_FIELD = 1000  # characters kept of any header value
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_COMPLAINTS = frozenset({"abuse", "fraud", "virus"})
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|"
    r"abwesenheit|absence|vacation|away from)",
    re.IGNORECASE,
)
_EXIM_COPY = "------ This is a copy of the message"


class UnreadableReport(ValueError):
    """The message cannot be read at all (too large, not a message): keep it for review."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient the report says failed (or complained), as the report names it."""

    address: str | None  # None: the report hides it (redacted complaint)
    kind: FailureKind
    status: str | None = None  # enhanced status code, e.g. 5.1.1
    diagnostic: str | None = None


@dataclass(frozen=True, slots=True)
class BounceReport:
    """What one mailbox message says, and the evidence of which delivery it is about."""

    format: ReportFormat
    message_id: str | None
    date: str | None
    subject: str | None
    failures: tuple[Failure, ...] = ()
    return_paths: tuple[str, ...] = ()  # addresses that may be our VERP return path
    original_message_id: str | None = None
    original_delivery: str | None = None  # the delivery id the reported message carried
    reason: str | None = None  # why it is unknown
    feedback_type: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def read_report(data: bytes, *, max_bytes: int = 1_000_000) -> BounceReport:
    """The report in ``data``; :class:`UnreadableReport` when it is over ``max_bytes``."""
    if len(data) > max_bytes:
        raise UnreadableReport(f"{len(data)} bytes, over the limit of {max_bytes}")
    message = message_from_bytes(data)
    if not message.keys():
        raise UnreadableReport("no headers: not a mail message")
    report_type = message.get_param("report-type", "")
    report_type = report_type.lower() if isinstance(report_type, str) else ""
    if message.get_content_type() == "multipart/report":
        if report_type == "delivery-status":
            return _dsn(message)
        if report_type == "feedback-report":
            return _arf(message)
    if _auto_reply(message):
        return _base(message, "auto-reply")
    return _heuristic(message)


def _base(
    message: Message, kind: ReportFormat, more_paths: Sequence[str] = (), **more: object
) -> BounceReport:
    original = _original(message)
    paths = [address for name in _RECIPIENT_HEADERS for address in _addresses(message, name)]
    if original is not None:
        paths += _addresses(original, "Return-Path")
    paths += more_paths
    found: dict[str, object] = {
        "format": kind,
        "message_id": _value(message, "Message-ID"),
        "date": _value(message, "Date"),
        "subject": _value(message, "Subject"),
        "return_paths": tuple(dict.fromkeys(paths)),
        "original_message_id": _value(original, "Message-ID") if original else None,
        "original_delivery": _value(original, DELIVERY_HEADER) if original else None,
    }
    found.update(more)
    return BounceReport(**found)  # type: ignore[arg-type]


def _dsn(message: Message) -> BounceReport:
    failures: list[Failure] = []
    for block in _status_blocks(message):
        action = (block.get("Action") or "").strip().lower()
        if action.startswith("delayed"):
            kind: FailureKind = "delayed"
        elif action.startswith(("failed", "error")):  # opensmtpd says "error"
            kind = "hard"
        else:
            continue  # delivered, relayed, expanded: no failure
        status = _status(block.get("Status"))
        diagnostic = _clip(block.get("Diagnostic-Code"))
        if kind == "hard" and (status or _status(diagnostic) or "5").startswith("4"):
            kind = "soft"  # gave up after temporary failures
        address = _typed_address(block.get("Original-Recipient")) or _typed_address(
            block.get("Final-Recipient")
        )
        failures.append(Failure(address, kind, status or _status(diagnostic), diagnostic))
    if not failures:
        return _base(message, "dsn", reason="a delivery status report naming no failure")
    return _base(message, "dsn", failures=tuple(failures))


def _status_blocks(message: Message) -> Iterator[Message]:
    """The per-recipient field blocks of every message/delivery-status part."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if isinstance(blocks, list):
            yield from (b for b in blocks[1:] if isinstance(b, Message))  # [0]: per message


def _arf(message: Message) -> BounceReport:
    fields = _feedback_fields(message)
    if fields is None:
        return _base(message, "arf", reason="a feedback report without its report part")
    feedback = (_value(fields, "Feedback-Type") or "").strip().lower()
    original = _original(message)
    address = _one_address(_value(fields, "Original-Rcpt-To")) or (
        _one_address(_value(original, "To")) if original is not None else None
    )
    mail_from = _addresses(fields, "Original-Mail-From")
    extra = {k: v for k in ("User-Agent", "Source-IP") if (v := _value(fields, k))}
    if feedback not in _COMPLAINTS:
        return _base(
            message, "arf", reason=f"feedback type {feedback or '(none)'!r} is no complaint"
        )
    return _base(
        message,
        "arf",
        mail_from,
        failures=(Failure(address, "complaint", None, f"feedback-type: {feedback}"),),
        feedback_type=feedback,
        extra=extra,
    )


def _feedback_fields(message: Message) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, str):
                return HeaderParser().parsestr(payload)
    return None


def _heuristic(message: Message) -> BounceReport:
    temporary, permanent = all_failures(message)
    failures = [Failure(_ascii(a), "hard") for a in sorted(permanent)]
    failures += [Failure(_ascii(a), "soft") for a in sorted(temporary - permanent)]
    if not failures:
        return _base(message, "unknown", reason="neither a bounce, a complaint nor an auto-reply")
    status = _status(_body_text(message))
    return _base(
        message,
        "heuristic",
        failures=tuple(
            Failure(f.address, f.kind, status if _fits(status, f.kind) else None) for f in failures
        ),
    )


def _fits(status: str | None, kind: FailureKind) -> bool:
    return status is not None and status[0] == ("5" if kind == "hard" else "4")


def _auto_reply(message: Message) -> bool:
    """RFC 3834 and the usual vacation markers (a non-report ``auto-replied`` is no bounce
    unless ``flufl.bounce`` says so: Exim marks its bounces that way too)."""
    if any(message.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    precedence = (message.get("Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "auto-reply"):
        return True
    subject = str(message.get("Subject") or "")
    if _AUTO_SUBJECT.match(subject):
        return True
    auto = (message.get("Auto-Submitted") or "").strip().lower()
    return auto.startswith("auto-replied") and not any(all_failures(message))


def _original(message: Message) -> Message | None:
    """The reported message's headers (message/rfc822 or text/rfc822-headers part, or the
    copy after a classic Exim bounce's text)."""
    if not message.is_multipart():
        _, marker, after = _body_text(message).partition(_EXIM_COPY)
        return HeaderParser().parsestr(after.partition("\n")[2].lstrip()) if marker else None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return HeaderParser().parsestr(text.decode("utf-8", "replace"))
    return None


def _body_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode("utf-8", "replace")[:20_000]
    return ""


def _status(value: str | None) -> str | None:
    found = _STATUS.search(value or "")
    return found.group(0) if found else None


def _typed_address(value: str | None) -> str | None:
    """``rfc822; ann@example.org`` → ``ann@example.org`` (other address types: none)."""
    if not value:
        return None
    kind, _, address = value.partition(";")
    if kind.strip().lower() != "rfc822":
        return None
    return _one_address(address)


def _one_address(value: str | None) -> str | None:
    if not value:
        return None
    address = parseaddr(value.strip())[1].strip()
    return address[:320] if "@" in address else None


def _addresses(message: Message, name: str) -> list[str]:
    values = [str(v) for v in message.get_all(name) or []]
    return [a[:320] for _, a in getaddresses(values) if "@" in a]


def _value(message: Message | None, name: str) -> str | None:
    if message is None:
        return None
    value = message.get(name)
    return _clip(str(value)) if value is not None else None


def _clip(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= _FIELD else text[: _FIELD - 1] + "…"


def _ascii(value: bytes) -> str:
    return value.decode("ascii", "replace")

"""The rules SendGrid's v3 ``POST /mail/send`` enforces, as the fake server checks them.

Two layers, as ``tests/data/sendgrid/README.md`` explains: the request schema from the
official OpenAPI spec (with its known gap fixed: the top-level ``custom_args`` is an object),
which a benchmark may switch off for speed, and hand-written checks for everything the schema
does not encode (sizes, counts, order of content, reserved headers …), which always run.
Errors come out as SendGrid formats them: ``{"message", "field", "help"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_PATH = (
    Path(__file__).resolve().parent.parent / "data" / "sendgrid" / "mail_send_request.schema.json"
)
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_ARGS_BYTES = 10_000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_SEND_AT_AHEAD = 72 * 3600
MAX_BODY_BYTES = 30 * 1024 * 1024
MAX_ERRORS = 100

# From the mail-send reference: "You may not override the following headers".
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id", "x-sg-eid", "received", "dkim-signature", "Content-Type",
        "Content-Transfer-Encoding", "To", "From", "Subject", "Reply-To", "CC", "BCC",
    )
)  # fmt: skip
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")

Error = dict[str, Any]


def error(message: str, field: str | None, anchor: str | None = None) -> Error:
    return {"message": message, "field": field, "help": HELP + anchor if anchor else None}


@cache
def schema_validator() -> Draft202012Validator:
    """The official request schema, corrected as the README says, with ``format`` checked."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["properties"]["custom_args"] = {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    return Draft202012Validator(schema, format_checker=FormatChecker())


def schema_errors(body: Any) -> list[Error]:
    found = []
    for problem in schema_validator().iter_errors(body):
        field = ".".join(str(part) for part in problem.absolute_path) or None
        found.append(error(problem.message, field))
        if len(found) >= MAX_ERRORS:
            break
    return found


def rule_errors(body: Any, now: float) -> list[Error]:
    """Everything the schema does not say; the first ``MAX_ERRORS`` problems."""
    if not isinstance(body, dict):
        return [error("Bad Request", None)]
    found: list[Error] = []
    for problem in _all_rules(body, now):
        found.append(problem)
        if len(found) >= MAX_ERRORS:
            break
    return found


def _all_rules(body: dict[str, Any], now: float) -> Iterator[Error]:
    has_template = isinstance(body.get("template_id"), str) and bool(body["template_id"])
    yield from _personalizations(body, now, has_template)
    yield from _sender(body)
    if not has_template:
        yield from _content(body.get("content"))
    yield from _args("custom_args", body.get("custom_args"))
    yield from _headers("headers", body.get("headers"))
    yield from _categories(body.get("categories"))
    yield from _send_at("send_at", body.get("send_at"), now)


def _personalizations(body: dict[str, Any], now: float, has_template: bool) -> Iterator[Error]:
    items = body.get("personalizations")
    if not isinstance(items, list) or not items:
        yield error(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
            "personalizations",
        )
        return
    if len(items) > MAX_PERSONALIZATIONS:
        yield error(
            f"You may not have more than {MAX_PERSONALIZATIONS} personalizations per request.",
            "personalizations",
            "personalizations",
        )
    subject = body.get("subject")
    every_subject = True
    recipients = 0
    for index, item in enumerate(items):
        where = f"personalizations.{index}"
        if not isinstance(item, dict):
            yield error("Invalid type. Expected: object.", where)
            continue
        count, problems = _recipients(item, where)
        recipients += count
        yield from problems
        own_subject = item.get("subject")
        if own_subject is not None and (not isinstance(own_subject, str) or not own_subject):
            yield error(
                "The subject must be a string of at least one character.", f"{where}.subject"
            )
        every_subject = every_subject and bool(own_subject)
        yield from _args(f"{where}.custom_args", item.get("custom_args"))
        yield from _substitutions(f"{where}.substitutions", item.get("substitutions"))
        yield from _headers(f"{where}.headers", item.get("headers"))
        yield from _send_at(f"{where}.send_at", item.get("send_at"), now)
    if recipients > MAX_RECIPIENTS:
        yield error(
            f"The total number of recipients (to, cc and bcc in all personalizations) must be "
            f"no more than {MAX_RECIPIENTS}; this request has {recipients}.",
            "personalizations",
            "personalizations",
        )
    if not has_template and not (isinstance(subject, str) and subject) and not every_subject:
        yield error(
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject defined.",
            "subject",
            "subject",
        )


def _recipients(item: dict[str, Any], where: str) -> tuple[int, list[Error]]:
    problems: list[Error] = []
    to = item.get("to")
    if not isinstance(to, list) or not to:
        problems.append(
            error(
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"{where}.to",
                "personalizations.to",
            )
        )
    seen: set[str] = set()
    count = 0
    for kind in ("to", "cc", "bcc"):
        addresses = item.get(kind)
        if addresses is None:
            continue
        if not isinstance(addresses, list):
            problems.append(error("Invalid type. Expected: array.", f"{where}.{kind}"))
            continue
        count += len(addresses)
        for position, address in enumerate(addresses):
            email = address.get("email") if isinstance(address, dict) else None
            if not isinstance(email, str) or not _EMAIL.fullmatch(email):
                problems.append(
                    error("Does not contain a valid address.", f"{where}.{kind}.{position}.email")
                )
                continue
            name = address.get("name")
            if name is not None and not isinstance(name, str):
                problems.append(
                    error("Invalid type. Expected: string.", f"{where}.{kind}.{position}.name")
                )
            lowered = email.lower()
            if lowered in seen:
                problems.append(
                    error(
                        "Each email address in the personalization block should be unique "
                        "between to, cc, and bcc. We found the first duplicate instance of "
                        f"[{email}] in the {where}.{kind} field.",
                        f"{where}.{kind}",
                        "personalizations",
                    )
                )
            seen.add(lowered)
    return count, problems


def _sender(body: dict[str, Any]) -> Iterator[Error]:
    sender = body.get("from")
    email = sender.get("email") if isinstance(sender, dict) else None
    if not isinstance(email, str) or not _EMAIL.fullmatch(email):
        yield error(
            "The from object must be provided for every email send. It is an object that "
            "requires the email parameter, but may also contain a name parameter.",
            "from",
            "from",
        )
    if "reply_to" in body and "reply_to_list" in body:
        yield error(
            "The reply_to and reply_to_list parameters are mutually exclusive; "
            "use one of them, not both.",
            "reply_to_list",
            "reply_to",
        )
    reply_to = body.get("reply_to")
    if reply_to is not None:
        email = reply_to.get("email") if isinstance(reply_to, dict) else None
        if not isinstance(email, str) or not _EMAIL.fullmatch(email):
            yield error("Does not contain a valid address.", "reply_to.email", "reply_to")


def _content(content: Any) -> Iterator[Error]:
    if not isinstance(content, list) or not content:
        yield error(
            "Unless a valid template_id is provided, the content parameter is required. There "
            "must be at least one defined content block. We typically suggest both text/plain "
            "and text/html blocks are included, but only one block is required.",
            "content",
            "content",
        )
        return
    types: list[Any] = []
    for index, block in enumerate(content):
        block = block if isinstance(block, dict) else {}
        kind, value = block.get("type"), block.get("value")
        if not isinstance(kind, str) or not kind:
            yield error(
                "The content type must be a string at least one character in length.",
                f"content.{index}.type",
                "content.type",
            )
        if not isinstance(value, str) or not value:
            yield error(
                "The content value must be a string at least one character in length.",
                f"content.{index}.value",
                "content.value",
            )
        types.append(kind)
    if types.count("text/plain") > 1 or types.count("text/html") > 1:
        yield error(
            "If present, text/plain and text/html may only be provided once.",
            "content",
            "content",
        )
    expected = [kind for kind in ("text/plain", "text/html") if kind in types]
    if types[: len(expected)] != expected:
        yield error(
            "If present, text/plain content must be first, followed by text/html, followed by "
            "any other content.",
            "content",
            "content.type",
        )


def _string_map(field: str, value: Any) -> Iterator[Error]:
    if not isinstance(value, dict):
        yield error("Invalid type. Expected: object, given: " + type(value).__name__ + ".", field)
        return
    for key, item in value.items():
        if not isinstance(item, str):
            yield error(
                f"Invalid type. Expected: string, given: {type(item).__name__}.", f"{field}.{key}"
            )


def _size(value: dict[str, str]) -> int:
    """Bytes as compact JSON; below the limit a cheap bound will do (six bytes a character)."""
    bound = 6 * sum(len(k) + len(v) for k, v in value.items()) + 6 * len(value) + 2
    if bound <= MAX_ARGS_BYTES:
        return bound
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _args(field: str, value: Any) -> Iterator[Error]:
    return _sized_strings(
        field,
        value,
        f"The custom_args may not exceed {MAX_ARGS_BYTES:,} bytes per personalization.",
        "custom_args",
    )


def _substitutions(field: str, value: Any) -> Iterator[Error]:
    return _sized_strings(
        field,
        value,
        f"The total collective size of your substitutions may not exceed {MAX_ARGS_BYTES:,} "
        "bytes per personalization object.",
        "personalizations.substitutions",
    )


def _sized_strings(field: str, value: Any, too_large: str, anchor: str) -> Iterator[Error]:
    """An optional object of strings, at most ``MAX_ARGS_BYTES`` as compact JSON."""
    if value is None:
        return
    problems = list(_string_map(field, value))
    yield from problems
    if not problems and _size(value) > MAX_ARGS_BYTES:
        yield error(too_large, field, anchor)


def _headers(field: str, value: Any) -> Iterator[Error]:
    if value is None:
        return
    yield from _string_map(field, value)
    if not isinstance(value, dict):
        return
    for name in value:
        if name.lower() in RESERVED_HEADERS:
            yield error(
                f"The '{name}' header is reserved and cannot be set. Reserved headers: "
                "x-sg-id, x-sg-eid, received, dkim-signature, Content-Type, "
                "Content-Transfer-Encoding, To, From, Subject, Reply-To, CC, BCC.",
                f"{field}.{name}",
                "headers",
            )


def _categories(value: Any) -> Iterator[Error]:
    if value is None:
        return
    if not isinstance(value, list):
        yield error("Invalid type. Expected: array.", "categories")
        return
    if len(value) > MAX_CATEGORIES:
        yield error(
            f"You may not have more than {MAX_CATEGORIES} categories per request.",
            "categories",
            "categories",
        )
    if len(set(map(str, value))) != len(value):
        yield error("The categories must be unique.", "categories", "categories")
    for index, category in enumerate(value):
        if not isinstance(category, str) or not category.isascii():
            yield error(
                "A category must be a string of ASCII characters.",
                f"categories.{index}",
                "categories",
            )
        elif len(category) > MAX_CATEGORY_LENGTH:
            yield error(
                f"A category cannot be longer than {MAX_CATEGORY_LENGTH} characters.",
                f"categories.{index}",
                "categories",
            )


def _send_at(field: str, value: Any, now: float) -> Iterator[Error]:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        yield error("Invalid type. Expected: integer (a unix timestamp).", field, "send_at")
    elif value > now + MAX_SEND_AT_AHEAD:
        yield error("A send cannot be scheduled more than 72 hours in advance.", field, "send_at")

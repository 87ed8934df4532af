"""Reading what a browser or an API client posted, and turning it into validated choices.

A form post and a JSON document go through the same rules (:mod:`subscribers.fields`), and
every problem in one submission is reported at once, so a form can show each next to its
field. JSON is strict about unknown fields (a typo should not pass silently); a form is not,
since an embedding site may add hidden fields of its own. No field, known or not, may hold
a line break.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from starlette.requests import Request

from newsletter.errors import InvalidInput
from newsletter.untrusted import MalformedInput, load_json
from newsletter.zones import clean_zone
from subscribers.addresses import Address, parse_address
from subscribers.fields import (
    clean_name,
    clean_narratives,
    clean_source,
    clean_topics,
    reject_control_characters,
)
from subscribers.preferences import Preferences
from subscribers.signup import SignupForm

HONEYPOT = "website"  # a field people never see: only bots fill it in
SIGNUP_FIELDS = frozenset({"email", "name", "topics", "source", "time_zone", HONEYPOT})
FRESH_LINK_FIELDS = frozenset({"email", HONEYPOT})
PREFERENCES_FIELDS = frozenset({"name", "topics", "narratives", "time_zone", "action"})
LIST_FIELDS = frozenset({"topics"})
MAX_FORM_FIELDS = 100

BodyKind = Literal["json", "form"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Submission:
    kind: BodyKind
    fields: dict[str, Any]


async def read_submission(request: Request) -> Submission:
    """The posted fields, from JSON or a form; :class:`InvalidInput` for an unusable body."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        raw = await request.body()
        try:  # small (the app's body limit), so cheap enough to parse on the event loop
            data = load_json(raw)
        except MalformedInput as exc:
            raise InvalidInput("body", f"is not valid JSON ({exc.reason})") from None
        if not isinstance(data, dict):
            raise InvalidInput("body", "must be a JSON object")
        return Submission("json", data)
    if media_type in ("", "application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if not isinstance(value, str):
                raise InvalidInput(key, "files are not accepted")
            if key in LIST_FIELDS:
                fields.setdefault(key, []).append(value)
            else:
                fields[key] = value
        return Submission("form", fields)
    raise InvalidInput("body", f"content type {media_type!r} is not accepted: send JSON or a form")


class _Checker:
    """Runs field rules, keeping every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[InvalidInput] = []

    def __call__(self, rule: Callable[[], T]) -> T | None:
        try:
            return rule()
        except InvalidInput as exc:
            known = {(p.field, p.reason) for p in self.problems}
            self.problems.extend(InvalidInput(f, r) for f, r in exc.problems if (f, r) not in known)
            return None

    def raise_if_any(self) -> None:
        if self.problems:
            raise InvalidInput.collect(self.problems)


def _general_checks(submission: Submission, allowed: Collection[str], check: _Checker) -> None:
    for key, value in submission.fields.items():
        if submission.kind == "json" and key not in allowed:
            check(_refuse(key, "is not a field of this form"))
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check(_no_control_characters(item, key))


def _no_control_characters(value: str, field: str) -> Callable[[], None]:
    return lambda: reject_control_characters(value, field)


def _refuse(field: str, reason: str) -> Callable[[], None]:
    def rule() -> None:
        raise InvalidInput(field, reason)

    return rule


def _text(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidInput(key, "must be text")


def _topic_list(fields: Mapping[str, Any]) -> list[str]:
    value = fields.get("topics")
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("topics", "must be a list of topic names")
    return [topic for item in value for topic in item.split(",")]


def honeypot_filled(submission: Submission) -> bool:
    value = submission.fields.get(HONEYPOT)
    return bool(value.strip()) if isinstance(value, str) else value not in (None, "")


def fresh_link_form(submission: Submission) -> Address | None:
    """The address asking for a fresh preferences link; ``None`` when a bot filled the trap
    field (answered like anyone, nothing done). Any address is accepted as typed: only a
    stored one can match."""
    if honeypot_filled(submission):
        return None
    check = _Checker()
    _general_checks(submission, FRESH_LINK_FIELDS, check)
    address = check(lambda: parse_address(_text(submission.fields, "email") or ""))
    check.raise_if_any()
    return address


def signup_form(
    submission: Submission, known_topics: Collection[str], *, ascii_local_part: bool = True
) -> SignupForm:
    """A validated signup; :class:`InvalidInput` listing every problem. ``ascii_local_part``:
    the provider cannot deliver to ``zoë@…`` (see :func:`parse_address`)."""
    check = _Checker()
    _general_checks(submission, SIGNUP_FIELDS, check)
    fields = submission.fields
    address: Address | None = check(
        lambda: parse_address(_text(fields, "email") or "", ascii_local_part=ascii_local_part)
    )
    name = check(lambda: clean_name(_text(fields, "name")))
    topics = check(lambda: clean_topics(_topic_list(fields), known_topics))
    source = check(lambda: clean_source(_text(fields, "source")))
    zone = check(lambda: _signup_zone(submission))
    check.raise_if_any()
    assert address is not None
    submitted = {
        "email": fields.get("email"),
        "name": name,
        "topics": topics or [],
        "source": source or "web",
        "time_zone": zone,
    }
    return SignupForm(
        address=address, name=name, topics=topics or [], form=submitted, time_zone=zone
    )


def _signup_zone(submission: Submission) -> str | None:
    """The zone a signup names. A form's is filled in by the page's script from the
    browser, out of the person's sight: one this machine does not know means the default
    zone, not an error they cannot fix. An API client's is checked like any field."""
    value = _text(submission.fields, "time_zone")
    if submission.kind == "form":
        try:
            return clean_zone(value)
        except InvalidInput:
            return None
    return clean_zone(value)


def preferences_form(submission: Submission, known_topics: Collection[str]) -> Preferences:
    check = _Checker()
    _general_checks(submission, PREFERENCES_FIELDS, check)
    fields = submission.fields
    name = check(lambda: clean_name(_text(fields, "name")))
    topics = check(lambda: clean_topics(_topic_list(fields), known_topics))
    narratives = check(lambda: clean_narratives(_text(fields, "narratives")))
    zone = check(lambda: clean_zone(_text(fields, "time_zone")))
    check.raise_if_any()
    return Preferences(
        name=name, topics=topics or [], narratives=narratives or "all", time_zone=zone
    )


def wants_unsubscribe(submission: Submission) -> bool:
    return submission.fields.get("action") == "unsubscribe"

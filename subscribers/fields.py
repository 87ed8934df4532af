"""The rules for each field a person or a file can give us (name, topics, narratives, source).

One place, so that the web form, the JSON API, the CSV importer and the CLI refuse the same
things with the same words. Every rule raises :class:`~newsletter.errors.InvalidInput`
naming the field. No field may hold a line break or other control character: names end up
in mail headers and CSV files, where a CR/LF is an injection.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, cast

from newsletter.errors import InvalidInput
from newsletter.render.options import NarrativeDisplay
from subscribers.model import NARRATIVE_DISPLAYS

NAME_MAX = 100
ATTRIBUTE_MAX = 500
SOURCE_MAX = 100
TOPICS_MAX = 50
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
SOURCE_PATTERN = re.compile(r"^[\w][\w .:/-]*$")


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc


def reject_control_characters(value: str, field: str) -> None:
    """CR, LF and every other control character are refused (tabs included)."""
    found = CONTROL.search(value)
    if found is not None:
        char = found.group()
        what = "a line break" if char in "\r\n" else f"the control character U+{ord(char):04X}"
        raise InvalidInput(field, f"must not contain {what}")


def clean_text(value: str | None, field: str, max_length: int) -> str | None:
    """A one-line text, stripped; blank becomes ``None``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text")
    reject_control_characters(value, field)
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(field, f"is longer than {max_length} characters")
    return value or None


def clean_name(value: str | None, field: str = "name") -> str | None:
    return clean_text(value, field, NAME_MAX)


def clean_source(value: str | None, field: str = "source") -> str | None:
    """A short label of where a signup came from (``web``, ``import``, ``homepage-footer`` …)."""
    value = clean_text(value, field, SOURCE_MAX)
    if value is not None and not SOURCE_PATTERN.match(value):
        raise InvalidInput(field, "may hold letters, digits, spaces and . : / - _ only")
    return value


def clean_topics(values: Iterable[Any], known: Collection[str], field: str = "topics") -> list[str]:
    """Lower-cased, de-duplicated topics in the order given; each must be a known topic."""
    topics: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput(field, "each topic must be text")
        reject_control_characters(value, field)
        topic = value.strip().lower()
        if topic and topic not in topics:
            topics.append(topic)
    if len(topics) > TOPICS_MAX:
        raise InvalidInput(field, f"at most {TOPICS_MAX} topics")
    unknown = [topic for topic in topics if topic not in known]
    if unknown:
        choices = ", ".join(sorted(known)) or "none are configured"
        raise InvalidInput(field, f"unknown topic(s) {', '.join(unknown)} (known: {choices})")
    return topics


def clean_narratives(value: str | None, field: str = "narratives") -> NarrativeDisplay:
    """One of ``all``, ``facts-only``, ``no-forecast`` (blank: ``all``)."""
    if value is None or value == "":
        return "all"
    if value not in NARRATIVE_DISPLAYS:
        raise InvalidInput(field, f"must be one of {', '.join(NARRATIVE_DISPLAYS)}")
    return cast(NarrativeDisplay, value)


def clean_attribute_key(key: str, field: str = "attributes") -> str:
    if not ATTRIBUTE_KEY.match(key):
        raise InvalidInput(
            field, f"attribute name {key!r} must be a letter or _ then letters, digits, _ or -"
        )
    return key


def clean_attributes(values: Mapping[str, str | None], prefix: str = "attr.") -> dict[str, str]:
    """Custom attributes: each name checked, each value a one-line text; blank ones left out.

    A value's errors name the field ``{prefix}NAME``, as the CSV column is called."""
    attributes: dict[str, str] = {}
    for key, value in values.items():
        field = prefix + clean_attribute_key(key, prefix + key)
        text = clean_text(value, field, ATTRIBUTE_MAX)
        if text is not None:
            attributes[key] = text
    return attributes

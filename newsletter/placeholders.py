"""Per-recipient placeholders: the only thing that differs between two copies of a variant.

A compiled variant (subject, HTML, text) carries placeholders such as ``%%nl_first_name%%``.
They survive MJML and CSS inlining untouched, go to SendGrid verbatim as ``substitutions``,
and are filled locally (SMTP, outbox, previews) by :class:`PlaceholderTemplate`, which splits
the variant once so that filling it for each recipient is one ``str.join``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"%%nl_[a-z][a-z0-9_]*%%")


def placeholder(name: str) -> str:
    """The placeholder text for ``name`` (``first_name`` → ``%%nl_first_name%%``)."""
    token = f"%%nl_{name}%%"
    if not PLACEHOLDER.fullmatch(token):
        raise ValueError(f"invalid placeholder name {name!r}: use lower-case letters, digits, _")
    return token


class PlaceholderTemplate:
    """A text split once at its placeholders, then filled for each recipient cheaply."""

    __slots__ = ("_keys", "_parts", "placeholders")

    def __init__(self, text: str) -> None:
        pieces = PLACEHOLDER.split(text)
        keys = PLACEHOLDER.findall(text)
        self._parts = pieces
        self._keys = keys
        self.placeholders = frozenset(keys)

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with every placeholder replaced; a missing value raises ``KeyError``."""
        parts = self._parts
        out = [parts[0]]
        for index, key in enumerate(self._keys, start=1):
            out.append(values[key])
            out.append(parts[index])
        return "".join(out)


def fill(text: str, values: Mapping[str, str]) -> str:
    """One-off fill (compile once with :class:`PlaceholderTemplate` when filling many times)."""
    return PlaceholderTemplate(text).fill(values)


def remaining_placeholders(text: str) -> list[str]:
    """Placeholders left in ``text``: after filling there must be none."""
    return PLACEHOLDER.findall(text)

"""Per-recipient placeholders: the only thing that differs between two copies of a variant.

A compiled variant (subject, HTML, text) carries placeholders such as ``%%nl_first_name%%``.
They survive MJML and CSS inlining untouched, go to SendGrid verbatim as ``substitutions``,
and are filled locally (SMTP, outbox, previews) by :class:`PlaceholderTemplate`, which splits
the variant once so that filling it for each recipient is one ``str.join``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import itemgetter

PLACEHOLDER = re.compile(r"%%nl_[a-z][a-z0-9_]*%%")


def placeholder(name: str) -> str:
    """The placeholder text for ``name`` (``first_name`` → ``%%nl_first_name%%``)."""
    token = f"%%nl_{name}%%"
    if not PLACEHOLDER.fullmatch(token):
        raise ValueError(f"invalid placeholder name {name!r}: use lower-case letters, digits, _")
    return token


class PlaceholderTemplate:
    """A text split once at its placeholders, then filled for each recipient cheaply.

    The split keeps text and placeholder slots interleaved in one list; filling copies that
    list, drops the recipient's values into the odd slots with one slice assignment (an
    ``itemgetter`` call does every lookup in C) and joins (``docs/benchmarks.md``, Rendering).
    """

    __slots__ = ("_getter", "_keys", "_pieces", "placeholders")

    def __init__(self, text: str) -> None:
        pieces = PLACEHOLDER.split(text)
        keys = PLACEHOLDER.findall(text)
        slots: list[str] = [pieces[0]]
        for key, piece in zip(keys, pieces[1:], strict=True):
            slots.append(key)
            slots.append(piece)
        self._pieces = slots
        self._keys = tuple(keys)
        self._getter = itemgetter(*keys) if len(keys) > 1 else None
        self.placeholders = frozenset(keys)

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with every placeholder replaced; a missing value raises ``KeyError``."""
        if not self._keys:
            return self._pieces[0]
        out = self._pieces.copy()
        if self._getter is None:
            out[1] = values[self._keys[0]]
        else:
            out[1::2] = self._getter(values)
        return "".join(out)


def placeholders_in(*texts: str) -> frozenset[str]:
    """Every placeholder the texts hold: what each recipient needs a value for."""
    return frozenset(key for text in texts for key in PLACEHOLDER.findall(text))


def fill(text: str, values: Mapping[str, str]) -> str:
    """One-off fill (compile once with :class:`PlaceholderTemplate` when filling many times)."""
    return PlaceholderTemplate(text).fill(values)


def remaining_placeholders(text: str) -> list[str]:
    """Placeholders left in ``text``: after filling there must be none."""
    return PLACEHOLDER.findall(text)


def neutralise(text: str) -> str:
    """User text made unable to act as a placeholder (a word joiner after ``%%``).

    Brief text that happens to contain ``%%nl_…%%`` must print as written, not be filled
    with a recipient's value or break the send with an unknown placeholder.
    """
    return text.replace("%%nl_", "%%\u2060nl_") if "%%nl_" in text else text

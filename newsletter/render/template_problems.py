"""A subject or preheader template's mistake in plain words, with where it is.

Jinja says what went wrong in its own terms ("expected token 'end of print statement', got
'b'") and names only the line. An editor needs to read what to change and see the spot: this
module turns Jinja's message into a sentence and finds the column (from the message's own
clues: the name that is unknown, the character that is unexpected, the brace never closed),
falling back to the whole line. Pages escape and mark it (:class:`TemplateProblem`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from newsletter.suggest import did_you_mean

# What a campaign's subject and preheader templates may use (campaigns' subject_lines).
TEMPLATE_VALUES = (
    "first_title",
    "titles",
    "brief_count",
    "issue_date",
    "newsletter_name",
    "first_name",
)
_TAG = re.compile(r"\{\{.*?(?:\}\}|$)|\{%.*?(?:%\}|$)")


@dataclass(frozen=True)
class TemplateProblem:
    """What is wrong with ``source`` (``words``) and where: 1-based line and column, and how
    many characters to mark (at least one; the end of a line marks the place after it)."""

    field: str
    source: str
    words: str
    line: int
    column: int
    length: int = 1

    @property
    def line_text(self) -> str:
        return self.source.split("\n")[self.line - 1]

    @property
    def before(self) -> str:
        return self.line_text[: self.column - 1]

    @property
    def marked(self) -> str:
        """The characters marked; a space when the mark is past the line's end."""
        return self.line_text[self.column - 1 : self.column - 1 + self.length] or " "

    @property
    def after(self) -> str:
        return self.line_text[self.column - 1 + self.length :]

    @property
    def caret(self) -> str:
        """A line of spaces and ``^`` under the marked characters (for plain text)."""
        return " " * (self.column - 1) + "^" * max(1, len(self.marked.rstrip()) or 1)

    @property
    def where(self) -> str:
        return f"line {self.line}, column {self.column}"


def explain(
    field: str,
    source: str,
    message: str,
    line: int | None,
    *,
    filters: Iterable[str] = (),
) -> TemplateProblem:
    """The problem Jinja reported as ``message`` (on ``line``), in words and placed."""
    lines = source.split("\n")
    number = min(max(line or 1, 1), len(lines))
    for pattern, handler in _RULES:
        found = pattern.search(message)
        if found is not None:
            words, place = handler(_Clue(found, source, lines, number, sorted(filters)))
            break
    else:
        words, place = _general(message), None
    if place is None:
        place = _whole_tag_or_line(lines, number)
    at_line, column, length = place
    return TemplateProblem(field, source, words, at_line, column, length)


Place = tuple[int, int, int]  # line, column, length
Found = tuple[str, Place | None]  # the words, and the place if the clue gives it


@dataclass(frozen=True)
class _Clue:
    """Jinja's message matched by a rule, and the template it is about."""

    match: re.Match[str]
    source: str
    lines: list[str]
    line: int
    filters: list[str]


Handler = Callable[[_Clue], Found]


def _unclosed(c: _Clue) -> Found:
    block = re.search(r"innermost block that needs to be closed is '(\w+)'", c.match.string)
    if block is not None:
        name = block[1]
        words = f"“{{% {name} %}}” is opened but never closed: end it with “{{% end{name} %}}”."
        return words, _last(c.source, rf"\{{%-?\s*{name}\b")
    words = "a “{{” or “{%” is opened but never closed: end it with “}}” (or “%}”)."
    return words, _last(c.source, r"\{\{|\{%")


def _undefined(c: _Clue) -> Found:
    name = c.match[1]
    hint = did_you_mean(name, TEMPLATE_VALUES)
    words = (
        f"“{name}” is not a value this template can use{hint}; it can use "
        + ", ".join(TEMPLATE_VALUES)
        + "."
    )
    return words, _in_tags(c.lines, c.line, rf"\b{re.escape(name)}\b")


def _no_filter(c: _Clue) -> Found:
    name = c.match[1]
    hint = did_you_mean(name, c.filters)
    words = (
        f"there is no filter called “{name}”{hint}; a filter follows a value after “|”, "
        "as in {{ issue_date|long_date }}."
    )
    return words, _in_tags(c.lines, c.line, rf"\|\s*{re.escape(name)}\b")


def _unknown_tag(c: _Clue) -> Found:
    name = c.match[1]
    words = (
        f"there is no tag called “{name}”: a value is written between “{{{{” and “}}}}”, "
        "as in {{ first_title }}; “{% … %}” holds only if, for and set."
    )
    return words, _in_tags(c.lines, c.line, rf"\{{%-?\s*{re.escape(name)}\b")


def _unexpected(c: _Clue) -> Found:
    char = c.match[1]
    expected = re.search(r"expected '([^']+)'", c.match.string[c.match.end() :])
    words = f"“{char}” does not belong here"
    words += (
        f": Jinja expected “{expected[1]}” first."
        if expected
        else (": a value is written with two braces on each side, as in {{ first_title }}.")
    )
    return words, _in_tags(c.lines, c.line, re.escape(char), inner=True)


def _got(c: _Clue) -> Found:
    expected, got = c.match[1], c.match[2]
    if expected == "end of print statement":
        words = (
            f"“{got}” follows a value with nothing to join them: end the value with “}}}}”, "
            "or join the two with ~ (as in {{ first_title ~ ' · ' ~ newsletter_name }})."
        )
    else:
        words = f"“{got}” does not belong here: Jinja expected {expected}."
    return words, _in_tags(c.lines, c.line, rf"(?<![\w.]){re.escape(got)}(?![\w])", inner=True)


def _bad_char(c: _Clue) -> Found:
    char, offset = c.match[1], int(c.match[2])
    words = (
        f"“{char}” cannot be used inside “{{{{ … }}}}”: only values, filters, text in quotes "
        "and numbers."
    )
    return words, _offset_place(c.source, offset, 1)


def _divide(c: _Clue) -> Found:
    return "it divides by zero.", None


def _security(c: _Clue) -> Found:
    words = (
        "it reaches for something a template may not use: only the listed values and "
        "filters are allowed."
    )
    return words, None


_RULES: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(r"(?i)unexpected end of template"), _unclosed),
    (re.compile(r"'(\w+)' is undefined"), _undefined),
    (re.compile(r"(?i)no filter named '([^']+)'"), _no_filter),
    (re.compile(r"(?i)unknown tag '([^']+)'"), _unknown_tag),
    (re.compile(r"unexpected char '(.)' at (\d+)"), _bad_char),
    (re.compile(r"unexpected '(.+?)'"), _unexpected),
    (re.compile(r"expected token '([^']+)', got '([^']+)'"), _got),
    (re.compile(r"ZeroDivisionError"), _divide),
    (re.compile(r"SecurityError"), _security),
]


def _general(message: str) -> str:
    """Jinja's own message without the exception's class name."""
    text = re.sub(r"^\w+(Error|Exception): ", "", message.strip())
    return text[:1].lower() + text[1:] if text else "the template cannot be read."


def _in_tags(lines: list[str], n: int, pattern: str, *, inner: bool = False) -> Place | None:
    """Where ``pattern`` first occurs inside a ``{{ … }}``/``{% … %}`` on line ``n`` (else
    anywhere on it). ``inner``: skip the tag's own opening braces."""
    text = lines[n - 1]
    regex = re.compile(pattern)
    for tag in _TAG.finditer(text):
        start = tag.start() + (2 if inner else 0)
        found = regex.search(text, start, tag.end())
        if found is not None:
            return n, found.start() + 1, max(1, found.end() - found.start())
    found = regex.search(text)
    if found is not None:
        return n, found.start() + 1, max(1, found.end() - found.start())
    return None


def _last(source: str, pattern: str) -> Place | None:
    """The last occurrence of ``pattern`` in the whole source (an opener never closed)."""
    matches = list(re.finditer(pattern, source))
    if not matches:
        return None
    last = matches[-1]
    return _offset_place(source, last.start(), last.end() - last.start())


def _offset_place(source: str, offset: int, length: int) -> Place:
    offset = min(max(offset, 0), len(source))
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column, max(1, length)


def _whole_tag_or_line(lines: list[str], n: int) -> Place:
    """The line's one tag if it has exactly one, else the whole line."""
    text = lines[n - 1]
    tags = list(_TAG.finditer(text))
    if len(tags) == 1:
        return n, tags[0].start() + 1, max(1, tags[0].end() - tags[0].start())
    return n, 1, max(1, len(text))

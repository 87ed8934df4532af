"""Bounded parsers for what comes from outside: JSON and YAML with limits, and the NUL rule.

Every request body, upload and imported file goes through here, so that one place decides
how deep, how large and how self-referential untrusted input may be:

- JSON is parsed by the stdlib (C speed), then refused if nested deeper than ``max_depth``
  (a ``RecursionError`` of the parser itself is refused the same way), located by line
  and column. Code that walks the result recursively can then never run out of stack.
- YAML is read by a safe loader (libyaml's when installed) after its event stream has been
  checked: anchors and aliases are refused outright (a few hundred bytes of aliases expand
  to billions of nodes for whoever walks the result), nesting stops at ``max_depth`` and
  the text at ``max_chars`` characters. Even so a large file takes seconds: web callers
  run it in the thread pool, never on the event loop.
- NUL (U+0000) is refused in any text with its place: PostgreSQL cannot store it in a
  text column (it answers with an error) while SQLite stores it silently, so both refuse
  it here, before either sees it.

Problems are :class:`MalformedInput`, an :class:`~newsletter.errors.InvalidInput` that
also carries the line (and column) it was found at.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson
import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent

from newsletter.errors import InvalidInput

MAX_DEPTH = 32
MAX_YAML_CHARS = 1_000_000
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


class MalformedInput(InvalidInput):
    """A document (body, file) that cannot be read; ``line``/``column`` say where (1-based)."""

    def __init__(self, field: str, reason: str, *, line: int | None, column: int | None) -> None:
        self.line = line
        self.column = column
        self.bare_reason = reason
        super().__init__(field, f"{reason}{_place(line, column)}")


def _place(line: int | None, column: int | None) -> str:
    if line is None:
        return ""
    return f" (line {line}, column {column})" if column is not None else f" (line {line})"


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# --- JSON -----------------------------------------------------------------------------------


def load_json(
    raw: bytes | str,
    *,
    field: str = "body",
    max_depth: int = MAX_DEPTH,
    parse_float: Callable[[str], Any] | None = None,
    parse_constant: Callable[[str], Any] | None = None,
    finite: bool = False,
) -> Any:
    """``raw`` as JSON; :class:`MalformedInput` if it is not JSON or nests too deeply.
    ``finite``: refuse ``NaN``, ``Infinity`` and numbers too large for a float.

    Without hooks of the caller's own, ``orjson`` parses first (two to three times faster
    than the stdlib: a webhook batch is 350 KB); whatever it refuses or may have read
    differently (an integer beyond 64 bits becomes a float there) is parsed again by the
    stdlib, whose answer, value or error, is the one given."""
    if parse_float is None and parse_constant is None:
        fast = _fast_json(raw, field, max_depth)
        if fast is not _UNSURE:
            return fast
    if finite:
        parse_float = parse_float or _finite_float
        parse_constant = parse_constant or _no_constant
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise MalformedInput(field, "is not UTF-8 text", line=line, column=None) from None
    else:
        text = raw
    try:
        value = json.loads(text, parse_float=parse_float, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        raise MalformedInput(
            field, f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise _too_deep_json(text, field, max_depth) from None
    except ValueError as exc:  # a parse_float / parse_constant hook refused a value
        raise MalformedInput(field, f"invalid JSON: {exc}", line=None, column=None) from None
    if json_depth(value) > max_depth:
        raise _too_deep_json(text, field, max_depth)
    return value


_UNSURE = object()
_WIDE = float(2**63)  # orjson reads integers beyond 64 bits as floats: at least this large


def _fast_json(raw: bytes | str, field: str, max_depth: int) -> Any:
    """``raw`` parsed by orjson, or :data:`_UNSURE` when the stdlib must decide (orjson
    refused it, or a float this large may have been an integer in the text)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _UNSURE
    depth, wide = _shape(value)
    if wide:
        return _UNSURE
    if depth > max_depth:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        raise _too_deep_json(text, field, max_depth)
    return value


def _shape(value: Any) -> tuple[int, bool]:
    """How deep ``value`` nests, and whether it holds a float of magnitude 2**63 or more
    (one pass over a parsed webhook batch: list comprehensions, no generator per node)."""
    deepest = 0
    wide = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is float:
            wide = wide or abs(item) >= _WIDE
            continue
        if kind is not dict and kind is not list:
            continue
        deepest = max(deepest, depth)
        children = item.values() if kind is dict else item
        stack += [(c, depth + 1) for c in children if type(c) in _NOTED]
    return deepest, wide


_NOTED = frozenset({dict, list, float})
_CONTAINERS = frozenset({dict, list})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


def json_depth(value: Any) -> int:
    """How many arrays/objects deep ``value`` nests (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if type(item) is dict else item
        stack += [(c, depth + 1) for c in children if type(c) in _CONTAINERS]
    return deepest


def _too_deep_json(text: str, field: str, max_depth: int) -> MalformedInput:
    """The error for JSON nested deeper than ``max_depth``, at the bracket that goes too far."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        kind = token.group()
        if kind in "[{":
            depth += 1
            if depth > max_depth:
                line, column = _line_and_column(text, token.start())
                return MalformedInput(
                    field,
                    f"nests deeper than {max_depth} levels",
                    line=line,
                    column=column,
                )
        elif kind in "]}":
            depth -= 1
    return MalformedInput(field, f"nests deeper than {max_depth} levels", line=None, column=None)


# --- YAML -----------------------------------------------------------------------------------


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that we refuse; ``problem`` is a whole sentence."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


_BaseLoader: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class BoundedYamlLoader(_BaseLoader):  # type: ignore[misc]
    """A safe loader (libyaml's when installed: it is faster) without implicit
    timestamps: dates stay text, so that an impossible date is reported by whoever validates
    the data (with its line) instead of crashing the parser. Anchors, aliases and depth are
    checked on the event stream before anything is composed (:func:`_check_events`)."""


BoundedYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(
    text: str, *, field: str = "body", max_chars: int = MAX_YAML_CHARS, max_depth: int = MAX_DEPTH
) -> Any:
    """``text`` as YAML data; :class:`MalformedInput` (with its line) if it cannot be."""
    return load_yaml_document(text, field=field, max_chars=max_chars, max_depth=max_depth)[0]


def load_yaml_document(
    text: str, *, field: str = "body", max_chars: int = MAX_YAML_CHARS, max_depth: int = MAX_DEPTH
) -> tuple[Any, yaml.Node | None]:
    """``text``'s data and its node tree (whose marks give each element's line), parsed once."""
    if len(text) > max_chars:
        raise MalformedInput(
            field, f"is longer than {max_chars} characters", line=None, column=None
        )
    try:
        _check_events(text, max_depth)
        loader = BoundedYamlLoader(text)
        try:
            node = loader.get_single_node()
            return (loader.construct_document(node) if node is not None else None), node
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        why = exc.problem or exc.context
        reason = why if isinstance(exc, _Refused) else f"invalid YAML: {why}"
        raise MalformedInput(field, str(reason), line=line, column=column) from None
    except yaml.YAMLError as exc:
        raise MalformedInput(field, f"invalid YAML: {exc}", line=None, column=None) from None


def _check_events(text: str, max_depth: int) -> None:
    """Refuse anchors and aliases (a few hundred bytes of them expand to billions of nodes for
    whoever walks the result) and nesting deeper than ``max_depth``, from the parser's events:
    cheap, and before the (recursive) composer runs."""
    depth = 0
    for event in yaml.parse(text, Loader=BoundedYamlLoader):
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise _Refused("YAML anchors and aliases (& and *) are not allowed", event.start_mark)
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise _Refused(f"nests deeper than {max_depth} levels", event.start_mark)
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


# --- NUL ------------------------------------------------------------------------------------


def nul_problem(value: str) -> str | None:
    """Why ``value`` is refused for holding NUL, saying where (``None``: it holds none)."""
    position = value.find("\x00")
    if position == -1:
        return None
    line, column = _line_and_column(value, position)
    where = f"line {line}, column {column}" if "\n" in value else f"character {column}"
    return f"must not contain the NUL character U+0000 ({where})"


def reject_nul(value: str, field: str) -> None:
    """:class:`InvalidInput` naming ``field`` if ``value`` holds a NUL character."""
    problem = nul_problem(value)
    if problem is not None:
        raise InvalidInput(field, problem)


def reject_nul_in(document: Any, field: str) -> None:
    """:func:`reject_nul` for every key and string of a JSON-like document, at any depth."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            reject_nul(item, field)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def nul_free(value: str) -> str:
    """A pydantic ``AfterValidator``: ``value`` unchanged, or ``ValueError`` if it holds NUL."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character U+0000")
    return value

"""Load the structured brief format (YAML or JSON), keeping line numbers for every error."""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from newsletter.briefs.document import Brief
from newsletter.briefs.validation import Loc, build_brief
from newsletter.errors import BriefFormatError, Problem

StructuredFormat = Literal["yaml", "json"]


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay text so that an impossible date is
    reported by the brief's validation (with its line) instead of crashing the parser."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_structured(text: str, *, source: str, fmt: StructuredFormat) -> Brief:
    """Parse and validate one brief written as YAML or JSON."""
    data = _parse_json(text, source) if fmt == "json" else _parse_yaml(text, source)
    if not isinstance(data, dict):
        raise BriefFormatError.single(source, 1, "the file must hold one brief (a mapping/object)")
    lines, duplicates = _line_map(text)
    if duplicates:
        raise BriefFormatError(
            Problem(source, line, f"key {key!r} appears twice") for key, line in duplicates
        )
    return build_brief(data, source=source, lines=lines)


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BriefFormatError.single(source, exc.lineno, f"invalid JSON: {exc.msg}") from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise BriefFormatError.single(source, line, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise BriefFormatError.single(source, None, f"invalid YAML: {exc}") from None


def _line_map(text: str) -> tuple[dict[Loc, int], list[tuple[str, int]]]:
    """Line of every element by its path, and keys that occur twice in one mapping.

    JSON is (nearly) YAML, so one composer serves both; if it cannot read the text the
    errors simply carry no line.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return {}, []
    lines: dict[Loc, int] = {}
    duplicates: list[tuple[str, int]] = []
    if root is not None:
        _walk(root, (), lines, duplicates)
    return lines, duplicates


def _walk(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], duplicates: list[tuple[str, int]]
) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                duplicates.append((key, key_node.start_mark.line + 1))
            seen.add(key)
            _walk(value_node, (*loc, key), lines, duplicates)
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, duplicates)

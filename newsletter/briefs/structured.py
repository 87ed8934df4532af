"""Load the structured brief format (YAML or JSON), keeping line numbers for every error."""

from __future__ import annotations

from typing import Any, Literal

import yaml

from newsletter.briefs.document import Brief
from newsletter.briefs.validation import Loc, build_brief
from newsletter.errors import BriefFormatError, Problem
from newsletter.untrusted import MalformedInput, load_json, load_yaml_document

StructuredFormat = Literal["yaml", "json"]


def load_structured(text: str, *, source: str, fmt: StructuredFormat) -> Brief:
    """Parse and validate one brief written as YAML or JSON."""
    if fmt == "json":
        data, root = _parse_json(text, source), _json_nodes(text)
    else:
        data, root = _parse_yaml(text, source)
    if not isinstance(data, dict):
        raise BriefFormatError.single(source, 1, "the file must hold one brief (a mapping/object)")
    lines: dict[Loc, int] = {}
    duplicates: list[tuple[str, int]] = []
    if root is not None:
        _walk(root, (), lines, duplicates)
    if duplicates:
        raise BriefFormatError(
            Problem(source, line, f"key {key!r} appears twice") for key, line in duplicates
        )
    return build_brief(data, source=source, lines=lines)


def _parse_json(text: str, source: str) -> Any:
    try:
        return load_json(text, field=source)
    except MalformedInput as exc:
        raise BriefFormatError.single(source, exc.line, exc.bare_reason) from None


def _parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """YAML under the kernel's bounds (anchors and aliases are refused outright in briefs)."""
    try:
        return load_yaml_document(text, field=source)
    except MalformedInput as exc:
        raise BriefFormatError.single(source, exc.line, exc.bare_reason) from None


def _json_nodes(text: str) -> yaml.Node | None:
    """The node tree of a JSON brief, for its lines: JSON is (nearly) YAML, so one composer
    serves both; if it cannot read the text the errors simply carry no line."""
    try:
        return load_yaml_document(text)[1]
    except MalformedInput:
        return None


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

"""docs/brief-format.md stays true: its JSON Schema, its examples and its command list."""

from __future__ import annotations

import json
import re

import pytest

from newsletter.briefs.importer import parse_brief_text
from newsletter.briefs.schema import brief_json_schema
from newsletter.cli.briefs import app as briefs_app
from tests.conftest import ROOT

DOC_PATH = ROOT / "docs" / "brief-format.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
# A complete example is a fenced block right after a marker naming the file it stands for.
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w.-]+) -->\n```\w*\n(?P<body>.*?)^```", re.M | re.S)
EXAMPLES = {m["name"]: m["body"] for m in EXAMPLE.finditer(DOC)}


def section(heading: str) -> str:
    """The text under a level-2 heading, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert match, f"docs/brief-format.md has no '## {heading}' section"
    return match.group(1)


def test_json_schema_block_is_the_models_schema() -> None:
    blocks = re.findall(r"^```json\n(.*?)^```", section("JSON Schema"), re.M | re.S)
    assert len(blocks) == 1, "expected one ```json block under '## JSON Schema'"
    documented = json.loads(blocks[0])
    assert documented == brief_json_schema(), (
        "docs/brief-format.md is stale: paste the output of `newsletter briefs schema` "
        "into its JSON Schema block"
    )


def test_the_doc_has_examples_of_both_formats() -> None:
    assert {name.rsplit(".", 1)[1] for name in EXAMPLES} >= {"txt", "yaml"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_in_the_doc_import_without_warnings(name: str) -> None:
    suffix = "." + name.rsplit(".", 1)[1]
    brief = parse_brief_text(EXAMPLES[name], source=f"{DOC_PATH.name} ({name})", suffix=suffix)
    assert brief.warnings() == []
    kinds = {n.kind for n in brief.narratives}
    assert kinds == {"perspective", "forecast", "establishment"}


def test_every_briefs_command_is_documented() -> None:
    commands = [command.name for command in briefs_app.registered_commands]
    assert commands
    documented = section("Importing and the command line")
    for name in commands:
        assert f"newsletter briefs {name}" in documented, name

"""`newsletter config …`: the effective settings, and their reference documentation."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from pydantic.fields import FieldInfo
from rich.table import Table
from rich.text import Text

from newsletter.cli.common import console
from newsletter.config import Settings, env_names, get_settings, shown

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


def default_of(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return shown(field.default_factory())  # type: ignore[call-arg]
    return shown(field.default)


def reference_markdown() -> str:
    """The table in docs/configuration.md, generated from :class:`Settings` itself."""
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        variables = " or ".join(f"`{v}`" for v in env_names(name, field))
        description = (field.description or "").replace("|", "\\|")
        default = default_of(field).replace("|", "\\|")
        lines.append(f"| {variables} | `{default}` | {description} |")
    return "\n".join(lines) + "\n"


class Format(StrEnum):
    table = "table"
    json = "json"


@app.command("show")
def show_command(
    output: Annotated[
        Format, typer.Option("--format", "-f", help="table (for people) or json.")
    ] = Format.table,
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """The settings in effect (secrets only as set or unset, URLs' passwords as ***)."""
    settings = get_settings()
    values = {name: shown(getattr(settings, name)) for name in Settings.model_fields}
    if as_json or output is Format.json:
        typer.echo(json.dumps(values, indent=2))
        return
    table = Table("setting", "value")
    for name, value in values.items():
        table.add_row(name, Text(value))
    console.print(table)


@app.command("docs")
def docs_command() -> None:
    """Print the Markdown reference of every setting (what docs/configuration.md holds)."""
    typer.echo(reference_markdown(), nl=False)

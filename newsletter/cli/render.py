"""`newsletter render`: compile stored briefs into a variant's HTML, text and MJML files.

For editors and template work: what a segment's readers would get, written to a folder, with
the subject, the size and every warning printed. The options come from a stored segment
(``--segment``, as freezing a campaign applies them), a file (``--options``) or the defaults;
``--narratives`` and ``--topics`` override them. ``--preview`` also writes a copy filled with
made-up recipient values, to open in a browser.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.text import Text

from newsletter.briefs.store import load_briefs
from newsletter.cli.common import console, open_db, split_values
from newsletter.config import get_settings
from newsletter.errors import ConfigurationError
from newsletter.render.compile import compile_variant
from newsletter.render.context import CompileContext
from newsletter.render.options import VariantOptions
from newsletter.render.variant import CompiledVariant
from newsletter.untrusted import MalformedInput, load_yaml
from subscribers.segment_store import get_segment, options_of


class Narratives(StrEnum):
    all = "all"
    facts_only = "facts-only"
    no_forecast = "no-forecast"


def render_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the files into.")],
    more_slugs: Annotated[
        list[str] | None,
        typer.Argument(metavar="SLUG", help="More brief slugs, after those of --briefs."),
    ] = None,
    briefs: Annotated[
        list[str] | None,
        typer.Option(
            "--briefs", "-b", help="Brief slugs in order (repeat, or separate by commas)."
        ),
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option(help="Render this stored segment's variant (its options, its name)."),
    ] = None,
    options_file: Annotated[
        Path | None,
        typer.Option("--options", help="VariantOptions as a YAML or JSON file.", exists=True),
    ] = None,
    narratives: Annotated[
        Narratives | None,
        typer.Option(help="Which narratives to show (overrides --options or the segment's)."),
    ] = None,
    topics: Annotated[
        list[str] | None,
        typer.Option("--topics", help="Only briefs with these topics (overrides them too)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Variant name (file names; default: segment or file).")
    ] = None,
    issue_date: Annotated[
        str | None, typer.Option("--date", help="Issue date, YYYY-MM-DD (default: today).")
    ] = None,
    test_send: Annotated[bool, typer.Option("--test-send", help="Add the test banner.")] = False,
    track: Annotated[
        bool, typer.Option("--track", help="First-party click and open tracking.")
    ] = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="Also write copies filled with sample values.")
    ] = False,
) -> None:
    """Compile briefs into DIR/<variant>.html, .txt and .mjml; print subject, size and warnings."""
    if segment is not None and options_file is not None:
        raise typer.BadParameter("give --segment or --options, not both", param_hint="--segment")
    slugs = split_values(briefs) + list(more_slugs or [])
    if not slugs:
        raise typer.BadParameter("name at least one brief", param_hint="--briefs")
    variant_name = name or _default_name(segment, options_file)
    if not re.fullmatch(r"[\w.-]+", variant_name):
        raise typer.BadParameter("letters, digits, '.', '_' and '-' only", param_hint="--name")
    base: VariantOptions | dict[str, Any]
    with open_db().transaction() as session:
        if segment is not None:
            base, where = options_of(get_segment(session, segment)), f"segment {segment}"
        else:
            base, where = _file_options(options_file), str(options_file or "options")
        chosen = load_briefs(session, slugs)
    options = _options(base, narratives, split_values(topics), where)
    context = CompileContext.from_settings(
        get_settings(),
        _issue_date(issue_date),
        variant=variant_name,
        test_send=test_send,
        track_clicks=track,
        track_opens=track,
    )
    variant = compile_variant(chosen, options, context)
    _write(variant, out, preview=preview)
    _report(variant, out)


def _file_options(path: Path | None) -> dict[str, Any]:
    """The options a YAML or JSON file gives (none without a file), not validated yet."""
    if path is None:
        return {}
    try:
        loaded = load_yaml(path.read_text(encoding="utf-8"), field=str(path))
    except (OSError, UnicodeDecodeError, MalformedInput) as exc:
        raise ConfigurationError(f"{path}: cannot read the options: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"{path}: the options must be a mapping")
    return loaded


def _options(
    base: VariantOptions | dict[str, Any],
    narratives: Narratives | None,
    topics: list[str],
    where: str,
) -> VariantOptions:
    """``base`` with the command line's --narratives and --topics on top, validated."""
    data = base.model_dump(mode="json") if isinstance(base, VariantOptions) else dict(base)
    if narratives is not None:
        data["narratives"] = narratives.value
    if topics:
        data["topics"] = topics
    try:
        return VariantOptions.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "options"
        raise ConfigurationError(f"{where}: {field}: {first['msg']}") from exc


def _default_name(segment: str | None, path: Path | None) -> str:
    """The segment's name made a file name, the options file's stem, or ``default``."""
    if segment is not None:
        return re.sub(r"[^\w.-]+", "-", segment).strip("-.") or "segment"
    return path.stem if path is not None else "default"


def _issue_date(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a YYYY-MM-DD date", param_hint="--date") from exc


def _write(variant: CompiledVariant, out: Path, *, preview: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = {".html": variant.html, ".txt": variant.text, ".mjml": variant.mjml}
    if preview:
        files |= {".preview.html": variant.typical.html, ".preview.txt": variant.typical.text}
    for suffix, content in files.items():
        (out / f"{variant.name}{suffix}").write_text(content, encoding="utf-8")


def _report(variant: CompiledVariant, out: Path) -> None:
    shown = len(variant.brief_slugs)
    online = f", {len(variant.online_slugs)} online only" if variant.online_slugs else ""
    console.print(Text.assemble((variant.name, "bold"), ": ", variant.subject), soft_wrap=True)
    console.print(
        f"  {variant.estimated_size / 1000:.1f} KB HTML once filled "
        f"(budget {(variant.size_budget or 0) / 1000:.0f} KB), {shown} brief(s){online}, "
        f"{len(variant.links)} links → {out / variant.name}.html|.txt|.mjml",
        markup=False,
        soft_wrap=True,
    )
    for warning in variant.warnings:
        console.print(f"  warning: {warning}", markup=False, soft_wrap=True)

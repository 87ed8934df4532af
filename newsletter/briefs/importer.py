"""Import brief files (plain text, YAML, JSON) all-or-nothing: all parse, or none is stored."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from newsletter.briefs.document import Brief
from newsletter.briefs.plaintext import load_plaintext
from newsletter.briefs.store import save_brief
from newsletter.briefs.structured import load_structured
from newsletter.briefs.versions import COMMAND_LINE, Author
from newsletter.db import Database
from newsletter.errors import BriefFormatError, Problem

BRIEF_SUFFIXES = {".txt": "text", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
MAX_BRIEF_BYTES = 1_000_000


@dataclass(frozen=True)
class ImportedBrief:
    path: Path
    brief: Brief
    created: bool


def brief_files(paths: Iterable[Path]) -> list[Path]:
    """The brief files named, with folders expanded (sorted, recursively, by known suffix)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.suffix.lower() in BRIEF_SUFFIXES and p.is_file()
            )
        elif path.is_file():
            found.append(path)
        else:
            raise BriefFormatError.single(str(path), None, "no such file or folder")
    return found


def parse_brief_text(text: str, *, source: str, suffix: str) -> Brief:
    """Parse one brief's text in the format its file suffix names."""
    kind = BRIEF_SUFFIXES.get(suffix.lower())
    if kind is None:
        known = ", ".join(sorted(BRIEF_SUFFIXES))
        raise BriefFormatError.single(source, None, f"unknown brief format (use {known})")
    if kind == "text":
        return load_plaintext(text, source=source)
    return load_structured(text, source=source, fmt="json" if kind == "json" else "yaml")


def read_brief_file(path: Path) -> Brief:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BriefFormatError.single(source, None, f"cannot read: {exc.strerror}") from exc
    return parse_brief_bytes(raw, source=source, suffix=path.suffix)


def parse_brief_bytes(raw: bytes, *, source: str, suffix: str) -> Brief:
    """Parse one brief file's bytes (at most 1 MB of UTF-8) in the format ``suffix`` names."""
    if len(raw) > MAX_BRIEF_BYTES:
        raise BriefFormatError.single(source, None, "larger than 1 MB: is this really a brief?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BriefFormatError.single(source, line, "not valid UTF-8 text") from exc
    return parse_brief_text(text, source=source, suffix=suffix)


def parse_all(paths: Iterable[Path]) -> list[tuple[Path, Brief]]:
    """Parse every file first, collecting every problem of every file into one error."""
    return _parse_each([(path, partial(read_brief_file, path)) for path in brief_files(paths)])


def parse_uploads(uploads: Iterable[tuple[str, bytes]]) -> list[tuple[Path, Brief]]:
    """:func:`parse_all` for files received as (name, bytes), e.g. uploaded in a browser."""
    return _parse_each(
        [
            (Path(name), partial(parse_brief_bytes, raw, source=name, suffix=Path(name).suffix))
            for name, raw in uploads
        ]
    )


def _parse_each(items: Sequence[tuple[Path, Callable[[], Brief]]]) -> list[tuple[Path, Brief]]:
    problems: list[Problem] = []
    parsed: list[tuple[Path, Brief]] = []
    first_source: dict[str, Path] = {}
    for path, parse in items:
        try:
            brief = parse()
        except BriefFormatError as exc:
            problems += exc.problems
            continue
        if brief.slug in first_source:
            problems.append(
                Problem(
                    str(path),
                    None,
                    f"slug {brief.slug!r} is also the slug of {first_source[brief.slug]}",
                )
            )
            continue
        first_source[brief.slug] = path
        parsed.append((path, brief))
    if problems:
        raise BriefFormatError(problems)
    return parsed


def import_briefs(
    database: Database,
    paths: Iterable[Path],
    *,
    mark_ready: bool = False,
    author: Author = COMMAND_LINE,
) -> list[ImportedBrief]:
    """Parse all files, then store them in one transaction; nothing is stored on any error."""
    paths = list(paths)
    parsed = parse_all(paths)
    if not parsed:
        raise BriefFormatError.single(
            ", ".join(str(p) for p in paths) or "(nothing)", None, "no brief files found"
        )
    return store_briefs(database, parsed, mark_ready=mark_ready, author=author)


def store_briefs(
    database: Database,
    parsed: Sequence[tuple[Path, Brief]],
    *,
    mark_ready: bool = False,
    author: Author = COMMAND_LINE,
) -> list[ImportedBrief]:
    """Store parsed briefs in one transaction (new ones added, known slugs updated)."""
    results: list[ImportedBrief] = []
    with database.transaction() as session:
        for path, brief in parsed:
            if mark_ready:
                brief = brief.model_copy(update={"status": "ready"})
                brief.model_fields_set.add("status")
            created = save_brief(
                session, brief, source_name=str(path), author=author, note=f"imported {path.name}"
            )
            results.append(ImportedBrief(path, brief, created))
    return results

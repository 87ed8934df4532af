"""Turn raw parsed data into a :class:`Brief`, reporting every problem as FILE:LINE: why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from newsletter.briefs.document import RESERVED_SLUGS, Brief, RuleError
from newsletter.errors import BriefFormatError, Problem

Loc = tuple[str | int, ...]
LineMap = Mapping[Loc, int]

_SINGULAR = {
    "facts": "fact",
    "sources": "source",
    "narratives": "narrative",
    "paragraphs": "paragraph",
    "topics": "topic",
    "citations": "citation",
}


def line_for(loc: Loc, lines: LineMap) -> int | None:
    """The line of the most specific known element on the path ``loc``."""
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return None


def describe_loc(loc: Loc) -> str:
    """``("facts", 2, "text")`` → ``fact 3 text``: how an editor would name the place."""
    words: list[str] = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            continue
        following = loc[index + 1] if index + 1 < len(loc) else None
        if isinstance(following, int):
            words.append(f"{_SINGULAR.get(part, part)} {following + 1}")
        else:
            words.append(part.replace("_", " "))
    return " ".join(words)


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        return "is not a field of a brief (check the spelling)"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "is empty"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"][0].lower() + error["msg"][1:])


def problems_from(error: ValidationError, source: str, lines: LineMap) -> list[Problem]:
    """One :class:`Problem` per pydantic error, located through ``lines``."""
    problems: list[Problem] = []
    for detail in error.errors():
        loc: Loc = tuple(detail["loc"])
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, RuleError):
            loc = loc + cause.loc
            problems.append(Problem(source, line_for(loc, lines), str(cause)))
            continue
        if loc[-1:] == ("paragraphs",) and detail["type"] == "too_short":
            loc, detail["msg"], detail["type"] = loc[:-1], "has no text", "custom"
        where = describe_loc(loc)
        message = _message(detail)
        problems.append(
            Problem(source, line_for(loc, lines), f"{where} {message}" if where else message)
        )
    return problems


def build_brief(
    data: Mapping[str, Any],
    *,
    source: str,
    lines: LineMap,
    known_problems: Iterable[tuple[Loc, str]] = (),
) -> Brief:
    """Validate ``data`` into a brief or raise one error listing every problem with its line.

    ``known_problems`` are the importer's own findings (e.g. an impossible date it could not
    convert); pydantic's complaints about the same places are dropped as duplicates.
    """
    known_problems = [*known_problems, *_reserved_slug(data)]
    found = [Problem(source, line_for(loc, lines), why) for loc, why in known_problems]
    known_locs = {loc for loc, _ in known_problems}
    try:
        brief = Brief.model_validate(data)
    except ValidationError as exc:
        found += [
            p
            for p, detail in zip(problems_from(exc, source, lines), exc.errors(), strict=True)
            if tuple(detail["loc"]) not in known_locs
        ]
        raise BriefFormatError(_sorted(found)) from None
    if found:
        raise BriefFormatError(_sorted(found))
    return brief


def _reserved_slug(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    slug = data.get("slug")
    if isinstance(slug, str) and slug in RESERVED_SLUGS:
        return [(("slug",), f"slug {slug!r} is reserved (an editor page has that name)")]
    return []


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))

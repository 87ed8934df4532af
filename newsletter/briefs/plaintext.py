"""Parse the newsroom's plain-text brief format (see ``docs/brief-format.md``).

The format is what the newsroom's pages look like when copied as text: a title (often
repeated), a header of ``Key: value`` lines, bullet facts ending in citation markers ``[1]``,
then sections headed "… narrative", "Establishment split" and "Sources". Page chrome such as
"Sign up to our newsletter!" is recognised and dropped.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from newsletter.briefs.document import CITATION_MARKER, Brief, slugify
from newsletter.briefs.validation import Loc, build_brief

_BULLET = re.compile(r"^(?:[•\-*–·▪●]|\d{1,3}[.)])\s+(?P<text>.*)$")
_NARRATIVE_HEADING = re.compile(r"^(?P<label>[^.!?:;]{0,80}\bnarrative)\s*:?$", re.IGNORECASE)
_ESTABLISHMENT_HEADING = re.compile(r"^establishment split\s*:?$", re.IGNORECASE)
_SOURCES_HEADING = re.compile(r"^(?:sources|references)\s*:?$", re.IGNORECASE)
_SOURCE_LINE = re.compile(r"^\[(?P<number>\d{1,3})\]\s*(?P<rest>.*)$")
_URL_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_HEADER = re.compile(
    r"^(?:(?P<updated>last updated)\s*:?|(?P<key>updated|image credit|image alt|image|topics"
    r"|slug|status)\s*:)\s*(?P<value>.*)$",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"^(?:more .{0,60} articles|sign up (?:to|for) our newsletter!?|share this (?:brief|story))$",
    re.IGNORECASE,
)
# The forecast sentence opens the paragraph; whatever follows its full stop is commentary.
_FORECAST = re.compile(
    r"^there(?:'s|’s| is) an? (?P<pct>-?\d+(?:\.\d+)?)\s?(?:%|per\s?cent) "
    r"(?:chance|probability|likelihood)(?: that| of)? (?P<question>.+?),? "
    r"according to (?P<who>(?:(?!\.\s).)+?)"
    r"(?:\s*\((?:as of|as at) (?P<as_of>[^)]+)\))?\s*(?:\.\s.*)?\.?$",
    re.IGNORECASE,
)
_LINK_LINE = re.compile(r"^link\s*:\s*(?P<url>\S+)$", re.IGNORECASE)
_FORECAST_LABEL = re.compile(r"\b(?:nerd|forecast|prediction)", re.IGNORECASE)
_CROWD = r"(?:super)?forecasters|traders|bettors|users"
_FORECASTER_NOISE = re.compile(
    rf"^the\s+|^(?:{_CROWD})\s+(?:on|at|of)\s+(?:the\s+)?"
    rf"|\s+(?:(?:prediction|forecasting)\s+)?(?:community|{_CROWD})$"
    r"|\s+prediction\s+(?:market|platform)$",
    re.IGNORECASE,
)
_DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%Y-%m-%d", "%b. %d, %Y")


@dataclass
class _Section:
    label: str
    line: int
    establishment: bool
    paragraphs: list[list[str]] = field(default_factory=list)
    paragraph_lines: list[int] = field(default_factory=list)
    link: tuple[str, int] | None = None  # a forecast's "Link: URL" line, and its number

    def add_text(self, text: str, line: int, *, new_paragraph: bool) -> None:
        if new_paragraph or not self.paragraphs:
            self.paragraphs.append([text])
            self.paragraph_lines.append(line)
        else:
            self.paragraphs[-1].append(text)


@dataclass
class _Parse:
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[Loc, int] = field(default_factory=dict)
    problems: list[tuple[Loc, str]] = field(default_factory=list)
    facts: list[tuple[list[str], int]] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, loc: Loc, line: int, message: str) -> None:
        self.lines.setdefault(loc, line)
        self.problems.append((loc, message))


def parse_date(text: str) -> date | None:
    """Dates as newsrooms write them ("Mar 24, 2023", "24 March 2023", "2023-03-24")."""
    cleaned = " ".join(text.replace(",", ", ").split()).replace(" ,", ",")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def load_plaintext(text: str, *, source: str) -> Brief:
    """Parse one plain-text brief; raises :class:`BriefFormatError` listing every problem."""
    parse = _Parse(source)
    parse.lines[()] = 1
    _read(parse, text)
    _assemble(parse)
    return build_brief(parse.data, source=source, lines=parse.lines, known_problems=parse.problems)


def _read(parse: _Parse, text: str) -> None:
    mode = "header"  # header → facts → section | sources
    section: _Section | None = None
    blank_before = False
    establishment = False
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = unicodedata.normalize("NFC", raw).strip()
        if not line:
            blank_before = True
            continue
        if _BOILERPLATE.match(line):
            # Page chrome above the facts (share buttons under the title) is simply dropped;
            # below them it ends the brief, so footer text is not glued onto a narrative.
            if mode != "header":
                mode, section, blank_before = "closed", None, True
            continue
        bullet = _BULLET.match(line)
        if mode == "header" and "title" in parse.data and bullet:
            mode = "facts"
        if mode == "header":
            _read_header(parse, line, number)
        elif mode == "facts" and bullet:
            parse.facts.append(([bullet["text"]], number))
        elif _ESTABLISHMENT_HEADING.match(line):
            mode, section, establishment = "establishment", None, True
            parse.lines.setdefault(("establishment",), number)
        elif _SOURCES_HEADING.match(line):
            mode, section = "sources", None
            parse.lines[("sources",)] = number
        elif (heading := _narrative_heading(line)) and (blank_before or mode != "section"):
            section = _Section(heading, number, establishment)
            parse.sections.append(section)
            mode = "section"
        elif mode == "facts" and not blank_before and parse.facts:
            parse.facts[-1][0].append(line)
        elif mode == "section" and section is not None and (link := _LINK_LINE.match(line)):
            section.link = (link["url"], number)
        elif mode == "section" and section is not None:
            section.add_text(line, number, new_paragraph=blank_before)
        elif mode == "sources":
            _read_source(parse, line, number)
        else:
            where = {
                "establishment": "under 'Establishment split' outside a '… narrative' section",
                "closed": "after the end of the brief",
            }.get(mode, "outside any section")
            parse.problem(
                ("text", number),
                number,
                f"unexpected text {where}: {_shorten(line)!r} (sections start with a heading "
                "such as 'Pro-Russia narrative', 'Establishment split' or 'Sources')",
            )
        blank_before = False


def _narrative_heading(line: str) -> str | None:
    """The label when ``line`` is a short "… narrative" heading."""
    match = _NARRATIVE_HEADING.match(line)
    if match is None or len(match["label"].split()) > 6:
        return None
    return match["label"].strip()


def _read_header(parse: _Parse, line: str, number: int) -> None:
    if "title" not in parse.data:
        if re.match(r"^(?:last updated|updated:|image credit:)", line, re.IGNORECASE):
            parse.problem(
                ("title",), number, f"the first line must be the title, not {_shorten(line)!r}"
            )
        parse.data["title"] = line
        parse.lines[("title",)] = number
        return
    if line == parse.data["title"]:
        return
    header = _HEADER.match(line)
    if header is None:
        parse.problem(
            ("header", number),
            number,
            f"unexpected line before the first fact: {_shorten(line)!r} "
            "(expected 'Last updated …', 'Image credit: …', 'Topics: …' or a '•' fact)",
        )
        return
    key = (header["key"] or header["updated"]).lower()
    value = header["value"].strip()
    if key in ("last updated", "updated"):
        parse.lines[("updated",)] = number
        updated = parse_date(value)
        if updated is None:
            parse.problem(
                ("updated",),
                number,
                f"impossible or unreadable date {value!r} "
                "(write e.g. 'Mar 24, 2023' or 2023-03-24)",
            )
        else:
            parse.data["updated"] = updated
    elif key == "image credit":
        credit = value.strip().removeprefix("[").removesuffix("]").strip()
        if credit:
            parse.data["image_credit"] = credit
            parse.lines[("image_credit",)] = number
    elif key == "topics":
        parse.data["topics"] = [t.strip() for t in value.split(",") if t.strip()]
        parse.lines[("topics",)] = number
    else:
        field_name = {"image": "image_url", "image alt": "image_alt"}.get(key, key)
        parse.data[field_name] = value
        parse.lines[(field_name,)] = number


def _read_source(parse: _Parse, line: str, number: int) -> None:
    match = _SOURCE_LINE.match(line)
    if match is None:
        parse.problem(
            ("sources", len(parse.sources)),
            number,
            f"a line of the Sources section must look like '[1] Label: https://…', "
            f"not {_shorten(line)!r}",
        )
        return
    rest = match["rest"].strip()
    label, url = rest, None
    tokens = rest.rsplit(None, 1)
    if tokens and _URL_TOKEN.match(tokens[-1]) and not tokens[-1].endswith(":"):
        url = tokens[-1]
        label = tokens[0].rstrip(" :–-") if len(tokens) == 2 else ""
    entry: dict[str, Any] = {"number": int(match["number"])}
    if label:
        entry["label"] = label
    if url:
        entry["url"] = url
    parse.lines[("sources", len(parse.sources))] = number
    parse.sources.append(entry)


def _assemble(parse: _Parse) -> None:
    facts: list[dict[str, Any]] = []
    for index, (parts, number) in enumerate(parse.facts):
        text = " ".join(parts)
        citations = [int(n) for n in CITATION_MARKER.findall(text)]
        cleaned = CITATION_MARKER.sub("", text)
        cleaned = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(cleaned.split()))
        facts.append({"text": cleaned, "citations": citations})
        parse.lines[("facts", index)] = number
    parse.data["facts"] = facts
    if facts:
        parse.lines.setdefault(("facts",), parse.lines[("facts", 0)])
    elif "title" in parse.data:
        parse.lines[("facts",)] = parse.lines[("title",)]
    if parse.sources:
        parse.data["sources"] = parse.sources
    parse.data["narratives"] = [
        _narrative(parse, index, section) for index, section in enumerate(parse.sections)
    ]
    if "slug" not in parse.data:
        parse.data["slug"] = _default_slug(str(parse.data.get("title", "")), parse.source)
    parse.lines.setdefault(("slug",), parse.lines.get(("title",), 1))


def _narrative(parse: _Parse, index: int, section: _Section) -> dict[str, Any]:
    loc: Loc = ("narratives", index)
    parse.lines[loc] = section.line
    for p_index, p_line in enumerate(section.paragraph_lines):
        parse.lines[(*loc, "paragraphs", p_index)] = p_line
    paragraphs = [" ".join(parts) for parts in section.paragraphs]
    narrative: dict[str, Any] = {
        "kind": "establishment" if section.establishment else "perspective",
        "label": section.label,
        "paragraphs": paragraphs,
    }
    if section.link:
        narrative["url"] = section.link[0]
        parse.lines[(*loc, "url")] = section.link[1]
    if section.establishment or not paragraphs:
        return narrative
    forecast = _FORECAST.match(paragraphs[0])
    if forecast is None:
        if _FORECAST_LABEL.search(section.label):
            parse.problem(
                (*loc, "probability"),
                section.line,
                f"the {section.label!r} needs a forecast sentence such as "
                "'There is a 10% chance that …, according to Metaculus.'",
            )
        return narrative
    narrative.update(_forecast_fields(parse, loc, forecast, section.line))
    return narrative


def _forecast_fields(parse: _Parse, loc: Loc, match: re.Match[str], line: int) -> dict[str, Any]:
    percent = float(match["pct"])
    fields: dict[str, Any] = {
        "kind": "forecast",
        "question": match["question"].strip(),
        "forecaster": _FORECASTER_NOISE.sub("", match["who"].strip()).strip(),
    }
    fields["probability"] = round(percent / 100, 6)
    if not 0 <= percent <= 100:
        parse.problem((*loc, "probability"), line, f"probability {match['pct']}% is outside 0–100%")
    if match["as_of"]:
        as_of = parse_date(match["as_of"])
        if as_of is None:
            parse.problem(
                (*loc, "as_of"), line, f"impossible or unreadable date {match['as_of']!r}"
            )
        fields["as_of"] = as_of
    return {k: v for k, v in fields.items() if v is not None}


def _default_slug(title: str, source: str) -> str:
    return (
        slugify(title)
        or slugify(PurePath(source).stem)
        or "brief-" + hashlib.sha1(title.encode(), usedforsecurity=False).hexdigest()[:10]
    )


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

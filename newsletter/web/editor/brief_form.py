"""The brief edit form: a brief's fields as form values and back, validated by the importer.

The form holds what was typed, as text (:class:`BriefForm`); :func:`document_from_form`
turns it into the structured format's mapping (``docs/brief-format.md``) and
:func:`validate_form` runs that through :func:`newsletter.briefs.validation.build_brief`,
the importer's own validation, so a form accepts exactly what a YAML file would. Its located
problems come back keyed by form field: every place in the document is given a number that
stands in for a file's line, and each problem's number leads back to its field.

Field names: ``title``, ``updated``, ``topics`` …; rows as ``facts-2-text``,
``sources-0-url``, ``narratives-1-probability`` (0-based like the document; pages number
them from 1, as problems do). A row left wholly blank, or with its ``…-remove`` box
ticked, is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from newsletter.briefs.document import Brief, slugify
from newsletter.briefs.validation import Loc, build_brief
from newsletter.errors import BriefFormatError

RowKind = Literal["facts", "sources", "narratives"]
ROW_KINDS: tuple[RowKind, ...] = ("facts", "sources", "narratives")
MAX_ROWS = 200  # more than a brief may hold of any kind, so the importer names the excess
FORM_SOURCE = "form"
_ROW_FIELD = re.compile(r"^(facts|sources|narratives)-(\d{1,3})-([a-z_]+)$")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_LIST_SEPARATOR = re.compile(r"[,\s]+")
_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() also accepts "²"


@dataclass
class FactFields:
    text: str = ""
    citations: str = ""


@dataclass
class SourceFields:
    number: str = ""
    label: str = ""
    url: str = ""


@dataclass
class NarrativeFields:
    kind: str = "perspective"
    label: str = ""
    paragraphs: str = ""
    probability: str = ""
    forecaster: str = ""
    question: str = ""
    as_of: str = ""
    url: str = ""


Row = FactFields | SourceFields | NarrativeFields
_ROW_TYPES: dict[str, type[Row]] = {
    "facts": FactFields,
    "sources": SourceFields,
    "narratives": NarrativeFields,
}


@dataclass
class BriefForm:
    """What the form shows and posts: every value as typed."""

    slug: str = ""
    title: str = ""
    updated: str = ""
    image_url: str = ""
    image_alt: str = ""
    image_credit: str = ""
    topics: str = ""
    facts: list[FactFields] = field(default_factory=list)
    sources: list[SourceFields] = field(default_factory=list)
    narratives: list[NarrativeFields] = field(default_factory=list)

    def rows(self, kind: RowKind) -> list[Row]:
        return list(getattr(self, kind))

    def with_blank_row(self, kind: RowKind) -> BriefForm:
        """The form with one more empty row of ``kind`` (the "add a fact" button)."""
        blank: Row = _ROW_TYPES[kind]()
        if isinstance(blank, SourceFields):
            numbers = [form_number(s.number.strip()) or 0 for s in self.sources]
            blank.number = str(max(numbers, default=0) + 1)
        rows: dict[str, Any] = {kind: [*getattr(self, kind), blank]}
        return replace(self, **rows)

    def for_editing(self) -> BriefForm:
        """The form as a page shows it: at least one row of facts to type into."""
        return self if self.facts else self.with_blank_row("facts")


_SCALARS = ("slug", "title", "updated", "image_url", "image_alt", "image_credit", "topics")


def form_from_brief(brief: Brief) -> BriefForm:
    """The form showing a stored brief."""
    return BriefForm(
        slug=brief.slug,
        title=brief.title,
        updated=brief.updated.isoformat(),
        image_url=brief.image_url or "",
        image_alt=brief.image_alt or "",
        image_credit=brief.image_credit or "",
        topics=", ".join(brief.topics),
        facts=[FactFields(f.text, ", ".join(str(n) for n in f.citations)) for f in brief.facts],
        sources=[SourceFields(str(s.number), s.label or "", s.url or "") for s in brief.sources],
        narratives=[
            NarrativeFields(
                kind=n.kind,
                label=n.label,
                paragraphs="\n\n".join(n.paragraphs),
                probability="" if n.probability is None else str(n.probability),
                forecaster=n.forecaster or "",
                question=n.question or "",
                as_of=n.as_of.isoformat() if n.as_of else "",
                url=n.url or "",
            )
            for n in brief.narratives
        ],
    )


def form_from_post(values: Mapping[str, str]) -> BriefForm:
    """The form as posted (``values``: field name → text, files already left out).

    Rows come in the order of their numbers; blank rows and rows marked for removal are
    dropped. Unknown field names are ignored (a page may post buttons and tokens).
    """
    scalars: dict[str, Any] = {name: values.get(name, "") for name in _SCALARS}
    form = BriefForm(**scalars)
    posted: dict[RowKind, dict[int, dict[str, str]]] = {kind: {} for kind in ROW_KINDS}
    for name, value in values.items():
        match = _ROW_FIELD.match(name)
        if match is None or int(match[2]) >= MAX_ROWS:
            continue
        kind: RowKind = match[1]  # type: ignore[assignment]  # the pattern allows only these
        posted[kind].setdefault(int(match[2]), {})[match[3]] = value
    for kind in ROW_KINDS:
        rows: list[Any] = []
        row_type = _ROW_TYPES[kind]
        names = {f.name for f in fields(row_type)}
        for index in sorted(posted[kind]):
            typed = posted[kind][index]
            if typed.get("remove"):
                continue
            row = row_type(**{k: v for k, v in typed.items() if k in names})
            if not _blank(row):
                rows.append(row)
        setattr(form, kind, rows)
    return form


def _blank(row: Row) -> bool:
    if isinstance(row, SourceFields):  # a new source row comes with its number filled in
        return not (row.label.strip() or row.url.strip())
    defaults = {"kind": "perspective"}
    return all(
        not str(getattr(row, f.name)).strip() or getattr(row, f.name) == defaults.get(f.name)
        for f in fields(row)
    )


def _optional(value: str) -> str | None:
    value = value.strip()
    return value or None


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _split_list(value: str) -> list[str]:
    return [part for part in _LIST_SEPARATOR.split(value.strip()) if part]


def paragraphs_of(text: str) -> list[str]:
    """A text box's paragraphs: separated by a blank line."""
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n")) if p.strip()]


def document_from_form(form: BriefForm, *, slug: str) -> dict[str, Any]:
    """The structured-format mapping the form stands for (values still as typed text where
    the format has numbers and dates: the importer's validation converts or refuses them)."""
    topics = [t.strip() for t in form.topics.split(",") if t.strip()]
    return _present(
        {
            "slug": slug,
            "title": form.title,
            "updated": form.updated.strip(),
            "image_url": _optional(form.image_url),
            "image_credit": _optional(form.image_credit),
            "image_alt": _optional(form.image_alt),
            "topics": topics,
            "facts": [{"text": f.text, "citations": _split_list(f.citations)} for f in form.facts],
            "sources": [
                _present(
                    {
                        "number": s.number.strip(),
                        "label": _optional(s.label),
                        "url": _optional(s.url),
                    }
                )
                for s in form.sources
            ],
            "narratives": [_narrative(n) for n in form.narratives],
        }
    )


def _narrative(n: NarrativeFields) -> dict[str, Any]:
    return _present(
        {
            "kind": n.kind,
            "label": n.label,
            "paragraphs": paragraphs_of(n.paragraphs),
            "probability": _optional(n.probability),
            "forecaster": _optional(n.forecaster),
            "question": _optional(n.question),
            "as_of": _optional(n.as_of),
            "url": _optional(n.url),
        }
    )


def form_number(value: str) -> int | None:
    """A posted whole number (at most nine ASCII digits), or None for anything else."""
    return int(value) if _NUMBER.fullmatch(value) else None


def slug_for(form: BriefForm) -> str:
    """A new brief's slug: as typed, or made from the title."""
    return form.slug.strip() or slugify(form.title)


FieldErrors = dict[str, list[str]]


def field_name(loc: Loc) -> str:
    """The form field (or row, or list) a place in the document is shown at."""
    return "-".join(str(part) for part in loc)


def _places(document: Mapping[str, Any]) -> list[Loc]:
    """Every place a problem can be shown at: the form, each field, each row and its fields."""
    places: list[Loc] = [(), *((name,) for name in (*_SCALARS, *ROW_KINDS))]
    for kind in ROW_KINDS:
        row_fields = [f.name for f in fields(_ROW_TYPES[kind])]
        for index in range(len(document.get(kind, []))):
            places.append((kind, index))
            places += [(kind, index, name) for name in row_fields]
    return places


def validate_form(form: BriefForm, *, slug: str) -> Brief | FieldErrors:
    """The brief the form holds, or its problems by field name (``""``: the whole form)."""
    document = document_from_form(form, slug=slug)
    places = _places(document)
    lines = {loc: number for number, loc in enumerate(places, start=1)}
    try:
        return build_brief(document, source=FORM_SOURCE, lines=lines)
    except BriefFormatError as exc:
        errors: FieldErrors = {}
        for problem in exc.problems:
            loc = places[problem.line - 1] if problem.line else ()
            errors.setdefault(field_name(loc), []).append(problem.message)
        return errors

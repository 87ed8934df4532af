"""The canonical brief: one pydantic model that every importer produces and every exporter writes.

It is the structured (YAML/JSON) format itself, the contract the renderer reads, and the source
of the JSON Schema in ``docs/brief-format.md``. Validation here is the single place where a
brief's rules live; importers only add *where* a problem is.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from newsletter.untrusted import nul_free

NarrativeKind = Literal["perspective", "forecast", "establishment"]
BriefStatus = Literal["draft", "ready"]

CITATION_MARKER = re.compile(r"\[(\d{1,3})\]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$"


def _clean_line(value: str) -> str:
    """Normalise one line of user text: NFC, no control characters, no line breaks."""
    value = unicodedata.normalize("NFC", value).strip()
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    if _CONTROL.search(value):
        raise ValueError("contains a control character")
    return value


def _clean_paragraph(value: str) -> str:
    """A paragraph: NFC, inner whitespace runs (including line breaks) folded to one space."""
    value = unicodedata.normalize("NFC", value)
    value = " ".join(value.split())
    if _CONTROL.search(value):
        raise ValueError("contains a control character")
    return value


def _http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http(s) URL, not {value!r}")
    if not parts.netloc or any(c.isspace() for c in value):
        raise ValueError(f"is not a valid URL: {value!r}")
    return value


def _no_citation_markers(value: str) -> str:
    if CITATION_MARKER.search(value):
        raise ValueError("holds a citation marker like [1]: put the numbers in 'citations'")
    return value


Line = Annotated[str, AfterValidator(_clean_line)]
RequiredLine = Annotated[
    str, AfterValidator(_clean_line), StringConstraints(min_length=1, max_length=300)
]
Paragraph = Annotated[
    str, AfterValidator(_clean_paragraph), StringConstraints(min_length=1, max_length=10_000)
]
HttpUrl = Annotated[
    str,
    StringConstraints(max_length=2_000),
    AfterValidator(nul_free),
    AfterValidator(_http_url),
    Field(json_schema_extra={"format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://\\S+$"}),
]
Topic = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[\w][\w -]{0,59}$"),
]
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
# Words the editor uses as pages beside its briefs (``/editor/briefs/new`` …): a brief with
# one of them as its slug could not be opened there, so importers refuse them.
RESERVED_SLUGS = frozenset({"new", "preview", "upload"})


class RuleError(ValueError):
    """A brief-wide rule broken at a known place inside the brief (``loc`` as pydantic gives it).

    Pydantic keeps the raised exception in the error's context, so importers can turn
    ``loc`` into a file line even for rules that span several fields.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Source(_Strict):
    """A numbered source a fact can cite; label and URL are both optional."""

    number: int = Field(ge=1, le=999)
    label: Annotated[Line, StringConstraints(min_length=1, max_length=300)] | None = None
    url: HttpUrl | None = None


class Fact(_Strict):
    """One fact bullet; its citation markers live in ``citations``, not in the text."""

    text: Annotated[Paragraph, AfterValidator(_no_citation_markers)]
    citations: list[Annotated[int, Field(ge=1, le=999)]] = Field(default_factory=list)


class Narrative(_Strict):
    """One competing account of the story.

    ``perspective``: a side's framing; ``forecast``: a prediction-market figure with its
    probability (and optionally ``url``, the question or market it comes from);
    ``establishment``: one side of the establishment split.
    """

    kind: NarrativeKind = "perspective"
    label: Annotated[RequiredLine, StringConstraints(max_length=120)]
    paragraphs: list[Paragraph] = Field(min_length=1)
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    forecaster: Annotated[Line, StringConstraints(min_length=1, max_length=120)] | None = None
    question: Annotated[Paragraph, StringConstraints(max_length=1_000)] | None = None
    as_of: date | None = None
    url: HttpUrl | None = None

    @model_validator(mode="after")
    def _forecast_fields(self) -> Self:
        forecast_only = {
            "probability": self.probability,
            "forecaster": self.forecaster,
            "question": self.question,
            "as_of": self.as_of,
            "url": self.url,
        }
        if self.kind == "forecast":
            if self.probability is None:
                raise ValueError("a forecast narrative needs a probability between 0 and 1")
        else:
            extra = [name for name, value in forecast_only.items() if value is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)} only belong to a forecast narrative")
        return self


class Brief(_Strict):
    """A news brief: facts with numbered citations, sources, and competing narratives."""

    slug: Slug
    title: RequiredLine
    updated: date
    image_url: HttpUrl | None = None
    image_credit: Annotated[Line, StringConstraints(min_length=1, max_length=300)] | None = None
    image_alt: Annotated[Line, StringConstraints(min_length=1, max_length=300)] | None = None
    topics: list[Topic] = Field(default_factory=list, max_length=20)
    status: BriefStatus = "draft"
    facts: list[Fact] = Field(min_length=1, max_length=100)
    sources: list[Source] = Field(default_factory=list, max_length=200)
    narratives: list[Narrative] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        numbers = [source.number for source in self.sources]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            index = len(numbers) - 1 - numbers[::-1].index(duplicates[0])
            raise RuleError(
                ("sources", index), f"source number {duplicates[0]} is listed more than once"
            )
        if self.sources:
            listed = set(numbers)
            for index, fact in enumerate(self.facts):
                missing = [n for n in fact.citations if n not in listed]
                if missing:
                    raise RuleError(
                        ("facts", index),
                        f"fact {index + 1} cites [{missing[0]}] "
                        f"but the sources list has no [{missing[0]}]",
                    )
        seen: set[str] = set()
        for index, narrative in enumerate(self.narratives):
            key = narrative.label.casefold()
            if key in seen:
                raise RuleError(
                    ("narratives", index),
                    f"narrative label {narrative.label!r} is used more than once",
                )
            seen.add(key)
        if len(set(self.topics)) != len(self.topics):
            raise RuleError(("topics",), "a topic is listed more than once")
        return self

    @property
    def cited_numbers(self) -> list[int]:
        """Every cited source number, in order of first citation."""
        return list(dict.fromkeys(n for fact in self.facts for n in fact.citations))

    @property
    def unsourced_citations(self) -> list[int]:
        """Cited numbers that no source carries (a brief copied without its Sources):
        readers would see [1]–[6] pointing nowhere."""
        listed = {source.number for source in self.sources}
        return sorted(n for n in self.cited_numbers if n not in listed)

    def narratives_of(self, kind: NarrativeKind) -> list[Narrative]:
        return [n for n in self.narratives if n.kind == kind]

    def source(self, number: int) -> Source | None:
        return next((s for s in self.sources if s.number == number), None)

    def warnings(self) -> list[str]:
        """Things an editor should look at that do not stop the brief from being used."""
        found: list[str] = []
        cited = set(self.cited_numbers)
        uncited = [s.number for s in self.sources if s.number not in cited]
        if uncited:
            found.append("sources never cited: " + ", ".join(f"[{n}]" for n in uncited))
        if self.unsourced_citations:
            found.append(
                "cited numbers without a source: "
                + ", ".join(f"[{n}]" for n in self.unsourced_citations)
            )
        unlinked = [s.number for s in self.sources if s.url is None]
        if self.sources and unlinked:
            found.append("sources without a URL: " + ", ".join(f"[{n}]" for n in unlinked))
        if self.image_url and not self.image_credit:
            found.append("the image has no credit")
        if not self.topics:
            found.append("no topics: segments that choose briefs by topic will skip it")
        return found


def slugify(text: str, *, max_length: int = 80) -> str:
    """A URL-safe slug from a title; empty when the title has no Latin letters or digits."""
    without_apostrophes = re.sub(r"(?<=\w)['’](?=\w)", "", text)  # "Ukraine's" → "ukraines"
    ascii_text = (
        unicodedata.normalize("NFKD", without_apostrophes).encode("ascii", "ignore").decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")

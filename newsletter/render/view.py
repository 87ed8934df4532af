"""The view model both email parts are rendered from: briefs as the reader will see them.

Built once per variant from :class:`Brief` objects. Every link goes through the variant's
:class:`LinkTable` here, so templates only print ``href`` values they are given; text stays
plain (the HTML environment escapes it, the text environment prints it as is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from markupsafe import Markup

from newsletter.briefs.document import CITATION_MARKER, Brief, Narrative, Source
from newsletter.render.links import LinkSection, LinkTable, http_url
from newsletter.render.options import NarrativeDisplay
from newsletter.render.recipient import VIEW_ONLINE_URL
from newsletter.render.selection import shown_narratives

Href = str | Markup


@dataclass(frozen=True, slots=True)
class Citation:
    """A citation number; ``href`` is ``None`` when its source has no URL."""

    number: int
    href: Href | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of a paragraph: text, or the citation markers found there (``[1][2]``)."""

    text: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True, slots=True)
class FactView:
    text: str
    citations: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class SourceView:
    """A numbered source: ``label`` for people, ``url`` for the text part, ``href`` for HTML."""

    number: int
    label: str | None
    url: str | None
    href: Href | None


@dataclass(frozen=True, slots=True)
class NarrativeView:
    """A narrative; forecasts also carry their probability as text and as a bar width."""

    kind: str
    label: str
    paragraphs: tuple[str, ...]
    runs: tuple[tuple[Run, ...], ...]
    percent: str | None = None
    bar: int | None = None
    forecaster: str | None = None
    question: str | None = None
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class TocEntry:
    number: int
    title: str
    href: Href
    url: Href


@dataclass(frozen=True, slots=True)
class BriefView:
    """One brief in full; perspectives and establishment sides in rows of at most two cards."""

    number: int
    slug: str
    anchor: str
    title: str
    updated: date
    image_src: str | None
    image_alt: str
    image_credit: str | None
    facts: tuple[FactView, ...]
    sources: tuple[SourceView, ...]
    narratives: tuple[NarrativeView, ...]
    perspectives: tuple[tuple[NarrativeView, ...], ...]
    forecasts: tuple[NarrativeView, ...]
    establishment: tuple[tuple[NarrativeView, ...], ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """The briefs shown in full, the table of contents, and those listed only as links."""

    briefs: tuple[BriefView, ...]
    toc: tuple[TocEntry, ...]
    more_online: tuple[TocEntry, ...]


def anchor(slug: str) -> str:
    return f"brief-{slug}"


def build_digest(
    briefs: Sequence[Brief], display: NarrativeDisplay, links: LinkTable, *, in_full: int
) -> DigestView:
    """The first ``in_full`` briefs in full, the rest as linked titles to the web version."""
    full = [
        _brief(number, brief, display, links)
        for number, brief in enumerate(briefs[:in_full], start=1)
    ]
    toc = tuple(
        TocEntry(b.number, b.title, links.own(f"#{b.anchor}", "toc", b.slug), f"#{b.anchor}")
        for b in full
    )
    more = []
    for number, brief in enumerate(briefs[in_full:], start=in_full + 1):
        url = links.own(f"{VIEW_ONLINE_URL}#{anchor(brief.slug)}", "more-online", brief.slug)
        more.append(TocEntry(number, brief.title, url, url))
    return DigestView(tuple(full), toc, tuple(more))


def _brief(number: int, brief: Brief, display: NarrativeDisplay, links: LinkTable) -> BriefView:
    sources = {s.number: _source(s, brief.slug, links) for s in brief.sources}
    facts = tuple(
        FactView(
            fact.text,
            tuple(_citation(n, brief, "fact-citation", links) for n in fact.citations),
        )
        for fact in brief.facts
    )
    narratives = tuple(_narrative(n, brief, links) for n in shown_narratives(brief, display))
    return BriefView(
        number=number,
        slug=brief.slug,
        anchor=anchor(brief.slug),
        title=brief.title,
        updated=brief.updated,
        image_src=http_url(brief.image_url),
        image_alt=brief.image_alt or brief.title,
        image_credit=brief.image_credit if http_url(brief.image_url) else None,
        facts=facts,
        sources=tuple(sources.values()),
        narratives=narratives,
        perspectives=_rows([n for n in narratives if n.kind == "perspective"]),
        forecasts=tuple(n for n in narratives if n.kind == "forecast"),
        establishment=_rows([n for n in narratives if n.kind == "establishment"]),
    )


def _rows(cards: list[NarrativeView]) -> tuple[tuple[NarrativeView, ...], ...]:
    """Cards two by two: side by side on a desktop, stacked on a phone."""
    return tuple(tuple(cards[i : i + 2]) for i in range(0, len(cards), 2))


def _source(source: Source, slug: str, links: LinkTable) -> SourceView:
    label = source.label or _host(source.url)
    registered = links.content(source.url, "source", slug)
    if registered is None:
        return SourceView(source.number, label, None, None)
    url, href = registered
    return SourceView(source.number, label, url, href)


def _citation(
    number: int,
    brief: Brief,
    section: LinkSection,
    links: LinkTable,
    narrative: str | None = None,
) -> Citation:
    source = brief.source(number)
    registered = links.content(source.url, section, brief.slug, narrative) if source else None
    return Citation(number, registered[1] if registered else None)


def _narrative(narrative: Narrative, brief: Brief, links: LinkTable) -> NarrativeView:
    runs = tuple(_runs(p, narrative.label, brief, links) for p in narrative.paragraphs)
    view = NarrativeView(narrative.kind, narrative.label, tuple(narrative.paragraphs), runs)
    if narrative.probability is None:
        return view
    return NarrativeView(
        narrative.kind,
        narrative.label,
        view.paragraphs,
        runs,
        percent=percent(narrative.probability),
        bar=round(narrative.probability * 100),
        forecaster=narrative.forecaster,
        question=narrative.question,
        as_of=narrative.as_of,
    )


def _runs(paragraph: str, label: str, brief: Brief, links: LinkTable) -> tuple[Run, ...]:
    """Split a narrative paragraph at its ``[n]`` markers so they can become citation links."""
    runs: list[Run] = []
    position = 0
    for match in CITATION_MARKER.finditer(paragraph):
        citation = _citation(int(match.group(1)), brief, "narrative", links, label)
        if match.start() == position and runs and runs[-1].citations:
            last = runs.pop()  # adjacent markers share one superscript: [1][2] → 1,2
            runs.append(Run(last.text + match.group(0), (*last.citations, citation)))
        else:
            if match.start() > position:
                runs.append(Run(paragraph[position : match.start()]))
            runs.append(Run(match.group(0), (citation,)))
        position = match.end()
    if position < len(paragraph):
        runs.append(Run(paragraph[position:]))
    return tuple(runs)


def percent(probability: float) -> str:
    """``0.1`` → ``10%``; one decimal only where rounding would say 0% or 100%."""
    value = probability * 100
    if 0 < value < 1 or 99 < value < 100:
        return f"{value:.1f}%"
    return f"{value:.0f}%"


def _host(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None

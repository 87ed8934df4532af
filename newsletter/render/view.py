"""The view model both email parts are rendered from: briefs as the reader will see them.

Built once per variant from :class:`Brief` objects. Every link goes through the variant's
:class:`LinkTable` here, so templates only print ``href`` values they are given; text stays
plain (the HTML environment escapes it, the text environment prints it as is).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from markupsafe import Markup

from newsletter.briefs.document import CITATION_MARKER, Brief, Narrative, Source
from newsletter.render.links import LinkSection, LinkTable, http_url
from newsletter.render.options import NarrativeDisplay
from newsletter.render.recipient import VIEW_ONLINE_URL
from newsletter.render.selection import shown_narratives

Href = str | Markup
PartKind = Literal["perspectives", "forecast", "establishment"]

ESTABLISHMENT_SPLIT = "Establishment split"
ESTABLISHMENT_NOTE = (
    "How outlets close to the establishment and outlets critical of it tell the story."
)


@dataclass(frozen=True, slots=True)
class Citation:
    """A citation number; ``href`` is ``None`` when its source has no URL.

    ``name`` is what a screen reader says for the link ("source 1: Reuters"): a bare "1"
    names nothing.
    """

    number: int
    href: Href | None = None
    name: str = ""


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
    """A narrative; forecasts also carry their probability as text and as a bar width.

    ``question`` is the forecast's question as a sentence, or ``None`` when the narrative's
    own words already state it (it is shown once); ``as_of`` only when the source states
    it; ``href``/``url`` link the question or market when the brief names one.
    """

    kind: str
    label: str
    paragraphs: tuple[str, ...]
    runs: tuple[tuple[Run, ...], ...]
    percent: str | None = None
    bar: int | None = None
    forecaster: str | None = None
    question: str | None = None
    as_of: date | None = None
    url: str | None = None
    href: Href | None = None


@dataclass(frozen=True, slots=True)
class PartView:
    """A run of a brief's narratives of one kind, in the brief's order.

    Perspectives and the establishment split come as rows of at most two cards (side by
    side on a desktop, stacked on a phone); a forecast is a part of its own.
    """

    kind: PartKind
    narratives: tuple[NarrativeView, ...]

    @property
    def rows(self) -> tuple[tuple[NarrativeView, ...], ...]:
        cards = self.narratives
        return tuple(cards[i : i + 2] for i in range(0, len(cards), 2))


@dataclass(frozen=True, slots=True)
class TocEntry:
    number: int
    title: str
    href: Href
    url: Href


@dataclass(frozen=True, slots=True)
class BriefView:
    """One brief in full: facts, then its narratives as parts in the brief's order, sources.

    Both parts of the email show a brief's parts in this one order.
    """

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
    parts: tuple[PartView, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """What each part shows: HTML has ``briefs`` in full, ``toc`` (the briefs after the lead)
    and ``more_online`` as links (the size budget); the text part always has ``every_brief``
    in full (Gmail does not clip it).
    """

    briefs: tuple[BriefView, ...]
    toc: tuple[TocEntry, ...]
    more_online: tuple[TocEntry, ...]
    every_brief: tuple[BriefView, ...]


def anchor(slug: str) -> str:
    return f"brief-{slug}"


def build_digest(
    briefs: Sequence[Brief], display: NarrativeDisplay, links: LinkTable, *, in_full: int
) -> DigestView:
    """The first ``in_full`` briefs in full in HTML, the rest as linked titles to the web
    version; the text part gets every brief in full."""
    every = tuple(
        _brief(number, brief, display, links) for number, brief in enumerate(briefs, start=1)
    )
    full = every[:in_full]
    toc = tuple(  # the contents follow the lead brief: they list the others
        TocEntry(b.number, b.title, links.own(f"#{b.anchor}", "toc", b.slug), f"#{b.anchor}")
        for b in full[1:]
    )
    more = []
    for number, brief in enumerate(briefs[in_full:], start=in_full + 1):
        url = links.own(f"{VIEW_ONLINE_URL}#{anchor(brief.slug)}", "more-online", brief.slug)
        more.append(TocEntry(number, brief.title, url, url))
    return DigestView(full, toc, tuple(more), every)


def _brief(number: int, brief: Brief, display: NarrativeDisplay, links: LinkTable) -> BriefView:
    sources = {s.number: _source(s, brief.slug, links) for s in brief.sources}
    facts = tuple(
        FactView(
            fact.text,
            tuple(_citation(n, brief, "fact-citation", links) for n in fact.citations),
        )
        for fact in brief.facts
    )
    narratives = [_narrative(n, brief, links) for n in shown_narratives(brief, display)]
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
        parts=_parts(narratives),
    )


_PART_KIND: dict[str, PartKind] = {
    "perspective": "perspectives",
    "forecast": "forecast",
    "establishment": "establishment",
}


def _parts(narratives: list[NarrativeView]) -> tuple[PartView, ...]:
    """Consecutive narratives of one kind grouped, in the brief's order; forecasts alone."""
    parts: list[PartView] = []
    for narrative in narratives:
        kind = _PART_KIND[narrative.kind]
        if parts and parts[-1].kind == kind != "forecast":
            parts[-1] = PartView(kind, (*parts[-1].narratives, narrative))
        else:
            parts.append(PartView(kind, (narrative,)))
    return tuple(parts)


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
    outlet = _outlet(source) if source else None
    name = f"source {number}: {outlet}" if outlet else f"source {number}"
    return Citation(number, registered[1] if registered else None, name)


def _outlet(source: Source) -> str | None:
    """Who a source is, briefly: "Reuters" of "Reuters: Europe gas prices hit …", or the host."""
    label = source.label
    if label and ": " in label:
        label = label.split(": ", 1)[0]
    if label and len(label) > 40:
        label = label[:39].rstrip() + "…"
    return label or _host(source.url)


def _narrative(narrative: Narrative, brief: Brief, links: LinkTable) -> NarrativeView:
    runs = tuple(_runs(p, narrative.label, brief, links) for p in narrative.paragraphs)
    view = NarrativeView(narrative.kind, narrative.label, tuple(narrative.paragraphs), runs)
    if narrative.probability is None:
        return view
    shown = percent(narrative.probability)
    registered = links.content(narrative.url, "narrative", brief.slug, narrative.label)
    return NarrativeView(
        narrative.kind,
        narrative.label,
        view.paragraphs,
        runs,
        percent=shown,
        bar=round(narrative.probability * 100),
        forecaster=narrative.forecaster,
        question=question_sentence(narrative.question, narrative.paragraphs, shown),
        as_of=narrative.as_of,
        url=registered[0] if registered else None,
        href=registered[1] if registered else None,
    )


def question_sentence(question: str | None, paragraphs: Sequence[str], shown: str) -> str | None:
    """The forecast's question as a sentence, or ``None`` when the narrative already says it.

    A first paragraph that states the probability ("There is a 62% chance that …") or holds
    the question's words is the question as a sentence already: it is not repeated.
    """
    if not question:
        return None
    first = _folded(paragraphs[0]) if paragraphs else ""
    number = shown.removesuffix("%")
    states_probability = re.search(rf"(?<![\d.]){re.escape(number)}\s?(?:%|per\s?cent)", first)
    if states_probability or _folded(question) in _folded(" ".join(paragraphs)):
        return None
    sentence = question[:1].upper() + question[1:]
    return sentence if sentence[-1] in ".?!…" else sentence + "."


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


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

"""Apply a segment's :class:`VariantOptions` to a campaign's briefs: which, in what order, how much.

Pure functions over :class:`Brief` objects, so the choice is testable without rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.briefs.document import Brief, Narrative
from newsletter.render.options import NarrativeDisplay, VariantOptions


@dataclass(frozen=True, slots=True)
class Selection:
    """The briefs a variant shows, and those its options left out (with the reason)."""

    briefs: tuple[Brief, ...]
    left_out: tuple[tuple[str, str], ...] = ()


def select_briefs(briefs: Sequence[Brief], options: VariantOptions) -> Selection:
    """Filter by topic, order, then cut at ``max_briefs``."""
    wanted = options.topics
    left_out: list[tuple[str, str]] = []
    chosen: list[Brief] = []
    for brief in briefs:
        if not _in_segment(brief, options):
            left_out.append((brief.slug, "no topic of this segment"))
        else:
            chosen.append(brief)
    if options.order == "newest":
        chosen.sort(key=lambda b: b.updated, reverse=True)
    elif options.order == "topics" and wanted:
        rank = {topic: index for index, topic in enumerate(wanted)}
        chosen.sort(key=lambda b: min(rank.get(t, len(rank)) for t in b.topics))
    if options.max_briefs is not None and len(chosen) > options.max_briefs:
        extra = chosen[options.max_briefs :]
        left_out += [(b.slug, f"beyond max_briefs={options.max_briefs}") for b in extra]
        chosen = chosen[: options.max_briefs]
    return Selection(tuple(chosen), tuple(left_out))


def _in_segment(brief: Brief, options: VariantOptions) -> bool:
    """Whether the segment's topics (none: every topic) take ``brief``."""
    return not options.topics or bool(set(brief.topics) & set(options.topics))


def shown_narratives(brief: Brief, display: NarrativeDisplay) -> list[Narrative]:
    """The narratives a variant shows: all, none (``facts-only``), or all but forecasts."""
    if display == "facts-only":
        return []
    if display == "no-forecast":
        return [n for n in brief.narratives if n.kind != "forecast"]
    return list(brief.narratives)


# From the fullest display to the barest: combining two choices keeps the barer one.
NARRATIVES_BY_BARENESS: tuple[NarrativeDisplay, ...] = ("all", "no-forecast", "facts-only")


def stricter_display(first: NarrativeDisplay, second: NarrativeDisplay) -> NarrativeDisplay:
    """The barer of two narrative displays: a reader's "no forecasts" holds even in a segment
    that shows everything, and a segment's "facts only" holds whatever its readers chose."""
    return max(first, second, key=NARRATIVES_BY_BARENESS.index)


def for_reader(
    briefs: Sequence[Brief], options: VariantOptions, reader_topics: frozenset[str]
) -> tuple[Brief, ...]:
    """The briefs a variant shows a reader who chose ``reader_topics``: of the segment's
    briefs, those with one of the reader's topics, or all of them when none has one (a
    reader never gets an empty issue, nor one cut down to nothing by their own choice).

    Order and ``max_briefs`` are left to :func:`select_briefs`, which the compiler applies."""
    segment_briefs = [b for b in briefs if _in_segment(b, options)]
    if not reader_topics:
        return tuple(segment_briefs)
    chosen = tuple(b for b in segment_briefs if reader_topics & set(b.topics))
    return chosen or tuple(segment_briefs)

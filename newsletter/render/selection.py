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
        if wanted and not set(brief.topics) & set(wanted):
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


def shown_narratives(brief: Brief, display: NarrativeDisplay) -> list[Narrative]:
    """The narratives a variant shows: all, none (``facts-only``), or all but forecasts."""
    if display == "facts-only":
        return []
    if display == "no-forecast":
        return [n for n in brief.narratives if n.kind != "forecast"]
    return list(brief.narratives)

"""A segment's options choose the briefs: topics, order, a maximum."""

from __future__ import annotations

from newsletter.render.options import VariantOptions
from newsletter.render.selection import select_briefs, shown_narratives
from tests.render.fixtures import DIGEST


def slugs(options: VariantOptions) -> list[str]:
    return [b.slug for b in select_briefs(DIGEST, options).briefs]


def test_defaults_keep_the_campaign_order() -> None:
    assert slugs(VariantOptions()) == [b.slug for b in DIGEST]


def test_topics_filter_and_say_why_the_rest_is_left_out() -> None:
    selection = select_briefs(DIGEST, VariantOptions(topics=["Climate"]))
    chosen = [b.slug for b in selection.briefs]
    assert chosen == [b.slug for b in DIGEST if "climate" in b.topics]
    assert {slug for slug, _ in selection.left_out} == {b.slug for b in DIGEST} - set(chosen)
    assert {reason for _, reason in selection.left_out} == {"no topic of this segment"}


def test_orders() -> None:
    newest = slugs(VariantOptions(order="newest"))
    assert newest == [b.slug for b in sorted(DIGEST, key=lambda b: b.updated, reverse=True)]
    by_topic = select_briefs(DIGEST, VariantOptions(topics=["science", "economy"], order="topics"))
    ranks = [0 if "science" in b.topics else 1 for b in by_topic.briefs]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 1


def test_max_briefs_cuts_and_records() -> None:
    selection = select_briefs(DIGEST, VariantOptions(max_briefs=3))
    assert len(selection.briefs) == 3
    assert selection.left_out == tuple((b.slug, "beyond max_briefs=3") for b in DIGEST[3:])


def test_narrative_display() -> None:
    climate = DIGEST[0]
    assert shown_narratives(climate, "all") == list(climate.narratives)
    assert shown_narratives(climate, "facts-only") == []
    kinds = {n.kind for n in shown_narratives(climate, "no-forecast")}
    assert kinds == {"perspective", "establishment"}

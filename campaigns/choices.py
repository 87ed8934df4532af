"""Readers' own choices at the freeze: one variant per (segment, narrative mode, topics).

A reader chooses on the preferences page how much of the narratives to read (all, no
forecasts, facts only) and which topics they care about. Freezing honours that directly,
whatever segments the editor made: it counts the combinations of (first matching segment,
narrative mode, topics) present in the mailable audience with one ``GROUP BY``, works out in
Python which briefs and narratives each combination gets, and compiles one variant for each
distinct result. Combinations that come to the same thing share a variant (a reader whose
topics match every brief reads the segment's own variant), so the number of compilations is
bounded by what differs, not by how many people chose.

Rules, from :mod:`newsletter.render.selection`: a reader's narrative mode combines with the
segment's by keeping the barer of the two; their topics narrow the segment's briefs to those
with one of them, and when none of the week's briefs has one the reader gets the segment's
full issue, never an empty one.

Each combination is stored as a :class:`~campaigns.model.VariantChoice` row and the
deliveries are queued by one ``INSERT … SELECT`` joined to those rows on the same
expressions the ``GROUP BY`` used; a reader whose choice changed between the two statements
(there is no lock on subscribers) falls back to their segment's own variant.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import case, func, insert, literal, select
from sqlalchemy.orm import Session

from campaigns.local_time import LocalMoments
from campaigns.model import FINGERPRINT_LENGTH, Delivery, VariantChoice
from campaigns.states import DeliveryStatus
from campaigns.subject_tests import CellDeal
from newsletter.briefs.document import Brief
from newsletter.render.options import NarrativeDisplay, VariantOptions
from newsletter.render.selection import NARRATIVES_BY_BARENESS, for_reader, stricter_display
from subscribers.model import NARRATIVE_DISPLAYS
from subscribers.segments import Rule, RuleContext, recipients_with_choices

NARRATIVE_LABELS = {"no-forecast": "no forecasts", "facts-only": "facts only"}


@dataclass(frozen=True)
class ChoiceGroup:
    """Readers of one segment who made the same choices (as the database renders them)."""

    segment_position: int
    narratives: str
    topics_key: str
    readers: int

    @property
    def display(self) -> NarrativeDisplay:
        """Their narrative mode; an unknown stored value reads as the default ``all``."""
        return (
            cast(NarrativeDisplay, self.narratives)
            if self.narratives in NARRATIVE_DISPLAYS
            else "all"
        )

    @property
    def topics(self) -> frozenset[str]:
        """Their topics, lower-case; a column that holds no list of strings means none."""
        try:
            value = json.loads(self.topics_key) if self.topics_key else []
        except ValueError:
            return frozenset()
        if not isinstance(value, list):
            return frozenset()
        return frozenset(t.strip().lower() for t in value if isinstance(t, str) and t.strip())


@dataclass
class ChoiceVariant:
    """One variant to compile for readers' choices within a segment."""

    segment_position: int
    narratives: NarrativeDisplay
    briefs: tuple[Brief, ...]
    segment_briefs: int  # how many briefs the segment's own variant has
    groups: list[ChoiceGroup] = field(default_factory=list)
    matched_topics: set[str] = field(default_factory=set)

    def options(self, segment_options: VariantOptions) -> VariantOptions:
        return segment_options.model_copy(update={"narratives": self.narratives})

    @property
    def narrowed(self) -> bool:
        """Whether the readers' topics left out some of the segment's briefs."""
        return len(self.briefs) < self.segment_briefs

    def label(self, segment_options: VariantOptions) -> str:
        """What sets it apart from its segment's own, e.g. "no forecasts · topics: energy"."""
        parts = []
        if self.narratives != segment_options.narratives:
            parts.append(NARRATIVE_LABELS.get(self.narratives, self.narratives))
        if self.narrowed:
            parts.append("topics: " + ", ".join(sorted(self.matched_topics)))
        return " · ".join(parts)

    def choice(self, segment: str) -> dict[str, Any]:
        return {
            "segment": segment,
            "narratives": self.narratives,
            "topics": sorted(self.matched_topics),
        }


def audience_choices(
    session: Session, rules: Sequence[tuple[int, Rule]], ctx: RuleContext
) -> list[ChoiceGroup]:
    """The combinations of (segment position, narratives, topics) among mailable readers."""
    chosen = recipients_with_choices(rules, ctx).subquery("chosen")
    rows = session.execute(
        select(chosen.c.segment_id, chosen.c.narratives, chosen.c.topics_key, func.count())
        .group_by(chosen.c.segment_id, chosen.c.narratives, chosen.c.topics_key)
        .order_by(chosen.c.segment_id, func.count().desc())
    ).all()
    return [ChoiceGroup(int(pos), str(narr), str(key), int(n)) for pos, narr, key, n in rows]


def plan_choice_variants(
    segment_options: Sequence[VariantOptions],
    briefs: Sequence[Brief],
    groups: Sequence[ChoiceGroup],
) -> tuple[dict[int, list[ChoiceGroup]], list[ChoiceVariant]]:
    """Which groups read their segment's own variant (by segment position), and the variants
    the other groups need, one per distinct (segment, narrative mode, briefs)."""
    own: dict[int, list[ChoiceGroup]] = {}
    variants: dict[tuple[int, str, tuple[str, ...]], ChoiceVariant] = {}
    full = [len(for_reader(briefs, options, frozenset())) for options in segment_options]
    for group in groups:
        position = group.segment_position
        options = segment_options[position]
        narratives = stricter_display(options.narratives, group.display)
        reader_topics = group.topics
        chosen = for_reader(briefs, options, reader_topics)
        if narratives == options.narratives and len(chosen) == full[position]:
            own.setdefault(position, []).append(group)
            continue
        key = (position, narratives, tuple(b.slug for b in chosen))
        variant = variants.setdefault(
            key, ChoiceVariant(position, narratives, chosen, full[position])
        )
        variant.groups.append(group)
        if variant.narrowed:
            variant.matched_topics |= {t for b in chosen for t in b.topics} & reader_topics
    return own, sorted(variants.values(), key=_listing_order)


def _listing_order(variant: ChoiceVariant) -> tuple[int, int, int, list[str]]:
    """Within a segment: fuller issues first, then barer narratives, then by topic."""
    barer = NARRATIVES_BY_BARENESS.index(variant.narratives)
    return (variant.segment_position, -len(variant.briefs), barer, sorted(variant.matched_topics))


def record_choices(
    session: Session, campaign_id: int, assignments: Sequence[tuple[int, ChoiceGroup]]
) -> None:
    """Store which variant each combination reads (the join table of :func:`queue_readers`)."""
    if not assignments:
        return
    session.execute(
        insert(VariantChoice),
        [
            {
                "campaign_id": campaign_id,
                "variant_id": variant_id,
                "segment_position": g.segment_position,
                "narratives": g.narratives,
                "topics_key": g.topics_key,
                "topics": sorted(g.topics),
                "readers": g.readers,
            }
            for variant_id, g in assignments
        ],
    )


def queue_readers(
    session: Session,
    campaign_id: int,
    rules: Sequence[tuple[int, Rule]],
    ctx: RuleContext,
    own_variants: Sequence[int],
    deal: CellDeal | None = None,
    local: LocalMoments | None = None,
) -> None:
    """One ``INSERT … SELECT``: every mailable reader some segment takes, with the variant
    their recorded combination reads, else their segment's own (``own_variants`` by position);
    with a subject test's ``deal``, readers of its cells get their cell's copy of it, and
    with ``local`` each row's not-before moment by the reader's zone."""
    chosen = recipients_with_choices(rules, ctx).subquery("chosen")
    recorded = select(VariantChoice).where(VariantChoice.campaign_id == campaign_id).subquery()
    segment_own = case(
        *[(chosen.c.segment_id == pos, literal(vid)) for pos, vid in enumerate(own_variants)],
        else_=literal(own_variants[0]),
    )
    readers = select(
        func.coalesce(recorded.c.variant_id, segment_own).label("variant_id"),
        chosen.c.subscriber_id.label("subscriber_id"),
        func.substr(chosen.c.email_hash, 1, FINGERPRINT_LENGTH).label("recipient_fingerprint"),
    ).select_from(
        chosen.outerjoin(
            recorded,
            (recorded.c.segment_position == chosen.c.segment_id)
            & (recorded.c.narratives == chosen.c.narratives)
            & (recorded.c.topics_key == chosen.c.topics_key),
        )
    )
    columns = ["campaign_id", "variant_id", "subscriber_id", "status", "attempts"]
    extra = ["recipient_fingerprint"]  # what ties the provider's events to the row
    if local is not None:
        readers = readers.add_columns(local.column(chosen.c.time_zone).label("not_before"))
        extra.append("not_before")
    if deal is not None:
        readers = readers.add_columns(deal.cell_of(chosen.c.subscriber_id).label("cell"))
        extra.append("cell")
    rows = readers.subquery("readers")
    variant = rows.c.variant_id if deal is None else deal.variant_of(rows.c.variant_id, rows.c.cell)
    fixed = (literal(campaign_id), literal(DeliveryStatus.QUEUED.value), literal(0))
    source = select(
        fixed[0], variant, rows.c.subscriber_id, *fixed[1:], *(rows.c[name] for name in extra)
    )
    session.execute(insert(Delivery).from_select(columns + extra, source))

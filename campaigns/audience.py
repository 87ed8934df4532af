"""Who a campaign reaches, counted in SQL before it is frozen: per segment, first match wins.

An editor confirming "schedule", "send now" or "cancel" sees how many people each segment
would get. These counts use the same ``CASE`` that freezing feeds to its ``INSERT … SELECT``
(:func:`subscribers.segments.first_matching_segment`), in one scan with filtered counts
(which also tell what earlier segments take from later ones), so they agree with the freeze
without compiling or queueing anything. Once a campaign is frozen
its deliveries are the truth instead: :func:`frozen_counts`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from campaigns.freeze import variant_plan
from campaigns.model import Campaign, Delivery, Variant
from campaigns.rollups import VARIANT_DELIVERIES
from campaigns.states import DeliveryStatus
from subscribers.model import Subscriber
from subscribers.segment_store import context_for
from subscribers.segments import Rule, first_matching_segment, joined_for
from subscribers.suppression import mailable


@dataclass(frozen=True)
class SegmentAudience:
    """One segment of a campaign (``position`` in match order) and its recipients; ``matching``
    is how many its rule alone takes, ``taken_by`` the segments above it that take some of
    those first (an editor ordering segments needs to see a segment left with nobody)."""

    position: int
    name: str
    recipients: int
    matching: int = 0
    taken_by: tuple[str, ...] = ()

    @property
    def shadowed(self) -> str | None:
        """What the segments above it take from it, in words (``None``: nothing)."""
        if not self.taken_by or self.recipients >= self.matching:
            return None
        above = ", ".join(self.taken_by)
        if self.recipients == 0:
            return f"{self.name}: 0 readers, all {self.matching} taken by {above} above it"
        lost = self.matching - self.recipients
        return f"{self.name}: {lost} of its {self.matching} readers taken by {above} above it"


@dataclass(frozen=True)
class SubscriberMatch:
    """Which variant one subscriber would get (``position`` ``None``: none matches)."""

    uid: str
    email: str
    name: str | None
    status: str
    mailable: bool
    position: int | None
    variant: str | None


def audience(session: Session, campaign: Campaign) -> list[SegmentAudience]:
    """Recipients per segment if the campaign were frozen now (mailable subscribers only)."""
    plan = variant_plan(session, campaign)
    first, matching, overlaps = _counts(session, [rule for _, _, _, rule in plan])
    return [
        SegmentAudience(
            position,
            name,
            first[position],
            matching[position],
            tuple(plan[above][0] for above in overlaps[position]),
        )
        for position, (name, _, _, _) in enumerate(plan)
    ]


def _counts(session: Session, rules: list[Rule]) -> tuple[list[int], list[int], list[list[int]]]:
    """One scan of the mailable subscribers with filtered counts: per segment, the readers it
    gets (the first-match ``CASE`` the freeze uses), the readers its rule alone takes, and
    the earlier segments whose rules take some of those."""
    if not rules:
        return [], [], []
    source, ctx = joined_for(rules, context_for(session))
    assigned = first_matching_segment(list(enumerate(rules)), ctx)
    compiled = [rule.compile(ctx) for rule in rules]
    pairs = [(i, j) for i in range(len(rules)) for j in range(i)]
    columns = [func.count().filter(assigned == i) for i in range(len(rules))]
    columns += [func.count().filter(c) for c in compiled]
    columns += [func.count().filter(and_(compiled[i], compiled[j])) for i, j in pairs]
    row = session.execute(select(*columns).select_from(source).where(mailable())).one()
    n = len(rules)
    first, matching = [int(c) for c in row[:n]], [int(c) for c in row[n : 2 * n]]
    overlaps: list[list[int]] = [[] for _ in rules]
    for (i, j), shared in zip(pairs, row[2 * n :], strict=True):
        if shared:
            overlaps[i].append(j)
    return first, matching, overlaps


def match_subscriber(
    session: Session, campaign: Campaign, subscriber: Subscriber
) -> SubscriberMatch:
    """Which variant ``subscriber`` would get (or, once frozen, was given)."""
    ok = bool(session.scalar(select(mailable()).where(Subscriber.id == subscriber.id)))
    position: int | None = None
    variant: str | None = None
    if campaign.frozen_at is not None:
        found = session.execute(
            select(Variant.position, Variant.name)
            .join(Delivery, Delivery.variant_id == Variant.id)
            .where(Delivery.campaign_id == campaign.id, Delivery.subscriber_id == subscriber.id)
        ).first()
        if found is not None:
            position, variant = int(found[0]), str(found[1])
    else:
        plan = variant_plan(session, campaign)
        rules = [(n, rule) for n, (_, _, _, rule) in enumerate(plan)]
        chosen = session.scalar(
            select(first_matching_segment(rules, context_for(session))).where(
                Subscriber.id == subscriber.id
            )
        )
        if chosen is not None:
            position = int(chosen)
            variant = plan[position][0]
    return SubscriberMatch(
        uid=subscriber.uid,
        email=subscriber.email or "",
        name=subscriber.name,
        status=subscriber.status,
        mailable=ok,
        position=position,
        variant=variant,
    )


@dataclass(frozen=True)
class VariantProgress:
    """A frozen variant's deliveries by status."""

    position: int
    name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def frozen_counts(session: Session, campaign_id: int) -> list[VariantProgress]:
    """Per frozen variant, its deliveries by status (empty before the freeze)."""
    variants = session.execute(
        select(Variant.id, Variant.position, Variant.name)
        .where(Variant.campaign_id == campaign_id)
        .order_by(Variant.position)
    ).all()
    rows = session.execute(
        select(Delivery.variant_id, Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.variant_id, Delivery.status)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for variant_id, status, count in rows:
        counts.setdefault(variant_id, {})[status] = int(count)
    return [
        VariantProgress(position, name, counts.get(variant_id, {}))
        for variant_id, position, name in variants
    ]


@dataclass(frozen=True)
class DeliveryProblem:
    status: str
    error: str
    count: int


def delivery_problems(
    session: Session, campaign_id: int, *, limit: int = 10
) -> list[DeliveryProblem]:
    """The most frequent errors of failed, unknown or skipped deliveries (and queued ones
    sent back by a retryable error), most common first."""
    rows = session.execute(
        select(Delivery.status, Delivery.error, func.count())
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.error.is_not(None),
            Delivery.status.in_(
                (
                    DeliveryStatus.FAILED,
                    DeliveryStatus.UNKNOWN,
                    DeliveryStatus.SKIPPED,
                    DeliveryStatus.QUEUED,
                )
            ),
        )
        .group_by(Delivery.status, Delivery.error)
        .order_by(func.count().desc())
        .limit(limit)
    ).all()
    return [DeliveryProblem(status, error or "", int(count)) for status, error, count in rows]


def delivery_totals(
    session: Session, campaign_ids: Collection[int] | None = None
) -> dict[int, tuple[int, int]]:
    """Per campaign (of ``campaign_ids``, or every one): (recipients queued at the freeze, of
    them sent), from the counts the database keeps per variant and status."""
    counts = VARIANT_DELIVERIES.c
    query = select(
        counts.campaign_id,
        func.sum(counts.deliveries),
        func.sum(case((counts.status == DeliveryStatus.SENT, counts.deliveries), else_=0)),
    ).group_by(counts.campaign_id)
    if campaign_ids is not None:
        query = query.where(counts.campaign_id.in_(campaign_ids))
    rows = session.execute(query).all()
    return {campaign_id: (int(total), int(sent)) for campaign_id, total, sent in rows}

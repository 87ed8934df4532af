"""Named segments: create, find, list and count them (rules compile in :mod:`subscribers.segments`).

A segment's row keeps two JSON documents: the rule (who) and the ``VariantOptions`` of the
variant its members receive (what). Both are validated before they are stored, so whatever
reads them back (the compiler, the campaigns package) can trust them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from newsletter.db import utcnow
from newsletter.errors import ConflictError, InvalidInput, NotFoundError
from newsletter.render.options import VariantOptions
from newsletter.suggest import did_you_mean
from newsletter.untrusted import reject_nul_in
from subscribers.fields import clean_text
from subscribers.model import Segment, Subscriber, Suppression
from subscribers.segments import Rule, RuleContext, dump_rule, parse_rule
from subscribers.suppression import mailable_status

NAME_MAX = 100


def parse_options(value: Any, field: str = "options") -> VariantOptions:
    """``VariantOptions`` from JSON; :class:`InvalidInput` naming the option at fault."""
    if value is None:
        return VariantOptions()
    try:
        return VariantOptions.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{field}.{where}" if where else field, first["msg"]) from None


def _documents(
    rule: Rule | dict[str, Any], options: VariantOptions | dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """The rule and options as stored, both validated (and NUL-free: JSONB refuses it)."""
    parsed_rule = rule if isinstance(rule, Rule) else parse_rule(rule)
    parsed_options = options if isinstance(options, VariantOptions) else parse_options(options)
    documents = {"rule": dump_rule(parsed_rule), "options": parsed_options.model_dump(mode="json")}
    for field, document in documents.items():
        reject_nul_in(document, field)
    return documents


def _clean_name(session: Session, name: str, *, other_than: int | None = None) -> str:
    clean = clean_text(name, "name", NAME_MAX)
    if clean is None:
        raise InvalidInput("name", "a segment needs a name")
    taken = session.scalar(select(Segment.id).where(Segment.name == clean))
    if taken is not None and taken != other_than:
        raise ConflictError(f"segment {clean!r} already exists")
    return clean


def create_segment(
    session: Session,
    name: str,
    rule: Rule | dict[str, Any],
    *,
    options: VariantOptions | dict[str, Any] | None = None,
    description: str | None = None,
) -> Segment:
    """Store a new segment, last in the list; :class:`ConflictError` when the name is taken."""
    clean = _clean_name(session, name)
    documents = _documents(rule, options)
    last = session.scalar(select(func.max(Segment.position))) or 0
    segment = Segment(
        name=clean,
        position=last + 1,
        description=clean_text(description, "description", 2_000),
        rule=documents["rule"],
        options=documents["options"],
    )
    session.add(segment)
    session.flush()
    return segment


def update_segment(
    session: Session,
    segment: Segment,
    *,
    name: str,
    rule: Rule | dict[str, Any],
    options: VariantOptions | dict[str, Any] | None,
    description: str | None,
) -> Segment:
    """Change a segment's name, rule, options and description, checked as on creation.

    Campaigns name segments by id, so a renamed segment stays in them; a frozen campaign
    keeps what it was frozen with."""
    clean = _clean_name(session, name, other_than=segment.id)
    documents = _documents(rule, options)
    segment.name = clean
    segment.description = clean_text(description, "description", 2_000)
    segment.rule = documents["rule"]
    segment.options = documents["options"]
    session.flush()
    return segment


def reorder_segments(session: Session, positions: Mapping[int, int]) -> None:
    """Put segments (by id) in the order of the numbers given; the others keep their place
    relative to each other. Ties keep the former order; the result is numbered 1, 2, 3 …"""
    segments = list(list_segments(session))
    former = {segment.id: index for index, segment in enumerate(segments, start=1)}

    def key(segment: Segment) -> tuple[float, int]:
        return (positions.get(segment.id, former[segment.id]), former[segment.id])

    for position, segment in enumerate(sorted(segments, key=key), start=1):
        segment.position = position
    session.flush()


def get_segment(session: Session, name: str) -> Segment:
    segment = session.scalar(select(Segment).where(Segment.name == name))
    if segment is None:
        hint = did_you_mean(name, session.scalars(select(Segment.name)))
        raise NotFoundError(f"no segment named {name!r}{hint} (see `newsletter segments list`)")
    return segment


def list_segments(session: Session) -> Sequence[Segment]:
    """Every segment, in the order editors gave them."""
    return session.scalars(select(Segment).order_by(Segment.position, Segment.name)).all()


def segment_by_id(session: Session, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFoundError(f"no segment with the id {segment_id}")
    return segment


def delete_segment(session: Session, name: str) -> None:
    session.delete(get_segment(session, name))


def rule_of(segment: Segment) -> Rule:
    return parse_rule(segment.rule)


def options_of(segment: Segment) -> VariantOptions:
    return parse_options(segment.options)


def context_for(session: Session, now: datetime | None = None) -> RuleContext:
    """The compile context for this session's database, at ``now``."""
    return RuleContext(dialect=session.get_bind().dialect.name, now=now or utcnow())


@dataclass(frozen=True, slots=True)
class SegmentCount:
    matching: int  # subscribers the rule matches, whatever their status
    mailable: int  # of those, the ones a campaign would mail now


def count_members(session: Session, rule: Rule, ctx: RuleContext) -> SegmentCount:
    """Both counts in one pass over the subscribers the rule matches.

    The suppression list is joined (its key is the address hash, so the join adds no rows)
    rather than asked per row: "mailable" as a ``NOT EXISTS`` inside the aggregate would run
    once for every matching subscriber, and two separate ``COUNT``s read the table twice.
    """
    reachable = and_(mailable_status(), Suppression.email_hash.is_(None))
    query = (
        select(func.count(), func.coalesce(func.sum(case((reachable, 1), else_=0)), 0))
        .select_from(Subscriber)
        .outerjoin(Suppression, Suppression.email_hash == Subscriber.email_hash)
        .where(rule.compile(ctx))
    )
    matching, mailable_now = session.execute(query).one()
    return SegmentCount(matching=matching or 0, mailable=mailable_now or 0)


def sample_members(
    session: Session, rule: Rule, ctx: RuleContext, *, limit: int = 10
) -> Sequence[Subscriber]:
    """A few members (newest first) for a person to check the rule does what they meant."""
    statement = (
        select(Subscriber)
        .where(rule.compile(ctx), Subscriber.email.is_not(None))
        .order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
        .limit(limit)
    )
    return session.scalars(statement).all()

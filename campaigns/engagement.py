"""Engagement segment rules: subscribers who opened, or clicked, in the last N days.

Registered with :func:`subscribers.segments.register_rule` when the campaigns package is
imported (``campaigns/__init__.py`` imports this module), so any code that can freeze a
campaign also understands these rules::

    {"type": "opened", "within_days": 30}
    {"type": "not", "rule": {"type": "clicked", "within_days": 90}}

Only human events count (machine opens by Apple Mail Privacy Protection would make every
Apple Mail user "engaged"). A human click counts as an open too: the reader saw the
mail even if their client blocked the pixel.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import Field
from sqlalchemy import ColumnElement, exists, select

from campaigns.events import Event
from subscribers.model import Subscriber
from subscribers.segments import Rule, RuleContext, register_rule


class _EngagementRule(Rule):
    within_days: int = Field(ge=1, le=3650)

    event_types: ClassVar[tuple[str, ...]]

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        since = ctx.now - timedelta(days=self.within_days)
        return exists(
            select(Event.id).where(
                Event.subscriber_id == Subscriber.id,
                Event.type.in_(self.event_types),
                Event.occurred_at >= since,
                Event.machine.is_(False),
            )
        )


@register_rule
class OpenedRule(_EngagementRule):
    """Subscribers who opened (or clicked in) a newsletter in the last ``within_days``."""

    type: Literal["opened"] = "opened"
    event_types: ClassVar[tuple[str, ...]] = ("opened", "clicked")


@register_rule
class ClickedRule(_EngagementRule):
    """Subscribers who clicked a link in a newsletter in the last ``within_days``."""

    type: Literal["clicked"] = "clicked"
    event_types: ClassVar[tuple[str, ...]] = ("clicked",)

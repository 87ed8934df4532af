"""Engagement segment rules: subscribers who opened, or clicked, in the last N days.

Registered with :func:`subscribers.segments.register_rule` when the campaigns package is
imported (``campaigns/__init__.py`` imports this module), so any code that can freeze a
campaign also understands these rules::

    {"type": "opened", "within_days": 30}
    {"type": "not", "rule": {"type": "clicked", "within_days": 90}}

Only human events count (machine opens by Apple Mail Privacy Protection would make every
Apple Mail user "engaged"), and clicks on our own links (unsubscribe!) do not. A click
counts as an open too: the reader saw the mail even if their client blocked the pixel.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field
from sqlalchemy import ColumnElement, and_, exists, or_, select

from campaigns.events import Event, reader_click
from subscribers.model import Subscriber
from subscribers.segments import Rule, RuleContext, register_rule


def human_engagement() -> ColumnElement[bool]:
    """SQL: an event that shows a person read a newsletter: a human open or a reader's click."""
    return or_(and_(Event.type == "opened", Event.machine.is_(False)), reader_click())


class _EngagementRule(Rule):
    within_days: int = Field(ge=1, le=3650)

    def engaged(self) -> ColumnElement[bool]:
        raise NotImplementedError

    def compile(self, ctx: RuleContext) -> ColumnElement[bool]:
        since = ctx.now - timedelta(days=self.within_days)
        return exists(
            select(Event.id).where(
                Event.subscriber_id == Subscriber.id, Event.occurred_at >= since, self.engaged()
            )
        )


@register_rule
class OpenedRule(_EngagementRule):
    """Subscribers who opened (or clicked in) a newsletter in the last ``within_days``."""

    type: Literal["opened"] = "opened"

    def engaged(self) -> ColumnElement[bool]:
        return human_engagement()


@register_rule
class ClickedRule(_EngagementRule):
    """Subscribers who clicked a link in a newsletter in the last ``within_days``."""

    type: Literal["clicked"] = "clicked"

    def engaged(self) -> ColumnElement[bool]:
        return reader_click()

"""Engagement segment rules: subscribers who opened, or clicked, in the last N days.

Registered with :func:`subscribers.segments.register_rule` by
:func:`campaigns.wiring.wire_extensions` (the web app and the CLI call it), after which
segments may use them::

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
from subscribers.segments import Rule, RuleContext


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


class OpenedRule(_EngagementRule):
    """Subscribers who opened (or clicked in) a newsletter in the last ``within_days``."""

    type: Literal["opened"] = "opened"

    def engaged(self) -> ColumnElement[bool]:
        return human_engagement()


class ClickedRule(_EngagementRule):
    """Subscribers who clicked a link in a newsletter in the last ``within_days``."""

    type: Literal["clicked"] = "clicked"

    def engaged(self) -> ColumnElement[bool]:
        return reader_click()


ENGAGEMENT_RULES: tuple[type[Rule], ...] = (OpenedRule, ClickedRule)
"""The rule types this module adds (registered by :mod:`campaigns.wiring`)."""

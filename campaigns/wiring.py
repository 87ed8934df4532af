"""What the campaigns package adds to the subscribers package, registered on purpose.

Segment-rule kinds and data-protection sections live in registries of the subscribers
package (:func:`subscribers.segments.register_rule`,
:func:`subscribers.gdpr.register_personal_data`), which knows nothing about campaigns.
The programs that run campaigns (the web app factory, the CLI's database commands, the
test set-up) call :func:`wire_extensions` when they are built; importing a module
registers nothing, so what a process understands never depends on what it happened to
import first.
"""

from __future__ import annotations

from campaigns.engagement import ENGAGEMENT_RULES
from campaigns.personal_data import DELIVERIES, ENGAGEMENT, TRACKING_EVENTS, WELCOME_RECEIPTS
from subscribers.gdpr import register_personal_data
from subscribers.segments import register_rule


def wire_extensions() -> None:
    """Register the engagement rules and the personal data of tracking events, engagement,
    welcome receipts and deliveries (idempotent)."""
    for rule in ENGAGEMENT_RULES:
        register_rule(rule)
    register_personal_data(TRACKING_EVENTS)
    register_personal_data(ENGAGEMENT)
    register_personal_data(WELCOME_RECEIPTS)
    register_personal_data(DELIVERIES)

"""The states of a campaign and of a delivery row, as string enums.

They live apart from the ORM model so that code without a database session (the
dispatcher) can name them. The transitions are drawn in :mod:`campaigns.model`.
"""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    """Where a campaign is; stored as the value (the CHECK constraint lists them)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    """Where one recipient's message is (the state machine in :mod:`campaigns.model`); stored
    as the value.

    A ``StrEnum`` member *is* its string, so rows read back as plain ``str`` compare equal
    to the members, and the stored values (and the CHECK constraint) are unchanged."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"

"""Turn a claim into a provider batch: the frozen variant once, each recipient's values.

Per recipient this computes only what the variant's placeholders need (signed URLs, a
tracking token, the first name), the ``List-Unsubscribe`` headers with their own one-click
URL, and the ids that let provider events find the delivery again.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from campaigns.dispatch import Claim
from campaigns.freeze import tracking_plan
from campaigns.model import Campaign, Variant
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.delivery.base import (
    Batch,
    Message,
    Recipient,
    list_unsubscribe_headers,
    message_from_us,
)
from newsletter.placeholders import PlaceholderTemplate
from newsletter.render.recipient import UNSUBSCRIBE_URL, RecipientInfo, RecipientValues
from newsletter.tokens import TokenSigner

# custom_args names: provider events carry them back (SendGrid: top-level keys of an event).
CAMPAIGN_ARG = "nl_campaign"
VARIANT_ARG = "nl_variant"
DELIVERY_ARG = "nl_delivery"


@dataclass(frozen=True)
class PreparedVariant:
    """What every batch of one variant shares."""

    message: Message
    placeholders: frozenset[str]
    needed: frozenset[str]  # the placeholders, and the unsubscribe URL for the header
    name_fallback: str
    view_id: str


class CampaignBatchFactory:
    """:class:`~campaigns.dispatch.BatchFactory` for frozen campaign variants."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.values = RecipientValues(TokenSigner(settings.signing_key()), settings.public_url)
        self._variants: dict[int, PreparedVariant] = {}
        self._lock = threading.Lock()

    def batch(self, claim: Claim) -> Batch:
        prepared = self._prepared(claim.variant_id)
        recipients = [
            self._recipient(prepared, r.delivery_id, r.subscriber_uid, r.email, r.name)
            for r in claim.recipients
        ]
        return Batch(prepared.message, recipients)

    def _recipient(
        self, prepared: PreparedVariant, delivery_id: int, uid: str, email: str, name: str | None
    ) -> Recipient:
        info = RecipientInfo(uid, name, view_id=prepared.view_id, tracking_id=str(delivery_id))
        values = self.values.values(info, prepared.needed, name_fallback=prepared.name_fallback)
        unsubscribe_url = values[UNSUBSCRIBE_URL]
        if UNSUBSCRIBE_URL not in prepared.placeholders:
            del values[UNSUBSCRIBE_URL]
        mailto = self.settings.unsubscribe_mailto
        return Recipient(
            key=str(delivery_id),
            email=email,
            name=name,
            substitutions=values,
            custom_args={DELIVERY_ARG: str(delivery_id)},
            headers=list_unsubscribe_headers(unsubscribe_url, mailto),
        )

    def _prepared(self, variant_id: int) -> PreparedVariant:
        with self._lock:
            found = self._variants.get(variant_id)
        if found is not None:
            return found
        with self.database.transaction() as session:
            variant = session.get(Variant, variant_id)
            assert variant is not None, f"variant {variant_id} vanished"
            campaign = session.get(Campaign, variant.campaign_id)
            assert campaign is not None
            prepared = self._prepare(campaign, variant)
        with self._lock:
            self._variants[variant_id] = prepared
        return prepared

    def _prepare(self, campaign: Campaign, variant: Variant) -> PreparedVariant:
        settings = self.settings
        tracking = tracking_plan(settings)
        placeholders = (
            PlaceholderTemplate(variant.subject).placeholders
            | PlaceholderTemplate(variant.html).placeholders
            | PlaceholderTemplate(variant.text).placeholders
        )
        message = message_from_us(
            settings,
            variant,
            categories=("newsletter", f"campaign-{campaign.id}", _category(variant.name)),
            track_opens=tracking.provider_opens,
            track_clicks=tracking.provider_clicks,
            custom_args={CAMPAIGN_ARG: str(campaign.id), VARIANT_ARG: str(variant.id)},
        )
        return PreparedVariant(
            message=message,
            placeholders=frozenset(placeholders),
            needed=frozenset(placeholders) | {UNSUBSCRIBE_URL},
            name_fallback=str(variant.options.get("name_fallback", "reader")),
            view_id=f"v{variant.id}",
        )


def _category(name: str) -> str:
    """A SendGrid category (printable ASCII, ≤ 255) naming the segment."""
    ascii_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:200] or "segment"
    return f"segment-{ascii_name}"

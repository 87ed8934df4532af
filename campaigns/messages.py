"""Turn a claim into a provider batch: the frozen variant once, each recipient's values.

Everything comes from the frozen variant row: content, and its envelope (sender, reply-to,
list headers, tracking flags, provider name; :mod:`campaigns.envelope`). The settings
give only what may not be stored: the signing key, and the provider's credentials and
hosts (through the :class:`~newsletter.delivery.factory.ProviderPool`). Per recipient this
computes only what the variant's placeholders need (signed URLs, a tracking token, the
first name), the list headers with their own one-click URL, and the ids that let provider
events find the delivery again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from campaigns.dispatch import Claim, ReadyBatch
from campaigns.envelope import Envelope
from campaigns.model import Variant
from newsletter.config import ProviderName, Settings
from newsletter.db import Database
from newsletter.deliverability.verp import ReturnPaths
from newsletter.delivery.base import Batch, Message, Recipient
from newsletter.delivery.factory import ProviderPool
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
    provider: ProviderName
    values: RecipientValues  # signs links under the variant's frozen public URL
    headers: tuple[tuple[str, PlaceholderTemplate], ...]  # the frozen list headers
    placeholders: frozenset[str]  # the message's own (``Message.placeholders``)
    needed: frozenset[str]  # the placeholders, and the unsubscribe URL for the header
    name_fallback: str
    view_id: str
    verp: bool  # SMTP and the outbox send from a return path naming the delivery


class CampaignBatchFactory:
    """:class:`~campaigns.dispatch.BatchFactory` for frozen campaign variants."""

    def __init__(self, database: Database, settings: Settings, providers: ProviderPool) -> None:
        self.database = database
        self.providers = providers
        self._signer = TokenSigner(settings.signing_key())
        self._return_paths = ReturnPaths.from_settings(settings)
        self._values: dict[str, RecipientValues] = {}
        self._variants: dict[int, PreparedVariant] = {}
        self._lock = threading.Lock()

    def batch(self, claim: Claim) -> ReadyBatch:
        """The claim's messages, and the provider its variant was frozen with (a
        ``ConfigurationError`` if this worker's settings cannot make that one)."""
        prepared = self._prepared(claim.variant_id)
        provider = self.providers.get(prepared.provider)
        recipients = [
            self._recipient(prepared, r.delivery_id, r.subscriber_uid, r.email, r.name)
            for r in claim.recipients
        ]
        return ReadyBatch(provider, Batch(prepared.message, recipients))

    def _recipient(
        self, prepared: PreparedVariant, delivery_id: int, uid: str, email: str, name: str | None
    ) -> Recipient:
        info = RecipientInfo(uid, name, view_id=prepared.view_id, tracking_id=str(delivery_id))
        values = prepared.values.values(info, prepared.needed, name_fallback=prepared.name_fallback)
        headers = {header: template.fill(values) for header, template in prepared.headers}
        if UNSUBSCRIBE_URL not in prepared.placeholders:
            values.pop(UNSUBSCRIBE_URL, None)  # needed for the header only
        return Recipient(
            key=str(delivery_id),
            email=email,
            name=name,
            substitutions=values,
            custom_args={DELIVERY_ARG: str(delivery_id)},
            headers=headers,
            return_path=(
                self._return_paths.address(delivery_id, prepared.message.from_email)
                if prepared.verp
                else None
            ),
        )

    def _prepared(self, variant_id: int) -> PreparedVariant:
        with self._lock:
            found = self._variants.get(variant_id)
        if found is not None:
            return found
        with self.database.transaction() as session:
            variant = session.get(Variant, variant_id)
            assert variant is not None, f"variant {variant_id} vanished"
            prepared = self._prepare(variant)
        with self._lock:
            self._variants[variant_id] = prepared
        return prepared

    def _prepare(self, variant: Variant) -> PreparedVariant:
        envelope = Envelope.from_json(variant.envelope, variant_id=variant.id)
        headers = tuple(
            (name, PlaceholderTemplate(value)) for name, value in envelope.list_headers.items()
        )
        message = envelope.message(
            variant,
            custom_args={CAMPAIGN_ARG: str(variant.campaign_id), VARIANT_ARG: str(variant.id)},
        )
        placeholders = message.placeholders  # found once, by the message
        return PreparedVariant(
            message=message,
            provider=envelope.provider,
            values=self._values_under(envelope.public_url),
            headers=headers,
            placeholders=placeholders,
            needed=placeholders.union(*(t.placeholders for _, t in headers)),
            name_fallback=str(variant.options.get("name_fallback", "reader")),
            view_id=f"v{variant.id}",
            verp=envelope.provider in ("smtp", "outbox"),
        )

    def _values_under(self, public_url: str) -> RecipientValues:
        """One :class:`RecipientValues` per frozen public URL (it caches signed view URLs)."""
        with self._lock:
            values = self._values.get(public_url)
            if values is None:
                values = self._values[public_url] = RecipientValues(self._signer, public_url)
            return values

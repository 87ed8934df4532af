"""A frozen variant's envelope: sender, reply-to, list headers, tracking and provider.

Freezing stores one with every variant (``campaign_variants.envelope``), decided from the
settings in force at that moment, and every batch of the variant is built from it alone: a
change of ``NEWSLETTER_FROM_EMAIL``, ``NEWSLETTER_TRACKING`` or ``NEWSLETTER_PROVIDER``
between freeze and dispatch changes nothing that was previewed. This module is the one
place that turns an :class:`Envelope` into the stored JSON and back.

What is *not* stored: secrets and where they lead (the SMTP URL, the SendGrid key and host,
the outbox folder). Only the provider's name is frozen; a worker builds that provider from
its own settings (:class:`newsletter.delivery.factory.ProviderPool`), because credentials
must never be written to the database. Nor are the rows' ids that travel as ``custom_args``
(campaign, variant, delivery): they are the rows' own and are added when a batch is built.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from newsletter.briefs.document import slugify
from newsletter.config import LIST_ID, ProviderName, Settings
from newsletter.delivery.base import EmailParts, Feature, Message, list_unsubscribe_headers
from newsletter.delivery.factory import features_of
from newsletter.errors import UnsupportedFeature
from newsletter.render.recipient import UNSUBSCRIBE_URL


class TrackingPlan(BaseModel):
    """Who tracks opens and clicks of a send: the provider, or we (pixel and redirects)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider_opens: bool = False
    provider_clicks: bool = False
    own_opens: bool = False
    own_clicks: bool = False


def tracking_plan(settings: Settings, provider: ProviderName | None = None) -> TrackingPlan:
    """What ``NEWSLETTER_TRACKING`` means for ``provider`` (by default the configured one).

    ``auto``: SendGrid tracks the opens of its sends (its events flag Apple's machine
    opens), and clicks always go through our own redirect, because a click must name its
    link: SendGrid reports only the URL, and the same source URL is usually in a brief
    twice (a citation and the sources line), so the brief, section and narrative of a
    click would be lost. SMTP and the outbox get our pixel too. ``provider`` and
    ``first-party`` give everything to one side (``provider`` asks the provider whatever it
    is: SMTP and the outbox cannot, see :func:`supported`); ``off`` tracks nothing.
    """
    sendgrid = (provider or settings.provider) == "sendgrid"
    if settings.tracking == "auto":
        return TrackingPlan(provider_opens=sendgrid, own_opens=not sendgrid, own_clicks=True)
    if settings.tracking == "provider":
        return TrackingPlan(provider_opens=True, provider_clicks=True)
    if settings.tracking == "first-party":
        return TrackingPlan(own_opens=True, own_clicks=True)
    return TrackingPlan()


class Envelope(BaseModel):
    """Everything around a variant's content that decides how its mail leaves.

    ``public_url`` is the base of each recipient's own links (unsubscribe, preferences,
    view online), so the URL in ``List-Unsubscribe`` is the one the body shows;
    ``list_headers`` are per-recipient header templates whose ``%%nl_unsubscribe_url%%``
    is filled with that recipient's signed URL.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: ProviderName
    from_email: str
    from_name: str | None = None
    reply_to: str | None = None
    public_url: str
    list_headers: Mapping[str, str]
    tracking: TrackingPlan
    categories: tuple[str, ...] = ()

    @property
    def features(self) -> frozenset[Feature]:
        """The options this envelope asks of its provider."""
        asked = {Feature.CATEGORIES} if self.categories else set()
        if self.tracking.provider_opens or self.tracking.provider_clicks:
            asked.add(Feature.TRACKING)
        return frozenset(asked)

    def message(self, parts: EmailParts, custom_args: Mapping[str, str]) -> Message:
        """The provider message every recipient of the variant shares."""
        return Message(
            subject=parts.subject,
            html=parts.html,
            text=parts.text,
            from_email=self.from_email,
            from_name=self.from_name,
            reply_to=self.reply_to,
            categories=self.categories,
            track_opens=self.tracking.provider_opens,
            track_clicks=self.tracking.provider_clicks,
            custom_args=custom_args,
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: object, *, variant_id: int) -> Envelope:
        """The stored envelope of variant ``variant_id``; a clear error if it is malformed."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'envelope'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(
                f"variant {variant_id}'s stored envelope is unusable: {problems}"
            ) from exc


def list_id(settings: Settings) -> str | None:
    """The List-Id (RFC 2919) of every campaign: ``NEWSLETTER_LIST_ID``, or the newsletter's
    name as a slug under the From address's domain (``the-briefing.example.org``); None when
    the From address has no domain to use."""
    if settings.list_id:
        return settings.list_id
    domain = settings.from_email.rpartition("@")[2].strip().lower().rstrip(".")
    label = slugify(settings.newsletter_name, max_length=60) or "newsletter"
    candidate = f"{label}.{domain}"
    if "@" not in settings.from_email or not LIST_ID.fullmatch(candidate):
        return None
    return candidate


def list_id_header(settings: Settings) -> dict[str, str]:
    """``List-Id: "The Briefing" <the-briefing.example.org>`` (the phrase only when it is plain
    printable ASCII, so the header needs no encoding); empty when no List-Id can be made."""
    value = list_id(settings)
    if value is None:
        return {}
    name = settings.newsletter_name
    plain = name.isascii() and name.isprintable() and not any(c in name for c in '"\\')
    return {"List-Id": f'"{name}" <{value}>' if plain and name.strip() else f"<{value}>"}


def supported(envelope: Envelope, ignore: Collection[str] = ()) -> Envelope:
    """The envelope as its provider can honour it.

    An option the provider cannot honour raises :class:`UnsupportedFeature`, unless
    ``ignore`` (``NEWSLETTER_IGNORE_UNSUPPORTED``) names it: it is then left out of the
    envelope, so what is frozen says what is really sent.
    """
    unsupported = envelope.features - features_of(envelope.provider)
    refused = unsupported.difference(ignore)
    if refused:
        raise UnsupportedFeature(envelope.provider, refused)
    if not unsupported:
        return envelope
    update: dict[str, Any] = {}
    if Feature.CATEGORIES in unsupported:
        update["categories"] = ()
    if Feature.TRACKING in unsupported:
        update["tracking"] = envelope.tracking.model_copy(
            update={"provider_opens": False, "provider_clicks": False}
        )
    return envelope.model_copy(update=update)


def envelope_for(settings: Settings, campaign_id: int, variant_name: str) -> Envelope:
    """The envelope a variant frozen now gets: the settings in force, decided once.

    Categories are our own labels for SendGrid's statistics, added only for a provider that
    keeps them (every provider carries the campaign's ids as custom args); an option the
    settings ask that the provider cannot honour raises :class:`UnsupportedFeature`.
    """
    labels = Feature.CATEGORIES in features_of(settings.provider)
    envelope = Envelope(
        provider=settings.provider,
        from_email=settings.from_email,
        from_name=settings.from_name,
        reply_to=settings.reply_to,
        public_url=settings.public_url,
        list_headers={
            **list_unsubscribe_headers(UNSUBSCRIBE_URL, settings.unsubscribe_mailto),
            **list_id_header(settings),
        },
        tracking=tracking_plan(settings),
        categories=(
            ("newsletter", f"campaign-{campaign_id}", segment_category(variant_name))
            if labels
            else ()
        ),
    )
    return supported(envelope, settings.ignore_unsupported)


def segment_category(name: str) -> str:
    """A SendGrid category (printable ASCII, ≤ 255) naming the segment."""
    ascii_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:200] or "segment"
    return f"segment-{ascii_name}"

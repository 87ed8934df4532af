"""Send a test (a proof) of one variant: marked as a test, untracked, nothing personal.

A test goes through the configured provider (the outbox by default) so the editors see it
as a reader's mail client shows it. It is compiled afresh with the test banner and a
"[TEST]" subject, without first-party tracking (a test's opens and clicks must count in no
report), and filled with sample values (:func:`campaigns.preview.sample_values`), so its
unsubscribe and preferences links lead nowhere. Only campaigns not yet frozen can be
tested: afterwards the preview shows what was sent, and a fresh compilation could differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from campaigns.model import Campaign
from campaigns.preview import preview_variant, sample_values
from campaigns.service import get_campaign
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.delivery.base import (
    Batch,
    Provider,
    Recipient,
    RecipientStatus,
    labels,
    message_from_us,
)
from newsletter.delivery.factory import make_provider
from newsletter.errors import ConflictError, InvalidInput
from newsletter.render.variant import CompiledVariant
from subscribers.addresses import Address, parse_address

_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class SentTest:
    variant: str
    subject: str
    provider: str
    sent: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]


def parse_test_addresses(text: str, limit: int, *, field: str = "addresses") -> list[str]:
    """Addresses separated by commas, semicolons, spaces or lines: valid, distinct, few."""
    found: dict[str, str] = {}
    for item in _SEPARATORS.split(text or ""):
        if item:
            address = _named(item, field)
            found.setdefault(address.key, address.email)
    if not found:
        raise InvalidInput(field, "give at least one address")
    if len(found) > limit:
        raise InvalidInput(field, f"a test goes to at most {limit} addresses")
    return list(found.values())


def _named(item: str, field: str) -> Address:
    """``item`` parsed, or refused with the item itself named (which of five was wrong)."""
    try:
        return parse_address(item, field=field, ascii_local_part=True)  # see capabilities
    except InvalidInput as exc:
        shown = item if len(item) <= 80 else item[:79] + "…"
        reasons = "; ".join(reason for _, reason in exc.problems)
        raise InvalidInput(field, f"“{shown}” {reasons}") from exc


def check_testable(campaign: Campaign) -> None:
    if campaign.frozen_at is not None:
        raise ConflictError(
            f"campaign {campaign.id} is frozen: its preview shows exactly what was sent, "
            "and a test compiled now could differ"
        )


def send_test(
    database: Database,
    settings: Settings,
    campaign_id: int,
    position: int,
    addresses: Sequence[str],
    *,
    provider: Provider | None = None,
) -> SentTest:
    """Compile variant ``position`` as a test and send it to ``addresses``.

    Raises ``RenderError`` if it does not compile and ``DeliveryError`` if the provider
    refuses the whole request; refusals of single recipients are in ``failed``.
    """
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        check_testable(campaign)
        email = preview_variant(session, campaign, settings, position, test_send=True)
    return send_proof(settings, email, addresses, provider=provider)


def send_proof(
    settings: Settings,
    email: CompiledVariant,
    addresses: Sequence[str],
    *,
    provider: Provider | None = None,
) -> SentTest:
    """Send an email compiled as a test to ``addresses``, filled with sample values (so its
    personal links lead nowhere); shared by campaign and welcome step tests."""
    values = sample_values(email)
    sender = provider or make_provider(settings)
    message = message_from_us(settings, email, categories=labels(sender, "newsletter-test"))
    recipients = [
        Recipient(key=str(n), email=address, substitutions=values)
        for n, address in enumerate(addresses)
    ]
    try:
        results = sender.send(Batch(message, recipients))
    finally:
        if provider is None:
            sender.close()
    by_key = {r.key: r for r in results}
    sent = tuple(
        a for n, a in enumerate(addresses) if by_key[str(n)].status == RecipientStatus.SENT
    )
    failed = tuple(
        (a, by_key[str(n)].error or "refused")
        for n, a in enumerate(addresses)
        if by_key[str(n)].status != RecipientStatus.SENT
    )
    return SentTest(email.name, email.subject, sender.name, sent, failed)

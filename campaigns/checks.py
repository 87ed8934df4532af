"""What must hold before a campaign starts, and the overrides editors record to pass a check.

Two kinds of refusal, both raised as :class:`StartRefused` when a campaign is scheduled or
sent now, and again when it starts (a scheduled start has no one to ask):

- **content**: a brief whose citation numbers point to no source. An editor may pass it
  on purpose, with a reason recorded on the campaign (:func:`record_override`); the record
  says who, when and why, so a start made later by the scheduler relies on that decision.
- **compliance**: mail through a real provider (smtp, sendgrid) needs a postal address in
  the footer, an https List-Unsubscribe URL and a List-Id. These cannot be overridden; the
  message names the setting to fix. The outbox writes to a local folder and is exempt, as
  are test set-ups that turn ``NEWSLETTER_COMPLIANCE_CHECKS`` off.
- **provider features**: an option the provider cannot honour (its own tracking through
  SMTP or the outbox) raises ``UnsupportedFeature`` unless ``NEWSLETTER_IGNORE_UNSUPPORTED``
  names it (:func:`campaigns.envelope.supported`).
- **authentication**: a DKIM key whose domain does not align with the From address (or
  half-configured DKIM) would sign every message with a signature DMARC does not count;
  refused for every provider that signs (SMTP and the outbox).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from campaigns.envelope import envelope_for, list_id
from campaigns.model import Campaign
from newsletter.briefs.document import Brief
from newsletter.config import Settings
from newsletter.db import utcnow
from newsletter.deliverability.dkim import alignment_problem
from newsletter.errors import ConflictError, InvalidInput

MAX_REASON = 500


class Check(StrEnum):
    """A check an editor may pass with a recorded reason."""

    UNSOURCED_CITATIONS = "unsourced-citations"
    DOMAIN_AUTHENTICATION = "domain-authentication"
    BROKEN_LINKS = "broken-links"
    COMPLAINT_RATE = "complaint-rate"


class StartRefused(ConflictError):
    """A campaign may not start (or be scheduled) as it is: the message says why and how."""


def record_override(campaign: Campaign, check: Check, reason: str, by: str) -> dict[str, Any]:
    """Record that ``by`` passes ``check`` on ``campaign`` because of ``reason``."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("reason", "is required to override a check: say why")
    if len(reason) > MAX_REASON:
        raise InvalidInput("reason", f"is longer than {MAX_REASON} characters")
    entry = {"check": str(check), "reason": reason, "by": by, "at": utcnow().isoformat()}
    campaign.overrides = [*campaign.overrides, entry]  # a new list: the JSON column sees it
    return entry


def overridden(campaign: Campaign, check: Check) -> bool:
    return any(entry.get("check") == check for entry in campaign.overrides or [])


def unsourced_citations(briefs: Iterable[Brief]) -> dict[str, list[int]]:
    """Per brief slug, the cited numbers that no source carries (briefs without any left out)."""
    return {b.slug: b.unsourced_citations for b in briefs if b.unsourced_citations}


def content_problem(campaign: Campaign, briefs: Iterable[Brief]) -> str | None:
    """Why the briefs may not go out as they are, unless an override is recorded."""
    found = unsourced_citations(briefs)
    if not found or overridden(campaign, Check.UNSOURCED_CITATIONS):
        return None
    listed = "; ".join(
        f"{slug} cites {', '.join(f'[{n}]' for n in numbers)}" for slug, numbers in found.items()
    )
    return (
        f"campaign {campaign.id} has citations that point to no source ({listed}): fix the "
        f"briefs, leave them out, or override '{Check.UNSOURCED_CITATIONS}' with a reason"
    )


def compliance_problems(settings: Settings) -> list[str]:
    """What bulk-mail rules the settings break for their provider (none for the outbox)."""
    if settings.provider == "outbox" or not settings.compliance_checks:
        return []
    problems = []
    if not (settings.postal_address or "").strip():
        problems.append(
            "no postal address for the footer (bulk-mail law): set NEWSLETTER_POSTAL_ADDRESS"
        )
    if not settings.public_url.startswith("https://"):
        problems.append(
            f"the List-Unsubscribe URL would be {settings.public_url}/…, not https "
            "(Gmail and Yahoo ignore it): set NEWSLETTER_PUBLIC_URL to the https address"
        )
    if list_id(settings) is None:
        problems.append(
            f"no List-Id can be made from the From address {settings.from_email!r}: "
            "set NEWSLETTER_LIST_ID (e.g. briefing.example.org)"
        )
    return problems


def sending_problems(settings: Settings) -> list[str]:
    """The bulk-mail rules broken (:func:`compliance_problems`) and a DKIM domain the From
    address does not align with: what no override lets a campaign start with."""
    problems = compliance_problems(settings)
    dkim_problem = alignment_problem(settings)
    return [*problems, dkim_problem] if dkim_problem else problems


def require_startable(campaign: Campaign, briefs: Iterable[Brief], settings: Settings) -> None:
    """Raise :class:`StartRefused` if ``campaign`` may not start now with ``settings``, and
    ``UnsupportedFeature`` if its provider cannot honour what the settings ask of it."""
    envelope_for(settings, campaign.id, "")  # raises UnsupportedFeature
    problems = sending_problems(settings)
    if problems:
        raise StartRefused(
            f"campaign {campaign.id} cannot be sent through {settings.provider}: "
            + "; ".join(problems)
        )
    problem = content_problem(campaign, briefs)
    if problem:
        raise StartRefused(problem)

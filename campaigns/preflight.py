"""Every check that should pass before an issue goes to readers, run in one place.

``newsletter campaigns check ID`` and the editor's confirmation page show the whole list;
sending or scheduling through a real provider (smtp, sendgrid) is refused while a check
*fails*, unless it is one an editor may pass and a reason is recorded on the campaign
(:func:`campaigns.checks.record_override`). Warnings are shown, never blocking. The outbox
writes to a local folder and is not held back, and test set-ups may turn the checks off
(``NEWSLETTER_COMPLIANCE_CHECKS``), as for the start-time checks of :mod:`campaigns.checks`.

The checks:

- **citations**: a brief cites a number no source carries (fail; may be overridden);
- **freshness**: a brief last updated before the issue's week and its grace (warn);
- **compliance**: postal address, https one-click unsubscribe, List-Id, DKIM alignment
  (fail; the law and the big mailbox providers: no override);
- **domain**: SPF, DKIM, DMARC, MX and PTR of the sending domain
  (:mod:`newsletter.deliverability.dns_check`; fail may be overridden);
- **size**: a variant past Gmail's clip has briefs sent as links (warn);
- **links** and **images**: each distinct URL asked once (:mod:`campaigns.linkcheck`):
  broken ones fail (may be overridden), ones that refuse robots warn;
- **complaints**: the last sent campaigns' complaint rate against Gmail's 0.3 % line
  (fail from it, may be overridden; warn from 0.1 %; :mod:`campaigns.health`);
- **subject test**: a campaign with one (:mod:`campaigns.subject_tests`) whose cells would
  have fewer recipients than ``NEWSLETTER_SUBJECT_TEST_MIN_CELL`` (fail, no override: the
  freeze refuses it too, on the exact cells).

Inputs are read in one short transaction; DNS and HTTP run after it, so no database
transaction waits on the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from campaigns.audience import audience
from campaigns.checks import (
    Check,
    StartRefused,
    sending_problems,
    unsourced_citations,
)
from campaigns.digest import window_start
from campaigns.freeze import compile_campaign
from campaigns.health_lines import Level, complaint_verdict
from campaigns.linkcheck import Verdict, check_urls
from campaigns.model import Campaign
from campaigns.reports import started_campaigns
from campaigns.service import campaign_briefs, get_campaign
from campaigns.states import CampaignStatus
from campaigns.subject_tests import has_test
from campaigns.weeks import IsoWeek
from newsletter.briefs.document import Brief
from newsletter.config import Settings
from newsletter.db import Database
from newsletter.deliverability.dns_check import Status, check_domain
from newsletter.errors import NewsletterError

RECENT_CAMPAIGNS = 3
REFUSAL_DETAILS = 5  # a refusal names this many of a check's findings (which links …)
REAL_PROVIDERS = frozenset({"smtp", "sendgrid"})


@dataclass(frozen=True)
class PreflightItem:
    """One check's verdict; ``override`` names the check an editor may pass, if any."""

    check: str
    status: Status
    summary: str
    details: tuple[str, ...] = ()
    override: Check | None = None
    overridden: bool = False

    @property
    def blocking(self) -> bool:
        return self.status is Status.FAIL and not self.overridden


@dataclass(frozen=True)
class PreflightReport:
    campaign_id: int
    provider: str
    enforced: bool
    items: tuple[PreflightItem, ...]

    @property
    def blocking(self) -> tuple[PreflightItem, ...]:
        """The failures that hold a send back (none when the checks are not enforced)."""
        return tuple(i for i in self.items if i.blocking) if self.enforced else ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "provider": self.provider,
            "enforced": self.enforced,
            "blocked": bool(self.blocking),
            "items": [{**asdict(i), "blocking": i.blocking} for i in self.items],
        }


@dataclass
class _Inputs:
    """What the checks need from the database, read in one transaction."""

    campaign_id: int
    overrides: set[str]
    briefs: list[Brief]
    since: date
    variants: list[tuple[str, int, list[str]]]  # name, size, briefs sent as links
    urls: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    complaints: list[tuple[str, int, int]] = field(default_factory=list)  # name, complained, base
    test_cells: tuple[int, int] | None = None  # a subject test's cells, recipients in each


def enforced(settings: Settings) -> bool:
    """Whether failures hold a send back: real providers, checks not turned off."""
    return settings.provider in REAL_PROVIDERS and settings.compliance_checks


def run_preflight(database: Database, campaign_id: int, settings: Settings) -> PreflightReport:
    """Every check for the campaign as it would be sent now with ``settings``."""
    inputs = _read_inputs(database, campaign_id, settings)
    items = [
        _citations(inputs),
        _freshness(inputs),
        _compliance(settings),
        _domain(settings),
        _size(inputs),
        *_links(inputs, settings),
        _complaints(inputs),
        *_subject_test(inputs, settings),
    ]
    marked = tuple(
        replace(i, overridden=i.override is not None and i.override in inputs.overrides)
        for i in items
    )
    return PreflightReport(campaign_id, settings.provider, enforced(settings), marked)


def require_preflight(database: Database, campaign_id: int, settings: Settings) -> None:
    """Raise :class:`StartRefused` naming every blocking failure (no-op when not enforced)."""
    if not enforced(settings):
        return
    with database.transaction() as session:
        if get_campaign(session, campaign_id).frozen_at is not None:
            return  # started already: resuming it checks nothing again
    report = run_preflight(database, campaign_id, settings)
    if report.blocking:
        raise StartRefused(refusal(report))


def refusal(report: PreflightReport) -> str:
    """Why a send is held back, and how to pass each failure that may be passed."""
    lines = [f"campaign {report.campaign_id} did not pass its pre-send checks:"]
    for item in report.blocking:
        how = f" (override '{item.override}' with a reason)" if item.override else ""
        lines.append(f"- {item.check}: {item.summary}{how}")
        lines += [f"  {detail}" for detail in item.details[:REFUSAL_DETAILS]]
        if len(item.details) > REFUSAL_DETAILS:
            lines.append(f"  … and {len(item.details) - REFUSAL_DETAILS} more")
    return "\n".join(lines)


# --- reading ---------------------------------------------------------------------------


def _read_inputs(database: Database, campaign_id: int, settings: Settings) -> _Inputs:
    with database.transaction() as session:
        campaign = get_campaign(session, campaign_id)
        briefs = campaign_briefs(session, campaign)
        compiled = compile_campaign(session, campaign, settings, briefs=briefs)
        inputs = _Inputs(
            campaign_id=campaign.id,
            overrides={str(e.get("check")) for e in campaign.overrides or []},
            briefs=briefs,
            since=_fresh_since(campaign, settings),
            variants=[(name, v.size_bytes, list(v.online_slugs)) for name, _, _, _, v in compiled],
        )
        for *_, variant in compiled:
            inputs.urls += [link.url for link in variant.links if _outside(link.url, settings)]
        inputs.images = [str(b.image_url) for b in briefs if b.image_url]
        if has_test(campaign) and campaign.test_share is not None:
            readers = sum(segment.recipients for segment in audience(session, campaign))
            cells = len(campaign.subject_candidates) + 1
            inputs.test_cells = (cells, int(readers * campaign.test_share))
        recent = [s for s in started_campaigns(session) if s.status == CampaignStatus.SENT]
        inputs.complaints = [
            (s.name, s.totals.complained, s.totals.base)
            for s in recent[:RECENT_CAMPAIGNS]
            if s.campaign_id != campaign.id
        ]
    return inputs


def _outside(url: str, settings: Settings) -> bool:
    """A web address of someone else's (ours and placeholders are not asked)."""
    own = settings.public_url.rstrip("/") + "/"
    return url.startswith(("http://", "https://")) and not url.startswith(own)


def _fresh_since(campaign: Campaign, settings: Settings) -> date:
    """The oldest update a brief of this issue may carry without a warning."""
    if campaign.digest_week:
        return window_start(IsoWeek.parse(campaign.digest_week), settings.digest_grace_days)
    return campaign.issue_date - timedelta(days=7 + settings.digest_grace_days)


# --- the checks ------------------------------------------------------------------------


def _citations(inputs: _Inputs) -> PreflightItem:
    found = unsourced_citations(inputs.briefs)
    if not found:
        return PreflightItem("citations", Status.PASS, "every citation points to a source")
    details = tuple(f"{slug} cites {', '.join(f'[{n}]' for n in ns)}" for slug, ns in found.items())
    summary = f"{len(found)} brief(s) cite numbers no source carries"
    return PreflightItem("citations", Status.FAIL, summary, details, Check.UNSOURCED_CITATIONS)


def _freshness(inputs: _Inputs) -> PreflightItem:
    stale = [b for b in inputs.briefs if b.updated < inputs.since]
    if not stale:
        return PreflightItem("freshness", Status.PASS, f"every brief updated since {inputs.since}")
    details = tuple(f"{b.slug}: updated {b.updated}" for b in stale)
    summary = f"{len(stale)} brief(s) last updated before {inputs.since}"
    return PreflightItem("freshness", Status.WARN, summary, details)


def _compliance(settings: Settings) -> PreflightItem:
    if settings.provider not in REAL_PROVIDERS:
        return PreflightItem("compliance", Status.PASS, "the outbox sends to no one")
    problems = sending_problems(settings)
    if not problems:
        return PreflightItem(
            "compliance", Status.PASS, "postal address, https unsubscribe, List-Id"
        )
    return PreflightItem("compliance", Status.FAIL, "bulk-mail rules not met", tuple(problems))


def _domain(settings: Settings) -> PreflightItem:
    if settings.provider not in REAL_PROVIDERS:
        return PreflightItem("domain", Status.PASS, "not needed for the outbox")
    try:
        report = check_domain(settings)
    except NewsletterError as exc:
        return PreflightItem("domain", Status.FAIL, str(exc), override=Check.DOMAIN_AUTHENTICATION)
    worst = _worst(f.status for f in report.findings)
    details = tuple(
        f"{f.check} {f.name}: {f.detail}" + (f" — publish: {f.fix}" if f.fix else "")
        for f in report.findings
        if f.status is not Status.PASS
    )
    summary = f"{report.domain}: " + (
        "SPF, DKIM, DMARC, MX and PTR pass" if worst is Status.PASS else f"{len(details)} to fix"
    )
    override = Check.DOMAIN_AUTHENTICATION if worst is Status.FAIL else None
    return PreflightItem("domain", worst, summary, details, override)


def _size(inputs: _Inputs) -> PreflightItem:
    clipped = [(name, links) for name, _, links in inputs.variants if links]
    largest = max((size for _, size, _ in inputs.variants), default=0)
    if not clipped:
        return PreflightItem(
            "size", Status.PASS, f"every variant whole (largest {largest / 1000:.0f} KB)"
        )
    details = tuple(f"{name}: {', '.join(links)} sent as links" for name, links in clipped)
    summary = f"{len(clipped)} variant(s) past the clip budget send briefs as links"
    return PreflightItem("size", Status.WARN, summary, details)


def _links(inputs: _Inputs, settings: Settings) -> list[PreflightItem]:
    return [
        _urls_item("links", inputs.urls, settings),
        _urls_item("images", inputs.images, settings),
    ]


def _urls_item(check: str, urls: Sequence[str], settings: Settings) -> PreflightItem:
    if not urls:
        return PreflightItem(check, Status.PASS, f"no {check} to check")
    problems, unchecked = check_urls(
        urls,
        timeout=settings.link_check_timeout,
        concurrency=settings.link_check_concurrency,
        limit=settings.link_check_limit,
    )
    broken = [p for p in problems if p.verdict is Verdict.BROKEN]
    details = tuple(f"{p.url}: {p.why}" for p in problems)
    if unchecked:
        details += (f"{unchecked} more not checked (NEWSLETTER_LINK_CHECK_LIMIT)",)
    distinct = len(set(urls))
    if broken:
        summary = f"{len(broken)} of {distinct} broken"
        return PreflightItem(check, Status.FAIL, summary, details, Check.BROKEN_LINKS)
    if problems or unchecked:
        return PreflightItem(check, Status.WARN, f"{len(problems)} of {distinct} doubtful", details)
    return PreflightItem(check, Status.PASS, f"all {distinct} answer")


def _complaints(inputs: _Inputs) -> PreflightItem:
    complained = sum(c for _, c, _ in inputs.complaints)
    base = sum(b for _, _, b in inputs.complaints)
    if not base:
        return PreflightItem("complaints", Status.PASS, "no sent campaign to judge by")
    rate = complained / base
    summary = f"{rate:.2%} of {base:,} recipients of the last {len(inputs.complaints)} complained"
    details = tuple(f"{name}: {c} of {b:,}" for name, c, b in inputs.complaints)
    level = complaint_verdict(rate).level
    if level is Level.OVER:
        return PreflightItem("complaints", Status.FAIL, summary, details, Check.COMPLAINT_RATE)
    if level is Level.WARNING:
        return PreflightItem("complaints", Status.WARN, summary, details)
    return PreflightItem("complaints", Status.PASS, summary)


def _subject_test(inputs: _Inputs, settings: Settings) -> list[PreflightItem]:
    if inputs.test_cells is None:
        return []
    cells, each = inputs.test_cells
    floor = settings.subject_test_min_cell
    summary = f"{cells} subjects, about {each:,} recipients per test cell"
    if each < floor:
        return [
            PreflightItem(
                "subject test",
                Status.FAIL,
                f"{summary}: under NEWSLETTER_SUBJECT_TEST_MIN_CELL ({floor:,})",
                ("raise the share per cell, or send without a test",),
            )
        ]
    return [PreflightItem("subject test", Status.PASS, summary)]


def _worst(statuses: Iterable[Status]) -> Status:
    order: Callable[[Status], int] = [Status.PASS, Status.WARN, Status.FAIL].index
    return max(statuses, key=order, default=Status.PASS)

"""Campaign reports: what happened to a campaign, per segment, per brief and per narrative.

:func:`campaign_report` returns a :class:`CampaignReport`, plain frozen dataclasses of
numbers and strings that a page, the CLI or a JSON client render as they like
(:meth:`CampaignReport.as_dict` is the JSON form; :mod:`campaigns.charts` draws it).
:func:`started_campaigns` gives the same totals for every campaign that has started sending.

Definitions, so every screen means the same thing:

- ``recipients`` are the campaign's delivery rows; ``sent`` those the provider accepted;
  ``failed``, ``unknown`` (outcome not known: see DESIGN.md), ``skipped`` and ``pending``
  (queued or in flight) the rest. ``resent_after_unknown`` counts, among all of them, the
  recipients whose outcome was unknown with no evidence and who were queued again after the
  quarantine (:mod:`campaigns.unknowns`).
- Event figures count *deliveries*, not events: ``opened`` is the number of recipients
  with at least one human open *or a human click*: a click proves the mail was opened, even
  when the client showed no images and so sent no open (``opens`` counts every human open
  event); ``clicked`` likewise, so ``clicked <= opened`` and click-to-open is at most 100 %.
  Clicks on our own links (view online, preferences, unsubscribe) count in no click figure.
  Machine opens and clicks (see :mod:`campaigns.machines`) are counted apart and prove
  nothing: ``machine_opened`` are recipients whose every open was a machine's and who did
  not click.
- Rates divide by ``delivered`` when the provider reports deliveries (SendGrid), else by
  ``sent`` (SMTP and the outbox know no more); ``rate_base`` says which. A rate is
  ``None`` when its base is zero.
- ``health`` judges the totals' bounce rate (of sent) and complaint rate against the lines of
  :mod:`campaigns.health_lines` (Gmail's 0.1 % and 0.3 % for complaints).
- Per brief and per narrative: human clicks on the links of that brief (or narrative),
  and how many recipients clicked them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from campaigns.health_lines import Health, health_of
from campaigns.linkmap import LinkInfo, link_info
from campaigns.model import Campaign, Variant
from campaigns.rollups import (
    CAMPAIGN_TALLIES,
    FIGURES,
    NARRATIVE_SEPARATOR,
    VARIANT_DELIVERIES,
    VARIANT_ROLLUPS,
)
from campaigns.service import get_campaign
from campaigns.states import DeliveryStatus
from campaigns.subject_tests import SubjectTestReport, subject_test_report
from newsletter.briefs.model import BriefRow
from newsletter.db import utcnow
from subscribers.directory import lapsed_count

RateBase = Literal["delivered", "sent"]
PROVIDERS_REPORTING_DELIVERY = frozenset({"sendgrid"})


@dataclass(frozen=True)
class Figures:
    """The numbers of one segment, or of the whole campaign."""

    recipients: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    pending: int = 0
    resent_after_unknown: int = 0
    delivered: int = 0
    bounced: int = 0
    hard_bounced: int = 0
    soft_bounced: int = 0
    dropped: int = 0
    deferred: int = 0
    opened: int = 0
    opens: int = 0
    machine_opened: int = 0
    clicked: int = 0
    clicks: int = 0
    machine_clicks: int = 0
    unsubscribed: int = 0
    complained: int = 0
    rate_base: RateBase = "sent"
    delivery_rate: float | None = None
    bounce_rate: float | None = None
    open_rate: float | None = None
    click_rate: float | None = None
    click_to_open_rate: float | None = None
    unsubscribe_rate: float | None = None
    complaint_rate: float | None = None

    @property
    def base(self) -> int:
        return self.delivered if self.rate_base == "delivered" else self.sent

    def with_rates(self) -> Figures:
        """These figures with every rate computed from the counts."""
        base = self.base
        reported = self.rate_base == "delivered"
        return dataclasses.replace(
            self,
            delivery_rate=_ratio(self.delivered, self.sent) if reported else None,
            bounce_rate=_ratio(self.bounced, self.sent),
            open_rate=_ratio(self.opened, base),
            click_rate=_ratio(self.clicked, base),
            click_to_open_rate=_ratio(self.clicked, self.opened),
            unsubscribe_rate=_ratio(self.unsubscribed, base),
            complaint_rate=_ratio(self.complained, base),
        )


def _ratio(part: int, whole: int) -> float | None:
    return None if whole <= 0 else part / whole


@dataclass(frozen=True)
class SegmentReport:
    """One segment: the figures of all its variants added up (``variant_id`` and ``subject``
    are its own variant's, the one readers without choices of their own were sent)."""

    variant_id: int
    segment: str
    subject: str
    figures: Figures


@dataclass(frozen=True)
class ChoiceReport:
    """One variant: its segment, the readers' choice it was compiled for (``narratives`` and
    ``topics`` ``None`` for the segment's own variant) and its figures."""

    variant_id: int
    segment: str
    variant: str
    narratives: str | None
    topics: tuple[str, ...] | None
    subject: str
    figures: Figures


@dataclass(frozen=True)
class BriefClicks:
    brief_slug: str
    title: str | None
    clicks: int
    clickers: int


@dataclass(frozen=True)
class NarrativeClicks:
    brief_slug: str
    narrative: str
    clicks: int
    clickers: int


@dataclass(frozen=True)
class LinkClicks:
    """A link and its human clicks; ``link_id`` is ``None`` for clicks on a URL that is in
    no link table (SendGrid reported a URL we did not send, e.g. rewritten by a client)."""

    link_id: str | None
    url: str
    section: str | None
    brief_slug: str | None
    narrative: str | None
    clicks: int
    clickers: int


@dataclass(frozen=True)
class CampaignReport:
    """Everything known about one campaign's sending and its readers' response."""

    campaign_id: int
    name: str
    status: str
    provider: str | None
    issue_date: date
    started_at: datetime | None
    finished_at: datetime | None
    generated_at: datetime
    tracks_opens: bool
    tracks_clicks: bool
    totals: Figures
    segments: tuple[SegmentReport, ...]
    choices: tuple[ChoiceReport, ...]
    briefs: tuple[BriefClicks, ...]
    narratives: tuple[NarrativeClicks, ...]
    top_links: tuple[LinkClicks, ...]
    machine_events: dict[str, int]
    lapsed_readers: int  # the list now (not this campaign): readers the sunset policy stopped
    health: Health  # the totals' bounce and complaint rates against their lines
    subject_test: SubjectTestReport | None = None  # each cell's clicks, and the outcome

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (times in ISO 8601)."""
        data: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


# --- building it -------------------------------------------------------------------------


def campaign_report(session: Session, campaign_id: int, *, top_links: int = 10) -> CampaignReport:
    """The report of one campaign (:class:`NotFoundError` if there is none)."""
    campaign = get_campaign(session, campaign_id)
    variants = list(
        session.scalars(
            select(Variant).where(Variant.campaign_id == campaign_id).order_by(Variant.position)
        )
    )
    base = _rate_base(campaign.provider)
    counts = _delivery_counts(session, [campaign_id])
    events = _event_counts(session, [campaign_id])
    per_variant = {
        v.id: Figures(**counts.get(v.id, {}), **events.get(v.id, {}), rate_base=base).with_rates()
        for v in variants
    }
    totals = sum_figures(per_variant.values(), base)
    links = _links(variants)
    return CampaignReport(
        campaign_id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        provider=campaign.provider,
        issue_date=campaign.issue_date,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
        generated_at=utcnow(),
        tracks_opens=any(v.track_opens for v in variants),
        tracks_clicks=any(v.track_clicks for v in variants),
        totals=totals,
        segments=_by_segment(variants, per_variant, base),
        choices=tuple(_choice_report(v, per_variant[v.id]) for v in variants),
        briefs=_brief_clicks(session, campaign_id, [b.brief_id for b in campaign.briefs]),
        narratives=_narrative_clicks(session, campaign_id, links.values()),
        top_links=_top_links(session, campaign_id, links, top_links),
        machine_events=_machine_events(session, campaign_id),
        lapsed_readers=lapsed_count(session),
        health=health_of(totals),
        subject_test=subject_test_report(session, campaign),
    )


@dataclass(frozen=True)
class CampaignSummary:
    """A campaign whose sending has started, with the totals its report would show."""

    campaign_id: int
    name: str
    status: str
    issue_date: date
    started_at: datetime | None
    finished_at: datetime | None
    totals: Figures


def started_campaigns(
    session: Session,
    *,
    limit: int | None = None,
    since: datetime | None = None,
    offset: int = 0,
) -> list[CampaignSummary]:
    """Every campaign whose sending has started (the ``limit`` latest after skipping
    ``offset``, those started at or after ``since``), newest first, with its totals.

    The totals are those of :func:`campaign_report`, counted for all campaigns at once
    (a few queries of the counters, no variant's HTML loaded): their cost is that of the
    campaigns listed, whatever else was sent; ``limit`` and ``since`` bound them.
    """
    query = (
        select(
            Campaign.id,
            Campaign.name,
            Campaign.status,
            Campaign.issue_date,
            Campaign.started_at,
            Campaign.finished_at,
            Campaign.provider,
        )
        .where(Campaign.started_at.is_not(None))
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
        .offset(offset)
        .limit(limit)
    )
    if since is not None:
        query = query.where(Campaign.started_at >= since)
    found = session.execute(query).all()
    ids = [row.id for row in found]
    variants: dict[int, list[int]] = {}
    for variant_id, campaign_id in session.execute(
        select(Variant.id, Variant.campaign_id).where(Variant.campaign_id.in_(ids))
    ):
        variants.setdefault(campaign_id, []).append(variant_id)
    counts, events = _delivery_counts(session, ids), _event_counts(session, ids)
    summaries = []
    for campaign_id, name, status, issue_date, started_at, finished_at, provider in found:
        base = _rate_base(provider)
        figures = (
            Figures(**counts.get(v, {}), **events.get(v, {}), rate_base=base)
            for v in variants.get(campaign_id, [])
        )
        summaries.append(
            CampaignSummary(
                campaign_id,
                name,
                status,
                issue_date,
                started_at,
                finished_at,
                sum_figures(figures, base),
            )
        )
    return summaries


def _rate_base(provider: str | None) -> RateBase:
    return "delivered" if provider in PROVIDERS_REPORTING_DELIVERY else "sent"


_STATUS_FIGURE: dict[str, str] = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.UNKNOWN: "unknown",
    DeliveryStatus.SKIPPED: "skipped",
    DeliveryStatus.QUEUED: "pending",
    DeliveryStatus.SENDING: "pending",
}


def _delivery_counts(session: Session, campaign_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Per variant of these campaigns: recipients and deliveries by figure (the counts the
    database keeps as deliveries are written, :class:`campaigns.rollups.VariantDeliveries`)."""
    found: dict[int, dict[str, int]] = {}
    for variant_id, status, count, resent in session.execute(_delivery_query(campaign_ids)):
        figures = found.setdefault(variant_id, {"recipients": 0, "resent_after_unknown": 0})
        figures["recipients"] += count
        figures["resent_after_unknown"] += resent
        name = _STATUS_FIGURE[status]
        figures[name] = figures.get(name, 0) + count
    return found


def _delivery_query(campaign_ids: Collection[int]) -> Select[Any]:
    table = VARIANT_DELIVERIES.c
    return select(table.variant_id, table.status, table.deliveries, table.resent).where(
        table.campaign_id.in_(campaign_ids), table.deliveries > 0
    )


def _variant_figures(campaign_ids: Collection[int]) -> Select[Any]:
    table = VARIANT_ROLLUPS.c
    return select(table.variant_id, *(table[name] for name in FIGURES)).where(
        table.campaign_id.in_(campaign_ids)
    )


def _tally_query(campaign_id: int, kind: str) -> Select[Any]:
    table = CAMPAIGN_TALLIES.c
    return select(table.key, table.total, table.readers).where(
        table.campaign_id == campaign_id, table.kind == kind
    )


def report_queries(campaign_id: int) -> list[tuple[Select[Any], str]]:
    """The queries a report reads its event figures with, and the table each reads (for
    the plan test: each must find its rows by the table's key, and read no event)."""
    kinds = ("brief", "narrative", "link", "url", "machine")
    return [
        (_variant_figures([campaign_id]), "variant_rollups"),
        (_delivery_query([campaign_id]), "variant_deliveries"),
        *((_tally_query(campaign_id, kind), "campaign_tallies") for kind in kinds),
    ]


def _event_counts(session: Session, campaign_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Per variant of these campaigns: the event figures kept at ingest
    (:mod:`campaigns.rollups`: how many deliveries had each kind of event, a reader's click
    counting as an open, and the human open and click totals)."""
    rows = session.execute(_variant_figures(campaign_ids))
    return {
        variant_id: dict(zip(FIGURES, map(int, values), strict=True))
        for variant_id, *values in rows
    }


def sum_figures(figures: Iterable[Figures], base: RateBase) -> Figures:
    """Campaign totals: every delivery belongs to one variant, so counts simply add up."""
    totals: dict[str, int] = {}
    for one in figures:
        for field in dataclasses.fields(Figures):
            value = getattr(one, field.name)
            if isinstance(value, int) and not isinstance(value, bool):
                totals[field.name] = totals.get(field.name, 0) + value
    return Figures(**totals, rate_base=base).with_rates()


def segment_of(variant: Variant) -> str:
    """The segment a variant belongs to: its own name, or the one its choice was made in."""
    return str(variant.choice["segment"]) if variant.choice else variant.name


def _by_segment(
    variants: list[Variant], per_variant: dict[int, Figures], base: RateBase
) -> tuple[SegmentReport, ...]:
    """Per segment, in match order, with its own variant's id and subject (own variants
    come before the ones readers' choices added)."""
    heads: dict[str, Variant] = {}
    members: dict[str, list[Figures]] = {}
    for variant in variants:
        name = segment_of(variant)
        heads.setdefault(name, variant)
        members.setdefault(name, []).append(per_variant[variant.id])
    return tuple(
        SegmentReport(heads[name].id, name, heads[name].subject, sum_figures(figures, base))
        for name, figures in members.items()
    )


def _choice_report(variant: Variant, figures: Figures) -> ChoiceReport:
    choice = variant.choice or {}
    topics = choice.get("topics")
    return ChoiceReport(
        variant.id,
        segment_of(variant),
        variant.name,
        choice.get("narratives"),
        tuple(topics) if topics is not None else None,
        variant.subject,
        figures,
    )


def _links(variants: Iterable[Variant]) -> dict[str, LinkInfo]:
    """Every link of the campaign by id (a link has the same id in every variant)."""
    found: dict[str, LinkInfo] = {}
    for variant in variants:
        for link in map(link_info, variant.links):
            found.setdefault(str(link.link_id), link)
    return found


def _tallies(session: Session, campaign_id: int, kind: str) -> dict[str, tuple[int, int]]:
    """``{key: (total, readers)}`` of one kind of the campaign's tallies."""
    rows = session.execute(_tally_query(campaign_id, kind))
    return {str(key): (int(total), int(readers)) for key, total, readers in rows}


def _brief_clicks(
    session: Session, campaign_id: int, brief_ids: list[int]
) -> tuple[BriefClicks, ...]:
    """Every brief of the campaign in its order (clicked or not), then any other clicked."""
    rows = session.execute(
        select(BriefRow.id, BriefRow.slug, BriefRow.title).where(BriefRow.id.in_(brief_ids))
    ).all()
    slug_of = {brief_id: slug for brief_id, slug, _ in rows}
    titles = {slug: title for _, slug, title in rows}
    clicks = _tallies(session, campaign_id, "brief")
    slugs = [slug_of[i] for i in brief_ids if i in slug_of]
    slugs += sorted(set(clicks) - set(slugs))
    return tuple(BriefClicks(slug, titles.get(slug), *clicks.get(slug, (0, 0))) for slug in slugs)


def _narrative_clicks(
    session: Session, campaign_id: int, links: Iterable[LinkInfo]
) -> tuple[NarrativeClicks, ...]:
    """Every narrative with a link in the campaign (clicked or not), by brief and label."""
    clicks: dict[tuple[str, str], tuple[int, int]] = {}
    for key, counts in _tallies(session, campaign_id, "narrative").items():
        slug, _, narrative = key.partition(NARRATIVE_SEPARATOR)
        clicks[(slug, narrative)] = counts
    known = {
        (str(link.brief_slug), str(link.narrative))
        for link in links
        if link.brief_slug and link.narrative
    }
    return tuple(
        NarrativeClicks(slug, narrative, *clicks.get((slug, narrative), (0, 0)))
        for slug, narrative in sorted(known | set(clicks))
    )


def _top_links(
    session: Session, campaign_id: int, links: Mapping[str, LinkInfo], limit: int
) -> tuple[LinkClicks, ...]:
    found: list[LinkClicks] = []
    for link_id, (total, clickers) in _tallies(session, campaign_id, "link").items():
        info = links.get(link_id)
        found.append(
            LinkClicks(
                link_id,
                info.url if info else "",
                info.section if info else None,
                info.brief_slug if info else None,
                info.narrative if info else None,
                total,
                clickers,
            )
        )
    for url, (total, clickers) in _tallies(session, campaign_id, "url").items():
        found.append(LinkClicks(None, url, None, None, None, total, clickers))
    found.sort(key=lambda link: (-link.clicks, -link.clickers, link.url))
    return tuple(found[:limit])


def _machine_events(session: Session, campaign_id: int) -> dict[str, int]:
    """Machine opens and clicks by why they were judged so (``opened:machine-open`` …)."""
    tallies = _tallies(session, campaign_id, "machine")
    return {key: total for key, (total, _) in sorted(tallies.items())}
